"""Fuzzing the pure core end to end: trigger event -> deliveries -> validation -> outcome event.

Properties (each must hold for every generated input):
- a queue batch of N CloudEvents gives exactly N deliveries, in order, with the trigger's message
  ids, whatever the bodies hold (JSON, base64, bytes that are not UTF-8 once decoded, huge values);
- every rejected message becomes a failed CloudEvent that validates against the outcome schema,
  has a code from the API vocabulary, fits in one MNS message and never contains a planted
  AuthKey;
- a valid request with one field broken is rejected for that field only (its code, its pointer);
- the same event always gives the same outcomes (event ids included).

`make test` runs these with hypothesis' default budget; `make fuzz` runs many more examples
(HYPOTHESIS_PROFILE=fuzz, see conftest.py).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from cgw_provisioner.events import decode_event
from cgw_provisioner.outcomes import event_source, rejected, to_cloud_event
from cgw_provisioner.validation import (
    CODES,
    MAX_BODY_BYTES,
    ProvisioningRequest,
    Rejection,
    RequestValidator,
    load_schema,
)

SOURCE = event_source("cn-shanghai", "1234567890123456", "cgw-provisioner", "cgw")
TIME = "2026-11-25T08:00:00Z"
CANARY = "CANARY-AuthKey-5d1e"
MNS_MAX_MESSAGE_BYTES = 64 * 1024
FIELDS = (
    "RegionId",
    "IpAddress",
    "Name",
    "Description",
    "Asn",
    "AuthKey",
    "ClientToken",
    "ResourceGroupId",
    "Tags",
    "Metadata",
)
# Module-level: hypothesis tests cannot take function-scoped fixtures.
VALIDATOR = RequestValidator()
OUTCOME_SCHEMA = Draft202012Validator(
    load_schema("provisioning-outcome"), format_checker=FormatChecker()
)
# No max_examples here: the profile decides (default, or HYPOTHESIS_PROFILE=fuzz).
fuzz = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -----------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
tricky_strings = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",
        "\ufeff",
        "http://x.example",
        "HTTPS://x",
        "aliyun-key",
        "acs:key",
        "45104",
        "0.45104",
        "65535.65536",
        "4294967296",
        "01.2.3.4",
        "1.2.3.4\n",
        "100.64.0.1",
        "224.0.0.1",
        "\u4e0a\u6d77-\u5206\u652f",  # CJK
        "a" * 129,
        "x" * 5000,
        "has space ?",
    ]
)
hostile_values = json_values | tricky_strings | st.text(min_size=100, max_size=2_000)
valid_requests = st.fixed_dictionaries(
    {
        "RegionId": st.sampled_from(["cn-shanghai", "cn-hangzhou", "ap-southeast-1"]),
        "IpAddress": st.tuples(st.integers(1, 99), st.integers(0, 255), st.integers(1, 254)).map(
            lambda t: f"{t[0]}.{t[1]}.0.{t[2]}"
        ),
    },
    optional={
        "Name": st.sampled_from(["branch-1", "\u4e0a\u6d77\u5206\u652f", "lab_2.a"]),
        "Description": st.sampled_from(["Branch office", "\u5206\u652f office"]),
        "Asn": st.sampled_from([65001, "65001", "1.10", 4294967295]),
        "AuthKey": st.just(CANARY),
        "ClientToken": st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
        "ResourceGroupId": st.just("rg-acfmxazb4ph6aiy"),
        "Tags": st.just([{"Key": "team", "Value": "network"}]),
        "Metadata": st.dictionaries(st.text(max_size=8), json_scalars, max_size=4),
    },
).map(lambda fields: {k: v[:64] if k == "ClientToken" else v for k, v in fields.items()})


@st.composite
def broken_requests(draw) -> tuple[dict[str, Any], str]:
    """A valid request with exactly one field removed or replaced: (request, that field)."""
    fields = dict(draw(valid_requests))
    field = draw(st.sampled_from([*FIELDS, "IPAddress", "Unknown"]))
    if field in fields and draw(st.booleans()):
        del fields[field]
    else:
        value = draw(hostile_values)
        if field == "AuthKey" and isinstance(value, str):
            value = CANARY + value  # a secret with something wrong around it
        fields[field] = value
    return fields, field


def to_json(value: Any, ensure_ascii: bool) -> bytes:
    """UTF-8 JSON as a sender writes it (lone surrogates can only travel as \\u escapes)."""
    try:
        return json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("utf-8")


def encode_body(draw, value: Any) -> str:
    """A message body as a sender might write it: JSON, base64 of JSON, or mangled."""
    raw = to_json(value, draw(st.booleans()))
    how = draw(st.sampled_from(["json", "base64", "flip", "truncate"]))
    if how == "base64":
        return base64.b64encode(raw).decode()
    if how == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        flipped = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
        return base64.b64encode(flipped).decode()  # bytes that may not be UTF-8, through base64
    if how == "truncate" and raw:
        return raw[: draw(st.integers(0, len(raw) - 1))].decode("utf-8", "replace")
    return raw.decode("utf-8")


@st.composite
def queue_batches(draw) -> tuple[bytes, list[str]]:
    """An EventBridge event-streaming batch (CloudEvents or RawData) and its message ids."""
    count = draw(st.integers(0, 12))
    raw_data = draw(st.booleans())
    elements, ids = [], []
    for i in range(count):
        message_id = f"{draw(st.integers(0, 2**64)):032X}"[-32:]
        body_value = draw(
            valid_requests | broken_requests().map(lambda pair: pair[0]) | json_values
        )
        data = {
            "requestId": f"REQ{i:021d}",
            "messageId": message_id,
            "messageBody": encode_body(draw, body_value),
        }
        element = (
            data
            if raw_data
            else {
                "id": message_id,
                "source": "MNS-cgw-queue-trigger",
                "specversion": "1.0",
                "type": "mns:Queue:SendMessage",
                "subject": "acs:mns:cn-shanghai:1234567890123456:queues/cgw-requests",
                "time": TIME,
                "data": data,
            }
        )
        elements.append(element)
        ids.append(message_id)
    return to_json(elements, draw(st.booleans())), ids


# --- the pipeline under test ----------------------------------------------------------------------


def outcomes_of(event: bytes) -> list[tuple[Any, dict[str, Any] | None]]:
    """(validation result, failed CloudEvent or None) per delivery."""
    out = []
    for delivery in decode_event(event):
        result = VALIDATOR.validate(delivery.body)
        cloud_event = (
            None
            if isinstance(result, ProvisioningRequest)
            else to_cloud_event(rejected(delivery, result), source=SOURCE, time=TIME)
        )
        out.append((result, cloud_event))
    return out


def assert_sound_failure(result: Rejection, cloud_event: dict[str, Any]) -> None:
    OUTCOME_SCHEMA.validate(cloud_event)
    error = cloud_event["data"]["error"]
    assert error["code"] == result.code in CODES
    assert error["details"], "a failure lists its violations"
    assert all(detail["code"] in CODES for detail in error["details"])
    text = json.dumps(cloud_event, ensure_ascii=False)
    assert CANARY not in text
    assert len(text.encode("utf-8")) <= MNS_MAX_MESSAGE_BYTES


def json_or_none(event: bytes) -> Any:
    try:
        return json.loads(event)
    except ValueError:
        return None


# --- properties -----------------------------------------------------------------------------------


@fuzz
@given(queue_batches())
def test_a_queue_batch_gives_one_sound_outcome_per_message(batch):
    event, ids = batch
    outcomes = outcomes_of(event)
    deliveries = decode_event(event)
    assert [d.message_id for d in deliveries] == ids
    assert all(d.kind == "mns-queue" for d in deliveries)
    for result, cloud_event in outcomes:
        if isinstance(result, Rejection):
            assert_sound_failure(result, cloud_event)
            assert cloud_event["data"]["trigger"]["messageId"] in ids


@fuzz
@given(queue_batches())
def test_the_same_event_always_gives_the_same_outcomes(batch):
    event, _ = batch
    first = [ce for _, ce in outcomes_of(event)]
    again = [ce for _, ce in outcomes_of(bytes(event))]
    assert first == again


@fuzz
@given(broken_requests())
def test_a_request_broken_in_one_field_is_rejected_for_that_field(case):
    fields, field = case
    body = to_json(fields, ensure_ascii=False)
    assume(len(body) <= MAX_BODY_BYTES)
    [(result, cloud_event)] = outcomes_of(body)
    if isinstance(result, ProvisioningRequest):
        assert field in FIELDS, f"the unknown field {field!r} was accepted"
        return
    assert_sound_failure(result, cloud_event)
    for violation in result.violations:
        whole_body = violation.pointer == "" and violation.rule in ("max-depth", "not-json")
        assert whole_body or violation.pointer.startswith(f"/{field}"), (field, violation)


@fuzz
@given(
    st.binary(max_size=2000) | st.text(max_size=2000).map(lambda t: t.encode("utf-8", "replace"))
)
def test_any_bytes_give_at_least_one_sound_outcome(event):
    outcomes = outcomes_of(event)
    empty_batch = event.strip(b" \t\n\r")[:1] == b"[" and json_or_none(event) == []
    assert outcomes or empty_batch
    for result, cloud_event in outcomes:
        if isinstance(result, Rejection):
            assert_sound_failure(result, cloud_event)


@fuzz
@given(st.lists(valid_requests | broken_requests().map(lambda pair: pair[0]), max_size=12))
def test_a_direct_array_gives_one_outcome_per_element(requests):
    event = to_json(requests, ensure_ascii=False)
    outcomes = outcomes_of(event)
    assert len(outcomes) == len(requests)
    for result, cloud_event in outcomes:
        if isinstance(result, Rejection):
            assert_sound_failure(result, cloud_event)
