"""events.decode_event: every trigger envelope -> the right deliveries; never raises."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgw_provisioner.events import Delivery, EventFormatError, decode_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
REQUESTS = EVENTS / "requests"


def request_bytes(name: str) -> bytes:
    """A request file's object as the samples carry it: compact JSON, UTF-8."""
    value = json.loads((REQUESTS / f"{name}.json").read_text(encoding="utf-8"))
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def sha256_id(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def decode_file(name: str) -> list[Delivery]:
    return decode_event((EVENTS / name).read_bytes())


BRANCHES = ["valid-branch-shanghai-1", "valid-branch-shanghai-2", "valid-branch-beijing-cjk"]


# --- the sample events --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mns-queue-batch.json", "mns-queue-batch-base64.json"])
def test_event_streaming_batch_gives_one_delivery_per_cloud_event(name):
    envelope = json.loads((EVENTS / name).read_text())
    deliveries = decode_file(name)
    assert [d.kind for d in deliveries] == ["mns-queue"] * 3
    assert [d.message_id for d in deliveries] == [e["data"]["messageId"] for e in envelope]
    assert [d.body for d in deliveries] == [request_bytes(n) for n in BRANCHES]


def test_base64_batch_is_decoded_to_the_same_bodies_as_the_plain_one():
    plain, encoded = decode_file("mns-queue-batch.json"), decode_file("mns-queue-batch-base64.json")
    raw = json.loads((EVENTS / "mns-queue-batch-base64.json").read_text())
    assert all(not e["data"]["messageBody"].startswith("{") for e in raw)
    assert plain == encoded


def test_event_driven_single_cloud_event():
    (delivery,) = decode_file("mns-queue-single.json")
    envelope = json.loads((EVENTS / "mns-queue-single.json").read_text())
    assert delivery == Delivery(
        "mns-queue", envelope["data"]["messageId"], request_bytes("valid-lab-private")
    )


def test_rawdata_batch_gives_mns_queue_deliveries():
    deliveries = decode_file("mns-queue-rawdata.json")
    envelope = json.loads((EVENTS / "mns-queue-rawdata.json").read_text())
    assert [d.kind for d in deliveries] == ["mns-queue"] * 3
    assert [d.message_id for d in deliveries] == [e["messageId"] for e in envelope]
    assert [d.body for d in deliveries] == [request_bytes(n) for n in BRANCHES]


def test_poison_batch_still_gives_one_delivery_per_message():
    deliveries = decode_file("mns-queue-batch-poison.json")
    envelope = json.loads((EVENTS / "mns-queue-batch-poison.json").read_text())
    assert [d.message_id for d in deliveries] == [e["data"]["messageId"] for e in envelope]
    assert deliveries[1].body == b"this is not a provisioning request"
    assert deliveries[4].body == request_bytes("invalid-asn-reserved")  # base64 undone


def test_topic_json_notification():
    (delivery,) = decode_file("mns-topic-json.json")
    envelope = json.loads((EVENTS / "mns-topic-json.json").read_text())
    assert delivery == Delivery(
        "mns-topic", envelope["MessageId"], request_bytes("valid-branch-shanghai-2")
    )


def test_topic_json_notification_with_attributes_and_base64_message():
    (delivery,) = decode_file("mns-topic-json-base64-attrs.json")
    envelope = json.loads((EVENTS / "mns-topic-json-base64-attrs.json").read_text())
    assert envelope["source"] == "workflow"  # a message attribute merged at the top level
    assert delivery == Delivery(
        "mns-topic", envelope["MessageId"], request_bytes("valid-branch-beijing-cjk")
    )


def test_topic_stream_raw_request_is_a_direct_delivery():
    raw = (EVENTS / "mns-topic-stream.json").read_bytes()
    (delivery,) = decode_event(raw)
    assert delivery == Delivery("direct", sha256_id(raw), raw)


def test_topic_stream_with_attributes():
    (delivery,) = decode_file("mns-topic-stream-attrs.json")
    body = request_bytes("valid-branch-beijing-cjk")
    assert delivery == Delivery("mns-topic", sha256_id(body), body)


def test_topic_stream_raw_base64_body_is_decoded():
    (delivery,) = decode_file("mns-topic-stream-base64.txt")
    body = request_bytes("valid-lab-private")
    assert delivery == Delivery("direct", sha256_id(body), body)


def test_direct_request_body_is_the_event_itself():
    raw = (EVENTS / "direct-request.json").read_bytes()
    assert decode_event(raw) == [Delivery("direct", sha256_id(raw), raw)]


def test_direct_batch_gives_each_element_its_own_text():
    raw = (
        b'[ {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.11"} ,\n{"IpAddress":"192.0.2.30"}]'
    )
    first, second = decode_event(raw)
    assert first.body == b'{"RegionId": "cn-shanghai", "IpAddress": "203.0.113.11"}'
    assert second.body == b'{"IpAddress":"192.0.2.30"}'
    assert (first.kind, first.message_id) == ("direct", sha256_id(first.body))


def test_direct_batch_sample():
    deliveries = decode_file("direct-batch.json")
    assert [json.loads(d.body) for d in deliveries] == json.loads(
        (EVENTS / "direct-batch.json").read_text()
    )
    assert {d.kind for d in deliveries} == {"direct"}


def test_direct_batch_keeps_duplicate_keys_for_validation_to_see():
    (delivery,) = decode_event(b'[{"IpAddress":"192.0.2.1","IpAddress":"192.0.2.2"}]')
    assert delivery.body == b'{"IpAddress":"192.0.2.1","IpAddress":"192.0.2.2"}'


# --- detection rules and odd envelopes ----------------------------------------------------------


def cloud_event(data, **extra):
    return {
        "specversion": "1.0",
        "id": "CE-1",
        "type": "mns:Queue:SendMessage",
        "data": data,
        **extra,
    }


@pytest.mark.parametrize(
    ("envelope", "kind", "message_id", "body"),
    [
        pytest.param(
            cloud_event({"messageId": "M1", "messageBody": "x"}), "mns-queue", "M1", b"x", id="ce"
        ),
        pytest.param(
            cloud_event({"messageBody": "x"}), "mns-queue", "CE-1", b"x", id="ce-without-message-id"
        ),
        pytest.param(
            cloud_event({"messageId": "M1", "messageBody": {"RegionId": "cn-shanghai"}}),
            "mns-queue",
            "M1",
            b'{"RegionId":"cn-shanghai"}',
            id="ce-body-as-json-object",
        ),
        pytest.param(
            cloud_event({"RegionId": "cn-shanghai"}, type="custom"),
            "mns-queue",
            "CE-1",
            b'{"RegionId":"cn-shanghai"}',
            id="other-ce-data-is-the-request",
        ),
        pytest.param(
            {"messageId": "M2", "messageBody": "y"}, "mns-queue", "M2", b"y", id="rawdata"
        ),
        pytest.param(
            {"TopicOwner": "1", "Message": "z", "MessageId": "M3", "TopicName": "t"},
            "mns-topic",
            "M3",
            b"z",
            id="topic-json",
        ),
        pytest.param(
            {"body": "w", "attrs": {}}, "mns-topic", sha256_id(b"w"), b"w", id="stream-attrs"
        ),
        pytest.param({"body": "w"}, "direct", None, None, id="body-alone-is-a-request"),
        pytest.param(
            {"Message": "m", "MessageId": "M"},
            "direct",
            None,
            None,
            id="message-alone-is-a-request",
        ),
        pytest.param({"RegionId": "cn-shanghai"}, "direct", None, None, id="request"),
    ],
)
def test_detection_by_distinguishing_keys(envelope, kind, message_id, body):
    raw = json.dumps(envelope).encode()
    (delivery,) = decode_event(raw)
    assert delivery.kind == kind
    assert delivery.body == (raw if body is None else body)
    assert delivery.message_id == (message_id or sha256_id(raw))


@pytest.mark.parametrize(
    ("event", "body"),
    [
        pytest.param(b"", b"", id="empty"),
        pytest.param(b"\xff\xfe{}", b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"hello topic", b"hello topic", id="not-json"),
        pytest.param(b'"a string"', b'"a string"', id="json-string"),
        pytest.param(b"42", b"42", id="json-number"),
        pytest.param(b"[" * 100_000, b"[" * 100_000, id="too-deep"),
        pytest.param(b"[1, 2", b"[1, 2", id="truncated-array"),
        pytest.param(b"[1] x", b"[1] x", id="array-then-garbage"),
    ],
)
def test_unsplittable_event_is_one_direct_delivery_of_its_bytes(event, body):
    assert decode_event(event) == [Delivery("direct", sha256_id(body), body)]


DEEP = "[" * 5_000 + "]" * 5_000  # past the decoder's recursion limit


def test_a_deep_single_cloud_event_keeps_its_kind_and_message_id():
    event = json.dumps(cloud_event({"messageId": "M1", "messageBody": "@"})).replace('"@"', DEEP)
    assert decode_event(event.encode()) == [Delivery("mns-queue", "M1", DEEP.encode())]


def test_a_deep_topic_message_keeps_its_kind_and_message_id():
    envelope = {"TopicOwner": "1", "TopicName": "t", "MessageId": "M3", "Message": "@"}
    event = json.dumps(envelope).replace('"@"', DEEP).encode()
    assert decode_event(event) == [Delivery("mns-topic", "M3", DEEP.encode())]


def test_a_deep_element_of_a_direct_batch_is_its_own_delivery():
    deliveries = decode_event(f'[{{"a": 1}}, {DEEP}, {{"b": {DEEP}}}, 2]'.encode())
    bodies = [b'{"a": 1}', DEEP.encode(), f'{{"b": {DEEP}}}'.encode(), b"2"]
    assert deliveries == [Delivery("direct", sha256_id(body), body) for body in bodies]


def test_a_deep_value_that_never_closes_leaves_the_event_unsplittable():
    event = b'[{"a": 1}, ' + b"[" * 5_000 + b"]"
    assert decode_event(event) == [Delivery("direct", sha256_id(event), event)]


def test_invalid_utf8_in_a_single_cloud_event_keeps_its_message_id():
    event = json.dumps(cloud_event({"messageId": "M1", "messageBody": "@"})).encode()
    (delivery,) = decode_event(event.replace(b"@", b"ab\xffcd"))
    assert delivery == Delivery("mns-queue", "M1", b"ab\xffcd")


def test_invalid_utf8_in_a_message_id_falls_back_to_the_body_digest():
    event = json.dumps([{"messageId": "M@", "messageBody": "b"}]).encode()
    (delivery,) = decode_event(event.replace(b"@", b"\xff"))
    assert delivery == Delivery("mns-queue", sha256_id(b"b"), b"b")


def test_a_raw_control_character_in_an_envelope_string_costs_only_that_message():
    event = json.dumps(
        [{"messageId": "M1", "messageBody": "a@b"}, {"messageId": "M2", "messageBody": "c"}]
    )
    deliveries = decode_event(event.replace("@", "\n").encode())
    assert deliveries == [Delivery("mns-queue", "M1", b"a\nb"), Delivery("mns-queue", "M2", b"c")]


def test_empty_array_is_no_delivery():
    assert decode_event(b" [ ] ") == []


def test_array_elements_that_are_not_objects_are_deliveries_too():
    deliveries = decode_event(b'[1, "x", null]')
    assert [d.body for d in deliveries] == [b"1", b'"x"', b"null"]
    assert {d.kind for d in deliveries} == {"direct"}


def test_ten_thousand_message_batch():
    batch = [
        cloud_event({"messageId": f"M{i}", "messageBody": f'{{"n":{i}}}'}) for i in range(10_000)
    ]
    deliveries = decode_event(json.dumps(batch).encode())
    assert len(deliveries) == 10_000
    assert deliveries[9_999] == Delivery("mns-queue", "M9999", b'{"n":9999}')


@pytest.mark.parametrize(
    ("message_id", "expected"),
    [
        pytest.param(12345, "12345", id="integer"),
        pytest.param("", None, id="empty"),
        pytest.param("x" * 129, None, id="too-long"),
        pytest.param("bad\nid", None, id="control-character"),
        pytest.param("标识", None, id="not-ascii"),
        pytest.param(None, None, id="null"),
        pytest.param(True, None, id="boolean"),
    ],
)
def test_unusable_message_ids_fall_back_to_the_body_digest(message_id, expected):
    (delivery,) = decode_event(json.dumps({"messageId": message_id, "messageBody": "b"}).encode())
    assert delivery.message_id == (expected or sha256_id(b"b"))


def test_lone_surrogate_in_a_body_does_not_raise():
    (delivery,) = decode_event(b'{"messageId":"M","messageBody":"\\ud800"}')
    assert delivery.body == "\ud800".encode("utf-8", "surrogatepass")


def test_str_and_bytearray_events_are_accepted_and_other_types_refused():
    assert (
        decode_event('{"a":1}') == decode_event(bytearray(b'{"a":1}')) == decode_event(b'{"a":1}')
    )
    with pytest.raises(EventFormatError):
        decode_event(None)


# --- base64 detection ---------------------------------------------------------------------------


def queue_body(message_body: str) -> bytes:
    (delivery,) = decode_event(json.dumps({"messageId": "M", "messageBody": message_body}).encode())
    return delivery.body


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("VEVTVA==", id="base64-of-text"),
        pytest.param(base64.b64encode(b"[1,2]").decode(), id="base64-of-array"),
        pytest.param(base64.b64encode(b'{"a":1}').decode().rstrip("="), id="unpadded"),
        pytest.param(
            base64.b64encode(b'{"a":1}').decode()[:4]
            + "\n"
            + base64.b64encode(b'{"a":1}').decode()[4:],
            id="newline",
        ),
        pytest.param("eyJrIjoifn5-In0=", id="urlsafe-alphabet"),
        pytest.param(base64.b64encode(b'{"a":1').decode(), id="base64-of-broken-json"),
        pytest.param(base64.b64encode(b'\xff{"a":1}').decode(), id="base64-of-non-utf8"),
        pytest.param("abcd", id="valid-base64-of-garbage"),
    ],
)
def test_bodies_that_are_not_strict_base64_of_a_json_object_are_kept_as_they_are(text):
    assert queue_body(text) == text.encode()


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.text(max_size=8), st.integers() | st.text(max_size=20) | st.booleans(), max_size=6
    )
)
def test_base64_of_any_json_object_round_trips(obj):
    raw = json.dumps(obj, ensure_ascii=False).encode()
    assert queue_body(base64.b64encode(raw).decode()) == raw
    assert queue_body(raw.decode()) == raw  # plain JSON is never taken for base64


# --- derived client token -----------------------------------------------------------------------

kinds = st.sampled_from(["mns-queue", "mns-topic", "direct"])


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds, st.text(max_size=200), st.binary(max_size=300))
def test_derived_token_is_deterministic_short_ascii(kind, message_id, body):
    token = Delivery(kind, message_id, body).derived_client_token()
    assert token == Delivery(kind, message_id, bytes(body)).derived_client_token()
    assert len(token) <= 64
    assert token.isascii()
    assert token.isprintable()
    assert " " not in token


def test_derived_token_depends_on_kind_message_and_body():
    base = Delivery("mns-queue", "M1", b"{}")
    others = [
        Delivery("mns-topic", "M1", b"{}"),
        Delivery("mns-queue", "M2", b"{}"),
        Delivery("mns-queue", "M1", b"{ }"),
    ]
    tokens = {base.derived_client_token(), *(d.derived_client_token() for d in others)}
    assert len(tokens) == 4
    assert base.derived_client_token().startswith("cgw-")


# --- never raises ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
envelope_keys = st.sampled_from(
    [
        "specversion",
        "data",
        "id",
        "messageBody",
        "messageId",
        "Message",
        "MessageId",
        "TopicOwner",
        "TopicName",
        "body",
        "attrs",
        "RegionId",
    ]
)
envelope_like = st.recursive(
    json_values,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(envelope_keys, children, max_size=6)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_never_raises_on_arbitrary_bytes(event):
    deliveries = decode_event(event)
    assert all(
        isinstance(d, Delivery) and isinstance(d.body, bytes) and d.message_id for d in deliveries
    )


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope_like)
def test_never_raises_on_arbitrary_json_and_keeps_one_delivery_per_element(value):
    deliveries = decode_event(json.dumps(value).encode())
    expected = len(value) if isinstance(value, list) else 1
    assert len(deliveries) == expected
    for delivery in deliveries:
        assert delivery.kind in ("mns-queue", "mns-topic", "direct")
        assert 0 < len(delivery.message_id) <= 128 or delivery.message_id.startswith("sha256:")
        assert len(delivery.derived_client_token()) <= 64
