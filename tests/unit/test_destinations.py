"""Destination ARNs (pure parsing) and the publisher's wire details that need no network."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgw_provisioner.arns import Destination, DestinationArnError, parse_destination_arn


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "acs:mns:cn-shanghai:123:/topics/outcomes",
            Destination("mns-topic", "cn-shanghai", "123", "outcomes"),
        ),
        (
            "acs:mns:cn-shanghai:123:/topics/outcomes/messages",
            Destination("mns-topic", "cn-shanghai", "123", "outcomes"),
        ),
        (
            "acs:mns:cn-shanghai:123:/queues/q-1/messages",
            Destination("mns-queue", "cn-shanghai", "123", "q-1"),
        ),
        (
            "acs:mns:::/queues/destination-demo/message",
            Destination("mns-queue", "", "", "destination-demo"),
        ),
        ("acs:mns:::queues/q", Destination("mns-queue", "", "", "q")),
        (
            "acs:fc:cn-shanghai:123:services/s1.LATEST/functions/f1",
            Destination("fc", "cn-shanghai", "123", "f1", service="s1", qualifier="LATEST"),
        ),
        (
            "acs:fc:::services/svc/functions/fn",
            Destination("fc", "", "", "fn", service="svc", qualifier=None),
        ),
    ],
)
def test_destination_forms(arn, expected):
    assert parse_destination_arn(arn) == expected


@pytest.mark.parametrize(
    ("arn", "explains"),
    [
        ("", "empty"),
        ("acs:mns:cn-shanghai:123", "expected acs:"),
        ("acs:oss:cn-shanghai:123:/topics/x", "must be mns or fc"),
        ("acs:mns:CN_SHANGHAI:123:/topics/x", "region"),
        ("acs:mns:cn-shanghai:abc:/topics/x", "account"),
        ("acs:mns:cn-shanghai:123:/topics/", "/topics/{name}"),
        ("acs:mns:cn-shanghai:123:/topics/bad_name", "/topics/{name}"),
        ("acs:mns:cn-shanghai:123:/subscriptions/x", "/topics/{name}"),
        ("acs:fc:cn-shanghai:123:services/s/functions/", "services/{service}"),
        ("acs:fc:cn-shanghai:123:functions/f", "services/{service}"),
    ],
)
def test_bad_arns_are_explained(arn, explains):
    with pytest.raises(DestinationArnError) as raised:
        parse_destination_arn(arn)
    assert explains in str(raised.value)


def test_empty_region_and_account_mean_the_functions_own():
    destination = parse_destination_arn("acs:mns:::/topics/t")
    resolved = destination.resolved("cn-beijing", "42")
    assert (resolved.region, resolved.account_id) == ("cn-beijing", "42")
    given_ = parse_destination_arn("acs:mns:cn-hangzhou:7:/topics/t").resolved("cn-beijing", "42")
    assert (given_.region, given_.account_id) == ("cn-hangzhou", "7")
    assert str(resolved) == "acs:mns:cn-beijing:42:/topics/t"


_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,40}", fullmatch=True)
_regions = st.sampled_from(["", "cn-shanghai", "ap-southeast-1"])
_accounts = st.sampled_from(["", "1234567890123456"])


@settings(deadline=None)
@given(
    _regions,
    _accounts,
    st.sampled_from(["topics", "queues"]),
    _names,
    st.sampled_from(["", "/messages", "/message"]),
)
def test_mns_arns_round_trip(region, account, folder, name, suffix):
    destination = parse_destination_arn(f"acs:mns:{region}:{account}:/{folder}/{name}{suffix}")
    assert destination.name == name
    assert destination.kind == ("mns-topic" if folder == "topics" else "mns-queue")
    assert parse_destination_arn(str(destination)) == destination


@settings(deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_a_clear_error(text):
    looks_like_a_destination = text.strip().startswith(("acs:mns:", "acs:fc:"))
    try:
        destination = parse_destination_arn(text)
    except DestinationArnError as error:
        message = str(error)
    else:
        message = None
        assert looks_like_a_destination
        assert destination.kind in ("mns-topic", "mns-queue", "fc")
    if message is not None:
        assert "ARN" in message or "empty" in message


def test_event_bodies_are_compact_utf8_json():
    from cgw_provisioner.destinations import encode_event

    body = encode_event({"a": "上海", "b": [1, 2]})
    assert body == '{"a":"上海","b":[1,2]}'


def test_default_endpoints_are_derived_from_the_destination():
    from cgw_provisioner.destinations import fc_endpoint, mns_endpoint

    topic = parse_destination_arn("acs:mns:::/topics/t").resolved("cn-shanghai", "123")
    assert mns_endpoint(topic).url == "https://123.mns.cn-shanghai.aliyuncs.com"
    function = parse_destination_arn("acs:fc:::services/s/functions/f").resolved("cn-beijing", "9")
    assert fc_endpoint(function).url == "https://9.cn-beijing.fc.aliyuncs.com"
