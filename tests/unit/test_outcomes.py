"""outcomes: rejected() and to_cloud_event(): deterministic ids, masked secrets, both types."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgw_provisioner.events import Delivery
from cgw_provisioner.outcomes import (
    CREATED,
    FAILED,
    MASK,
    MAX_DETAILS,
    MAX_REQUEST_ECHO_BYTES,
    Outcome,
    OutcomeError,
    _json_safe,
    _metadata_echo,
    _request_echo,
    event_source,
    rejected,
    to_cloud_event,
)
from cgw_provisioner.validation import KNOWN_FIELDS, MAX_METADATA_BYTES, RequestValidator

SOURCE = event_source(
    "cn-shanghai", "1234567890123456", "cgw-provisioner", "create-customer-gateway"
)
TIME = "2026-11-25T08:00:00Z"
DELIVERY = Delivery("mns-queue", "8BA1C7881EBF8D3CB6AF4D51F21845E3", b"{}")
GATEWAY = {
    "CustomerGatewayId": "cgw-bp1aw0a5nfff03xp1abcd",
    "IpAddress": "203.0.113.10",
    "Name": "branch-1",
    "Description": "Branch office",
    "Asn": 65001,
    "CreateTime": 1764057600000,
}
REQUEST = {
    "RegionId": "cn-shanghai",
    "IpAddress": "203.0.113.10",
    "AuthKey": "bgp-Secret-1",
    "ClientToken": "order-4711",
    "Metadata": {"orderId": "4711"},
}


@pytest.fixture(scope="module")
def validator():
    return RequestValidator()


def created(**changes) -> Outcome:
    fields = {
        "delivery": DELIVERY,
        "client_token": "order-4711",
        "request_fields": REQUEST,
        "attempts": 1,
        "vpc_request_id": "D32B3C26-6C6C-4988-93E9-D2A6444CE6AE",
        "customer_gateway": GATEWAY,
        **changes,
    }
    return Outcome(**fields)


def failed(code="Resource.QuotaFull", **changes) -> Outcome:
    error = OutcomeError(code, "The quota of resource is full", 400, False)
    return created(customer_gateway=None, error=error, **changes)


def test_event_source_is_the_function_arn():
    assert SOURCE == (
        "acs:fc:cn-shanghai:1234567890123456:services/cgw-provisioner/functions/create-customer-gateway"
    )


def test_created_event():
    event = to_cloud_event(created(adopted=True), source=SOURCE, time=TIME)
    assert {k: v for k, v in event.items() if k not in ("id", "data")} == {
        "specversion": "1.0",
        "source": SOURCE,
        "type": CREATED,
        "subject": "order-4711",
        "time": TIME,
        "datacontenttype": "application/json",
    }
    assert event["data"] == {
        "request": {**REQUEST, "AuthKey": MASK},
        "trigger": {"kind": "mns-queue", "messageId": DELIVERY.message_id},
        "attempts": 1,
        "vpcRequestId": "D32B3C26-6C6C-4988-93E9-D2A6444CE6AE",
        "metadata": {"orderId": "4711"},
        "customerGateway": GATEWAY,
        "adopted": True,
    }


def test_failed_event():
    event = to_cloud_event(failed(attempts=3), source=SOURCE, time=TIME)
    assert event["type"] == FAILED
    assert event["data"]["error"] == {
        "code": "Resource.QuotaFull",
        "message": "The quota of resource is full",
        "httpStatus": 400,
        "retryable": False,
        "details": [],
    }
    assert "customerGateway" not in event["data"]
    assert "adopted" not in event["data"]
    assert event["data"]["attempts"] == 3


def test_auth_key_never_leaves_in_the_event():
    for outcome in (created(), failed()):
        assert "bgp-Secret-1" not in json.dumps(to_cloud_event(outcome, source=SOURCE, time=TIME))
    assert REQUEST["AuthKey"] == "bgp-Secret-1"  # the caller's mapping is not modified


def test_auth_key_of_an_adopted_gateway_is_masked_too():
    described = {**GATEWAY, "AuthKey": "bgp-Secret-1"}
    outcome = created(customer_gateway=described, adopted=True)
    event = to_cloud_event(outcome, source=SOURCE, time=TIME)
    assert event["data"]["customerGateway"]["AuthKey"] == MASK


def test_id_is_deterministic_and_depends_on_token_type_and_result():
    first = to_cloud_event(created(), source=SOURCE, time=TIME)["id"]
    again = to_cloud_event(created(attempts=2), source="other", time="2027-01-01T00:00:00Z")["id"]
    assert first == again  # same request (token), same outcome: same id, however it was reached
    others = {
        to_cloud_event(created(client_token="other-token"), source=SOURCE, time=TIME)["id"],
        to_cloud_event(
            created(customer_gateway={**GATEWAY, "CustomerGatewayId": "cgw-2"}),
            source=SOURCE,
            time=TIME,
        )["id"],
        to_cloud_event(failed(), source=SOURCE, time=TIME)["id"],
        to_cloud_event(failed("Forbidden"), source=SOURCE, time=TIME)["id"],
    }
    assert first not in others
    assert len(others) == 4


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=64), st.sampled_from(["cgw-1", "cgw-2"]))
def test_id_is_uuid_shaped_and_stable(token, gateway_id):
    outcome = created(client_token=token, customer_gateway={"CustomerGatewayId": gateway_id})
    ids = {to_cloud_event(outcome, source=SOURCE, time=TIME)["id"] for _ in range(2)}
    (event_id,) = ids
    assert [len(part) for part in event_id.split("-")] == [8, 4, 4, 4, 12]


def test_rejection_outcome_uses_the_requests_own_valid_token(validator):
    body = json.dumps(
        {"RegionId": "cn-shanghai", "ClientToken": "order-9", "AuthKey": "k?"}
    ).encode()
    delivery = Delivery("direct", "sha256:00", body)
    outcome = rejected(delivery, validator.validate(body))
    assert (outcome.client_token, outcome.attempts, outcome.created) == ("order-9", 0, False)
    event = to_cloud_event(outcome, source=SOURCE, time=TIME)
    assert event["subject"] == "order-9"
    assert event["data"]["request"]["AuthKey"] == MASK
    error = event["data"]["error"]
    assert (error["code"], error["httpStatus"], error["retryable"]) == (
        "MissingIpAddress",
        None,
        False,
    )
    assert [(d["pointer"], d["rule"], d["code"]) for d in error["details"]] == [
        ("/IpAddress", "required", "MissingIpAddress"),
        ("/AuthKey", "pattern", "InvalidAuthKey"),
    ]


@pytest.mark.parametrize(
    ("body", "token"),
    [  # golden values (identity contract v1, see test_golden_ids.py)
        pytest.param(b"not json", "cgw-36900d442c35935b1f2afa79a789be8a5ebd2a6c", id="not-json"),
        pytest.param(
            b'{"RegionId":"cn-shanghai","ClientToken":"bad token"}',
            "cgw-8cc69dfd0020bc62fcb4aef603f1ea4dcf7d1f22",
            id="invalid-token",
        ),
        pytest.param(
            b'{"RegionId":"cn-shanghai","ClientToken":7}',
            "cgw-180db87c4f330fae8255c8993253ba087921e983",
            id="token-not-a-string",
        ),
    ],
)
def test_rejection_outcome_falls_back_to_the_derived_token(validator, body, token):
    delivery = Delivery("mns-queue", "M1", body)
    outcome = rejected(delivery, validator.validate(body))
    assert outcome.client_token == token


def test_rejection_of_a_non_object_echoes_no_request(validator):
    outcome = rejected(DELIVERY, validator.validate(b"[1]"))
    data = to_cloud_event(outcome, source=SOURCE, time=TIME)["data"]
    assert (data["request"], data["metadata"]) == (None, None)


def test_invalid_metadata_is_not_echoed_as_metadata(validator):
    body = json.dumps({"RegionId": "cn-shanghai", "Metadata": {"blob": "x" * 5000}}).encode()
    data = to_cloud_event(rejected(DELIVERY, validator.validate(body)), source=SOURCE, time=TIME)[
        "data"
    ]
    assert data["metadata"] is None


def test_big_request_echo_is_dropped_and_details_are_capped(validator):
    body = json.dumps({f"Unknown{i}": "x" * 100 for i in range(300)}).encode()
    event = to_cloud_event(rejected(DELIVERY, validator.validate(body)), source=SOURCE, time=TIME)
    assert event["data"]["request"] is None
    assert len(event["data"]["error"]["details"]) == MAX_DETAILS
    assert "302 violations" in event["data"]["error"]["message"]
    assert len(json.dumps(event)) < 32 * 1024


def test_details_with_huge_keys_stay_small(validator):
    body = ('{"RegionId":"cn-shanghai","' + "k" * 30_000 + '":1}').encode()
    event = to_cloud_event(rejected(DELIVERY, validator.validate(body)), source=SOURCE, time=TIME)
    assert len(json.dumps(event)) < 4 * 1024


def test_lone_surrogates_are_replaced_so_the_event_encodes_as_utf8():
    outcome = failed(request_fields={"RegionId": "cn-shanghai", "Name": "x\ud800"})
    event = to_cloud_event(outcome, source=SOURCE, time=TIME)
    json.dumps(event, ensure_ascii=False).encode("utf-8")
    assert event["data"]["request"]["Name"] == "x?"


def test_an_error_message_quoting_a_key_with_a_lone_surrogate_encodes_as_utf8(validator):
    # Found by the core fuzz suite: the message names the offending key, surrogate and all.
    body = b'{"RegionId": "cn-shanghai", "IpAddress": "1.0.0.1", "Name": {"\\ud800x": null}}'
    event = to_cloud_event(rejected(DELIVERY, validator.validate(body)), source=SOURCE, time=TIME)
    json.dumps(event, ensure_ascii=False).encode("utf-8")
    assert "Name.?x" in event["data"]["error"]["message"]


def test_outcome_with_neither_gateway_nor_error_is_reported_as_failed():
    event = to_cloud_event(created(customer_gateway=None), source=SOURCE, time=TIME)
    assert (event["type"], event["data"]["error"]["code"]) == (FAILED, "InternalError")


def test_error_wins_over_a_gateway():
    outcome = created(error=OutcomeError("Throttling.User", "flow control", 400, True))
    assert not outcome.created
    assert to_cloud_event(outcome, source=SOURCE, time=TIME)["type"] == FAILED


def test_unknown_fields_are_echoed_by_name_only(validator):
    # One flipped bit turns AuthKey into an unknown field: its value is a secret all the same.
    body = json.dumps({"RegionId": "cn-shanghai", "@uthKey": "bgp-Secret-1", "Extra": 7}).encode()
    event = to_cloud_event(rejected(DELIVERY, validator.validate(body)), source=SOURCE, time=TIME)
    assert event["data"]["request"] == {"RegionId": "cn-shanghai", "@uthKey": MASK, "Extra": MASK}
    assert "bgp-Secret-1" not in json.dumps(event)


class _Text(str):
    pass


class _Number(int):
    pass


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["x\ud800", "\udcff", _Text("sub"), _Number(5), (1, 2), 1j]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5) | st.sampled_from(["k\udc80", 1, None]), children)
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_like)
def test_the_json_safe_copy_is_the_json_round_trip(value):
    # What _json_safe did before it learnt to copy plain values without encoding them.
    text = json.dumps(value, ensure_ascii=False, default=str)
    expected = json.loads(text.encode("utf-8", "replace").decode("utf-8"))
    copy = _json_safe(value)
    assert copy == expected
    assert json.dumps(copy, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=8) | st.sampled_from(["Metadata", "AuthKey"]), json_like))
def test_the_echoes_write_what_the_json_safe_copy_writes(fields):
    """The echoes skip the copy when the value encodes as it is: the JSON is the same."""
    safe = _json_safe({k: (MASK if k == "AuthKey" else v) for k, v in fields.items()})
    size = len(json.dumps(safe, ensure_ascii=False).encode("utf-8"))
    expected = (
        None
        if size > MAX_REQUEST_ECHO_BYTES
        else {k: (v if k in KNOWN_FIELDS else MASK) for k, v in safe.items()}
    )
    echo = _request_echo(fields)
    assert json.dumps(echo, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    json.dumps(echo, ensure_ascii=False).encode("utf-8")  # (no lone surrogate left)
    metadata = fields.get("Metadata")
    if isinstance(metadata, dict):
        copy = _json_safe(metadata)
        compact = json.dumps(copy, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        expected_metadata = copy if len(compact) <= MAX_METADATA_BYTES else None
        written = json.dumps(_metadata_echo(metadata), ensure_ascii=False)
        assert written == json.dumps(expected_metadata, ensure_ascii=False)
