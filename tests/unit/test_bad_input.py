"""Bad input through the whole pure core: decode_event -> validate -> rejected -> CloudEvent.

Each hostile input (64 KiB and bigger messages, deep nesting, invalid UTF-8, a batch of 10,000
elements, huge values in every field) must end in one bounded, specific failure outcome per
message: a failed CloudEvent that validates against the outcome schema, names the field and the
rule, fits in an MNS message, and never echoes a secret. Time and memory are measured and held to
generous bounds: they catch a quadratic parser or a copy per element, not a slow machine.
"""

from __future__ import annotations

import base64
import json
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from cgw_provisioner.events import Delivery, decode_event
from cgw_provisioner.outcomes import FAILED, event_source, rejected, to_cloud_event
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
MNS_MAX_MESSAGE_BYTES = 64 * 1024  # an outcome event must fit in one MNS message
CANARY = "CANARY-AuthKey-7f3a9c"  # a planted secret: must never appear in an event
VALID = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10"}
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def validator() -> RequestValidator:
    return RequestValidator()


@pytest.fixture(scope="module")
def outcome_schema() -> Draft202012Validator:
    return Draft202012Validator(load_schema("provisioning-outcome"), format_checker=FormatChecker())


@dataclass
class Run:
    """What the pure core made of one event, and what it cost."""

    deliveries: list[Delivery]
    results: list[Any]  # ProvisioningRequest | Rejection, one per delivery
    events: list[dict[str, Any] | None]  # the failed CloudEvent, None for an accepted request
    seconds: float
    peak_bytes: int

    def only_event(self) -> dict[str, Any]:
        assert len(self.events) == 1, f"{len(self.events)} outcomes for one message"
        assert self.events[0] is not None, "accepted, but a rejection was expected"
        return self.events[0]


def run_core(validator: RequestValidator, event: bytes) -> Run:
    """The function's pure path for one trigger event, timed and traced (peak Python memory)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        deliveries = decode_event(event)
        results = [validator.validate(delivery.body) for delivery in deliveries]
        events = [
            None
            if isinstance(result, ProvisioningRequest)
            else to_cloud_event(rejected(delivery, result), source=SOURCE, time=TIME)
            for delivery, result in zip(deliveries, results, strict=True)
        ]
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Run(deliveries, results, events, seconds, peak)


def assert_specific_failure(
    event: dict[str, Any], schema: Draft202012Validator, code: str, rule: str, pointer: str
) -> None:
    """A failed outcome with this code, whose details name this rule at this JSON pointer."""
    schema.validate(event)
    assert event["type"] == FAILED
    error = event["data"]["error"]
    assert error["code"] == code, error
    assert error["retryable"] is False
    assert error["message"], "the message must say what is wrong"
    assert any(d["rule"] == rule and d["pointer"] == pointer for d in error["details"]), error
    assert all(d["code"] in CODES for d in error["details"])
    assert len(json.dumps(event, ensure_ascii=False).encode()) <= MNS_MAX_MESSAGE_BYTES


def queue_event(bodies: list[str], first_id: int = 0) -> bytes:
    """An EventBridge event-streaming batch of MNS queue CloudEvents.

    The shape is described in docs/platform.md, "Queue trigger".
    """
    return json.dumps(
        [
            {
                "id": f"MSG{first_id + i:029d}",
                "source": "MNS-cgw-queue-trigger",
                "specversion": "1.0",
                "type": "mns:Queue:SendMessage",
                "datacontenttype": "application/json;charset=utf-8",
                "subject": "acs:mns:cn-shanghai:1234567890123456:queues/cgw-requests",
                "time": TIME,
                "data": {
                    "requestId": f"REQ{first_id + i:021d}",
                    "messageId": f"MSG{first_id + i:029d}",
                    "messageBody": body,
                },
            }
            for i, body in enumerate(bodies)
        ]
    ).encode()


def padded(fields: dict[str, Any], size: int) -> bytes:
    """The request as JSON, padded with trailing whitespace to exactly `size` bytes."""
    raw = json.dumps(fields).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


# --- size: 64 KiB and over ------------------------------------------------------------------------


def test_a_request_of_exactly_64_kib_is_still_read(validator):
    run = run_core(validator, padded(VALID, MAX_BODY_BYTES))
    assert isinstance(run.results[0], ProvisioningRequest)
    assert run.results[0].ip_address == VALID["IpAddress"]


@pytest.mark.parametrize(
    "size", [MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES, 16 * MiB], ids=["64KiB+1", "256KiB", "16MiB"]
)
def test_a_request_over_64_kib_fails_on_its_size_in_bounded_time_and_memory(
    validator, outcome_schema, size
):
    run = run_core(validator, padded(VALID, size))
    event = run.only_event()
    assert_specific_failure(event, outcome_schema, "InvalidMessage", "body-size", "")
    assert str(size) in event["data"]["error"]["message"]
    assert event["data"]["request"] is None  # nothing of a 16 MiB body is echoed
    assert run.seconds < 10
    assert run.peak_bytes < 8 * size + 8 * MiB


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "base64"])
def test_an_oversized_queue_message_fails_alone_and_its_neighbours_are_read(
    validator, outcome_schema, encoded
):
    big = json.dumps({**VALID, "Description": "x" * (2 * MAX_BODY_BYTES)})
    big = base64.b64encode(big.encode()).decode() if encoded else big
    good = json.dumps({**VALID, "IpAddress": "203.0.113.11"})
    run = run_core(validator, queue_event([good, big, good.replace(".11", ".12")]))
    assert [d.message_id for d in run.deliveries] == [f"MSG{i:029d}" for i in range(3)]
    assert isinstance(run.results[0], ProvisioningRequest)
    assert isinstance(run.results[2], ProvisioningRequest)
    # base64 text of a body this big is not decoded; either way the message is rejected alone
    rule = "body-size"
    assert_specific_failure(run.events[1], outcome_schema, "InvalidMessage", rule, "")


# --- deep nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 900, 5_000, 10_000])
def test_deeply_nested_metadata_fails_on_depth(validator, outcome_schema, depth):
    body = (
        json.dumps(VALID)[:-1].encode()
        + b', "Metadata": '
        + b'{"a":' * depth
        + b"1"
        + b"}" * depth
        + b"}"
    )
    assert len(body) <= MAX_BODY_BYTES  # deep, yet within the size limit
    run = run_core(validator, body)
    assert_specific_failure(run.only_event(), outcome_schema, "InvalidMessage", "max-depth", "")
    assert run.seconds < 5
    assert run.peak_bytes < 64 * MiB


@pytest.mark.parametrize("depth", [33, 1_000, 30_000])
def test_deeply_nested_arrays_as_the_whole_body_fail_on_depth(validator, outcome_schema, depth):
    body = b"[" * depth + b"]" * depth
    run = run_core(validator, queue_event([body.decode()]))
    assert_specific_failure(run.only_event(), outcome_schema, "InvalidMessage", "max-depth", "")
    assert run.peak_bytes < 64 * MiB


def test_a_deep_direct_invocation_is_one_failed_outcome(validator, outcome_schema):
    depth = 30_000
    run = run_core(validator, b'{"a":' * depth + b"1" + b"}" * depth)
    assert_specific_failure(run.only_event(), outcome_schema, "InvalidMessage", "body-size", "")


def test_a_deep_element_in_a_queue_batch_does_not_swallow_its_neighbours(validator):
    batch = json.loads(queue_event([json.dumps(VALID), json.dumps(VALID)]))
    deep = json.loads(queue_event(["x"], first_id=2))[0]
    text = json.dumps([*batch, deep]).replace(
        '"messageBody": "x"', '"messageBody": ' + "[" * 3000 + "]" * 3000
    )
    run = run_core(validator, text.encode())
    assert [d.message_id for d in run.deliveries] == [f"MSG{i:029d}" for i in range(3)]
    assert [d.kind for d in run.deliveries] == ["mns-queue"] * 3
    assert isinstance(run.results[0], ProvisioningRequest)
    assert isinstance(run.results[1], ProvisioningRequest)
    assert run.deliveries[2].body == b"[" * 3000 + b"]" * 3000  # its own text, for validation
    assert run.events[2]["data"]["error"]["code"] == "InvalidMessage"
    assert {d["rule"] for d in run.events[2]["data"]["error"]["details"]} == {"max-depth"}


# --- invalid UTF-8 --------------------------------------------------------------------------------

INVALID_UTF8 = [
    pytest.param(b'{"RegionId": "cn-shanghai", "IpAddress": "\xff1.2.3.4"}', id="0xff"),
    pytest.param(b'{"RegionId": "cn-shanghai", "Name": "\xc0\xaf"}', id="overlong-slash"),
    pytest.param(b'{"RegionId": "\xed\xa0\x80"}', id="encoded-surrogate"),
    pytest.param(b'{"RegionId": "cn-shanghai\xe4\xb8"}', id="truncated-sequence"),
    pytest.param('{"RegionId": "cn"}'.encode("utf-16"), id="utf-16"),
    pytest.param(b"\x80" * 1000, id="continuation-bytes-only"),
]


@pytest.mark.parametrize("body", INVALID_UTF8)
def test_invalid_utf8_as_a_direct_invocation_fails_as_not_utf8(validator, outcome_schema, body):
    run = run_core(validator, body)
    assert_specific_failure(run.only_event(), outcome_schema, "InvalidMessage", "not-utf8", "")
    assert "byte" in run.only_event()["data"]["error"]["message"]  # where it went wrong


@pytest.mark.parametrize("body", INVALID_UTF8)
def test_invalid_utf8_in_a_base64_queue_message_is_rejected_alone(validator, outcome_schema, body):
    encoded = base64.b64encode(body).decode()
    run = run_core(validator, queue_event([json.dumps(VALID), encoded]))
    assert len(run.deliveries) == 2
    assert isinstance(run.results[0], ProvisioningRequest)
    event = run.events[1]
    outcome_schema.validate(event)
    assert event["data"]["error"]["code"] == "InvalidMessage"
    assert event["data"]["trigger"]["messageId"] == f"MSG{1:029d}"


def test_invalid_utf8_in_one_queue_message_does_not_swallow_its_neighbours(validator):
    event = queue_event([json.dumps(VALID), "@@BAD@@", json.dumps(VALID)])
    run = run_core(validator, event.replace(b"@@BAD@@", b"\xff\xfe"))
    assert len(run.deliveries) == 3
    assert [d.message_id for d in run.deliveries] == [f"MSG{i:029d}" for i in range(3)]
    assert run.deliveries[1].body == b"\xff\xfe"  # its own bytes back
    assert isinstance(run.results[0], ProvisioningRequest)
    assert isinstance(run.results[2], ProvisioningRequest)
    assert run.events[1]["data"]["error"]["code"] == "InvalidMessage"
    assert run.events[1]["data"]["error"]["details"][0]["rule"] == "not-utf8"


def test_lone_surrogate_escapes_name_their_field(validator, outcome_schema):
    body = b'{"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "Name": "ab\\ud800"}'
    run = run_core(validator, body)
    assert_specific_failure(
        run.only_event(), outcome_schema, "InvalidName", "lone-surrogate", "/Name"
    )


# --- never lose a message: any garbage in any body of a batch -------------------------------------
# Each body is (the JSON value as it stands in the envelope, the body bytes it must come out as,
# whether it is a valid request). The value is spliced into the envelope as bytes, so it can hold
# what json.dumps would never write: raw bytes that are not UTF-8, nesting no decoder can follow.

_NOT_QUOTE_OR_BACKSLASH = st.binary(max_size=40).map(
    lambda b: b.replace(b'"', b"").replace(b"\\", b"")
)


@st.composite
def _good_body(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    text = json.dumps({**VALID, "Name": f"branch-{draw(st.integers(0, 999))}"})
    return json.dumps(text).encode(), text.encode(), True


@st.composite
def _invalid_utf8_body(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    head, tail = draw(_NOT_QUOTE_OR_BACKSLASH), draw(_NOT_QUOTE_OR_BACKSLASH)
    raw = head + draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe4\xb8"])) + tail
    return b'"' + raw + b'"', raw, False


@st.composite
def _deep_body(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    depth = draw(st.integers(1, 5_000) | st.sampled_from([990, 1_000, 3_000]))
    opening, core, closing = draw(st.sampled_from([("[", "", "]"), ('{"a":', "1", "}")]))
    text = (opening * depth + core + closing * depth).encode()
    as_string = draw(st.booleans())  # a JSON string holding it, or the value itself
    return (json.dumps(text.decode()).encode() if as_string else text), text, False


@st.composite
def _huge_body(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    text = json.dumps(
        {**VALID, "Description": "x" * draw(st.integers(MAX_BODY_BYTES, 3 * MiB // 16))}
    )
    return json.dumps(text).encode(), text.encode(), False


_bodies = st.one_of(_good_body(), _invalid_utf8_body(), _deep_body(), _huge_body())


def _queue_element(index: int, value: bytes, body_first: bool, raw_data: bool) -> bytes:
    members = [b'"requestId":"REQ%d"' % index, b'"messageId":"MSG%05d"' % index]
    members.insert(0 if body_first else 2, b'"messageBody":' + value)
    data = b"{" + b",".join(members) + b"}"
    if raw_data:  # EventBridge RawData: the bare data object
        return data
    return (
        b'{"id":"EVT%d","source":"MNS-cgw-queue-trigger","specversion":"1.0",' % index
        + b'"type":"mns:Queue:SendMessage","data":'
        + data
        + b"}"
    )


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(_bodies, st.booleans()), min_size=1, max_size=12),
    st.booleans(),
)
def test_a_batch_with_garbage_bodies_gives_one_delivery_per_message(validator, messages, raw_data):
    event = (
        b"["
        + b",".join(
            _queue_element(i, value, body_first, raw_data)
            for i, ((value, _, _), body_first) in enumerate(messages)
        )
        + b"]"
    )
    deliveries = decode_event(event)
    assert [d.message_id for d in deliveries] == [f"MSG{i:05d}" for i in range(len(messages))]
    assert {d.kind for d in deliveries} == {"mns-queue"}
    for delivery, ((_, body, valid), _) in zip(deliveries, messages, strict=True):
        assert delivery.body == body  # its own bytes: nothing of a neighbour, nothing lost
        verdict = validator.validate(delivery.body)
        if valid:
            assert isinstance(verdict, ProvisioningRequest)
        else:
            assert isinstance(verdict, Rejection)  # alone, for its own body


# --- huge values in every field -------------------------------------------------------------------

HUGE = 60_000  # characters: the biggest value that still fits a 64 KiB request

HUGE_FIELDS = [
    ("RegionId", "x" * HUGE, "InvalidRegionId", "maxLength", "/RegionId"),
    ("IpAddress", "1" * HUGE, "InvalidIpAddress.WrongFormat", "maxLength", "/IpAddress"),
    ("Name", "n" * HUGE, "InvalidName", "maxLength", "/Name"),
    ("Description", "d" * HUGE, "InvalidDescription", "maxLength", "/Description"),
    ("Asn", "6" * HUGE, "InvalidAsn", "pattern", "/Asn"),
    ("AuthKey", CANARY * (HUGE // len(CANARY)), "InvalidAuthKey", "maxLength", "/AuthKey"),
    ("ClientToken", "t" * HUGE, "InvalidClientToken", "maxLength", "/ClientToken"),
    (
        "ResourceGroupId",
        "rg-" + "a" * HUGE,
        "InvalidResourceGroupId",
        "maxLength",
        "/ResourceGroupId",
    ),
    ("Tags", [{"Key": "k" * HUGE, "Value": "v"}], "InvalidTags", "maxLength", "/Tags/0/Key"),
    ("Tags", [{"Key": "k", "Value": "v" * HUGE}], "InvalidTags", "maxLength", "/Tags/0/Value"),
    ("Metadata", {"note": "m" * HUGE}, "InvalidMetadata", "metadata-size", "/Metadata"),
]


@pytest.mark.parametrize(
    ("field", "value", "code", "rule", "pointer"),
    HUGE_FIELDS,
    ids=[f"{case[0]}{case[4].removeprefix('/' + case[0])}" for case in HUGE_FIELDS],
)
def test_a_huge_value_in_each_field_fails_on_that_field(
    validator, outcome_schema, field, value, code, rule, pointer
):
    run = run_core(validator, json.dumps({**VALID, field: value}).encode())
    event = run.only_event()
    assert_specific_failure(event, outcome_schema, code, rule, pointer)
    text = json.dumps(event, ensure_ascii=False)
    assert CANARY not in text
    assert len(text) < 16 * 1024, "a 60,000 character value must not be echoed in full"
    assert run.seconds < 5
    assert run.peak_bytes < 32 * MiB


def test_huge_values_in_every_field_at_once_list_every_field(validator, outcome_schema):
    share = (MAX_BODY_BYTES - 1024) // 11
    fields = {
        "RegionId": "x" * share,
        "IpAddress": "1" * share,
        "Name": "n" * share,
        "Description": "d" * share,
        "Asn": "6" * share,
        "AuthKey": (CANARY * share)[:share],
        "ClientToken": "t" * share,
        "ResourceGroupId": "rg-" + "a" * share,
        "Tags": [{"Key": "k" * share, "Value": "v"}],
        "Metadata": {"note": "m" * share},
        "Unknown" * 10: "u" * share,
    }
    run = run_core(validator, json.dumps(fields).encode())
    event = run.only_event()
    assert_specific_failure(event, outcome_schema, "InvalidRegionId", "maxLength", "/RegionId")
    codes = {d["code"] for d in event["data"]["error"]["details"]}
    assert codes == set(CODES) - {"MissingRegionId", "MissingIpAddress"}
    assert CANARY not in json.dumps(event, ensure_ascii=False)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'{"RegionId": "cn-shanghai", "Asn": ' + b"9" * 5000 + b"}", id="5000-digit-int"
        ),
        pytest.param(b'{"RegionId": "cn-shanghai", "Asn": 1e999}', id="float-overflow"),
        pytest.param(b'{"RegionId": "cn-shanghai", "Asn": NaN}', id="NaN"),
        pytest.param(b'{"RegionId": "cn-shanghai", "Asn": -Infinity}', id="Infinity"),
    ],
)
def test_numbers_json_cannot_carry_are_refused_as_bad_json(validator, outcome_schema, body):
    run = run_core(validator, body)
    assert_specific_failure(run.only_event(), outcome_schema, "InvalidMessage", "not-json", "")
    assert run.seconds < 5


def test_thousands_of_unknown_fields_are_listed_within_bounds(validator, outcome_schema):
    fields = {**VALID, **{f"f{i}": 0 for i in range(6_000)}}
    run = run_core(validator, json.dumps(fields, separators=(",", ":")).encode())
    event = run.only_event()
    assert_specific_failure(event, outcome_schema, "InvalidMessage", "additionalProperties", "/f0")
    error = event["data"]["error"]
    assert "6000 violations" in error["message"]
    assert run.seconds < 10


def test_thousands_of_bad_tags_are_listed_within_bounds(validator, outcome_schema):
    tags = [{"Key": "aliyun-x", "Value": "v"}] * 1_500
    body = json.dumps({**VALID, "Tags": tags}, separators=(",", ":")).encode()
    assert len(body) <= MAX_BODY_BYTES
    run = run_core(validator, body)
    assert_specific_failure(run.only_event(), outcome_schema, "InvalidTags", "maxItems", "/Tags")
    assert run.seconds < 10


# --- a batch of 10,000 elements -------------------------------------------------------------------

BATCH = 10_000


def _request(i: int) -> dict[str, Any]:
    return {"RegionId": "cn-shanghai", "IpAddress": f"10.{i // 256 % 256}.{i % 256}.1"}


def _mixed_batch() -> list[bytes | dict[str, Any]]:
    """Every 10th element is valid; the rest cycle through distinct ways of being wrong."""
    kinds: list[Callable[[int], Any]] = [
        _request,
        lambda i: {"IpAddress": "10.0.0.1"},
        lambda i: {**_request(i), "IpAddress": "999.1.1.1"},
        lambda i: {**_request(i), "Name": "x"},
        lambda i: {**_request(i), "Asn": 45104},
        lambda i: {**_request(i), "IPAddress": "1.1.1.1"},
        lambda i: "just a string",
        lambda i: [1, 2, 3],
        lambda i: {**_request(i), "AuthKey": CANARY + " ?"},
        lambda i: {**_request(i), "Metadata": {"k": "v" * 5000}},
    ]
    return [kinds[i % len(kinds)](i) for i in range(BATCH)]


EXPECTED_CODES = [
    None,
    "MissingRegionId",
    "InvalidIpAddress.WrongFormat",
    "InvalidName",
    "InvalidAsn",
    "InvalidMessage",
    "InvalidMessage",
    "InvalidMessage",
    "InvalidAuthKey",
    "InvalidMetadata",
]


@pytest.mark.slow
@pytest.mark.parametrize("envelope", ["direct-array", "queue-cloudevents"])
def test_a_batch_of_10000_gives_one_specific_outcome_per_element(
    validator, outcome_schema, envelope
):
    elements = _mixed_batch()
    if envelope == "direct-array":
        event = json.dumps(elements).encode()
    else:
        event = queue_event([json.dumps(element) for element in elements])
    run = run_core(validator, event)

    assert len(run.deliveries) == BATCH
    if envelope == "queue-cloudevents":
        assert len({d.message_id for d in run.deliveries}) == BATCH
    for i, (result, cloud_event) in enumerate(zip(run.results, run.events, strict=True)):
        expected = EXPECTED_CODES[i % len(EXPECTED_CODES)]
        if expected is None:
            assert isinstance(result, ProvisioningRequest), (i, result)
            continue
        assert cloud_event["data"]["error"]["code"] == expected, (i, cloud_event)
    for cloud_event in run.events[:200]:  # the schema check is the slow part; a sample will do
        if cloud_event is not None:
            outcome_schema.validate(cloud_event)
    text = "\n".join(json.dumps(e, ensure_ascii=False) for e in run.events if e)
    assert CANARY not in text
    # Bounds: ~1 ms and ~2 KiB per element would already be pathological.
    assert run.seconds < 60
    assert run.peak_bytes < 256 * MiB
