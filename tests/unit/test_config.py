"""config: environment -> typed, frozen Config; every problem named with its variable."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgw_provisioner.config import (
    REQUIRED,
    SETTINGS,
    Config,
    ConfigError,
    Endpoint,
    load,
    parse_endpoint,
)

BASE = {
    "SUCCESS_DESTINATION": "acs:mns:cn-shanghai:123:/topics/ok",
    "FAILURE_DESTINATION": "acs:mns:::/queues/bad/messages",
}


def test_defaults():
    config = load(BASE)
    assert config.max_attempts == 8
    assert config.batch_concurrency == 10
    assert config.adopt_existing is True
    assert config.log_level == "INFO"
    assert config.retry_policy == "share-limiter"
    assert (config.vpc_endpoint, config.mns_endpoint, config.fc_endpoint) == (None, None, None)
    assert config.success_destination.kind == "mns-topic"
    assert config.failure_destination.kind == "mns-queue"


@pytest.mark.parametrize("value", ["adaptive", "ADAPTIVE", " adaptive "])
def test_retry_policy_adaptive_is_a_deprecated_name_of_the_share_limiter(value):
    assert load({**BASE, "RETRY_POLICY": value}).retry_policy == "share-limiter"


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load(BASE).max_attempts = 3  # type: ignore[misc]


def test_settings_list_every_variable_read_with_its_default():
    names = [name for name, _ in SETTINGS]
    assert len(names) == len(set(names))
    assert set(REQUIRED) == {"SUCCESS_DESTINATION", "FAILURE_DESTINATION"}
    fields = {f.name for f in dataclasses.fields(Config)}
    assert {name.lower() for name in names} == fields
    defaults = load({**BASE, **{n: d for n, d in SETTINGS if d is not None}})
    assert defaults == load(BASE)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        load({"MAX_ATTEMPTS": "0", "ADOPT_EXISTING": "perhaps", "MNS_ENDPOINT": "ftp://x"})
    text = str(raised.value)
    for variable in (
        "SUCCESS_DESTINATION",
        "FAILURE_DESTINATION",
        "MAX_ATTEMPTS",
        "ADOPT_EXISTING",
        "MNS_ENDPOINT",
    ):
        assert variable in text
    assert len(raised.value.problems) == 5


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("SUCCESS_DESTINATION", "", "is required"),
        ("SUCCESS_DESTINATION", "arn:aws:sqs:x", "expected acs:"),
        ("FAILURE_DESTINATION", "acs:mns:cn-shanghai:123:/buckets/x", "/topics/{name}"),
        ("MAX_ATTEMPTS", "8.5", "integer from 1 to 100"),
        ("MAX_ATTEMPTS", "101", "integer from 1 to 100"),
        ("BATCH_CONCURRENCY", "-1", "integer from 1 to 64"),
        ("ADOPT_EXISTING", "si", "true or false"),
        ("LOG_LEVEL", "verbose", "one of INFO"),
        ("DEADLINE_MARGIN_SECONDS", "-1", "number of seconds from 0 to 600"),
        ("API_TIMEOUT_SECONDS", "0", "number of seconds from 0.5"),
        ("RETRY_POLICY", "yolo", "one of share-limiter, full-jitter, fixed"),
        ("VPC_ENDPOINT", "http://host/path", "no path"),
        ("FC_ENDPOINT", "host name", "bare host"),
    ],
)
def test_each_rule_names_the_variable(name, value, rule):
    with pytest.raises(ConfigError) as raised:
        load({**BASE, name: value})
    [problem] = raised.value.problems
    assert problem.startswith(name)
    assert rule in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://127.0.0.1:8080", Endpoint("http", "127.0.0.1:8080")),
        (
            "https://vpc.cn-shanghai.aliyuncs.com/",
            Endpoint("https", "vpc.cn-shanghai.aliyuncs.com"),
        ),
        ("vpc.cn-shanghai.aliyuncs.com", Endpoint("https", "vpc.cn-shanghai.aliyuncs.com")),
        ("HTTP://LOCALHOST:1", Endpoint("http", "LOCALHOST:1")),
        ("[::1]:8080", Endpoint("https", "[::1]:8080")),
    ],
)
def test_endpoints(text, expected):
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("flag", ["1", "true", "YES", "on", " True "])
def test_adopt_existing_true_spellings(flag):
    assert load({**BASE, "ADOPT_EXISTING": flag}).adopt_existing is True


@pytest.mark.parametrize("flag", ["0", "false", "No", "OFF"])
def test_adopt_existing_false_spellings(flag):
    assert load({**BASE, "ADOPT_EXISTING": flag}).adopt_existing is False


@settings(deadline=None)
@given(st.text(max_size=20))
def test_max_attempts_accepts_exactly_the_integers_1_to_100(value):
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is not None and 1 <= number <= 100:
        assert load({**BASE, "MAX_ATTEMPTS": value}).max_attempts == number
    else:
        with pytest.raises(ConfigError, match="MAX_ATTEMPTS"):
            load({**BASE, "MAX_ATTEMPTS": value})


def test_fleet_tokens_names_its_queue():
    config = load({**BASE, "RETRY_POLICY": "fleet-tokens", "TOKEN_QUEUE": "acs:mns:::/queues/t"})
    assert config.retry_policy == "fleet-tokens"
    assert config.token_queue is not None
    assert (config.token_queue.kind, config.token_queue.name) == ("mns-queue", "t")


@pytest.mark.parametrize(
    ("token_queue", "says"),
    [
        ("", "TOKEN_QUEUE is required with RETRY_POLICY=fleet-tokens"),
        ("acs:mns:::/topics/t", "TOKEN_QUEUE must be an MNS queue ARN"),
        ("queue-t", "TOKEN_QUEUE: 'queue-t' is not a destination ARN"),
    ],
)
def test_fleet_tokens_without_a_queue_arn_is_a_config_error(token_queue, says):
    with pytest.raises(ConfigError) as caught:
        load({**BASE, "RETRY_POLICY": "fleet-tokens", "TOKEN_QUEUE": token_queue})
    assert any(problem.startswith(says) for problem in caught.value.problems)


def test_other_policies_need_no_token_queue():
    assert load(BASE).token_queue is None
