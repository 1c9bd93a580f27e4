"""The console's pure view: what is masked, what counts as throttled, how outcomes become rows."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from localcloud.calls import Call
from localcloud.console.view import (
    MASK,
    Inputs,
    call_result,
    dead_letter_reasons,
    mask,
    outcome_row,
    parse_body,
    shown_body,
    snapshot,
)

SECRET = "bgp-Secret-1"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["AuthKey", "authkey", "SecurityToken", "Name", "x", "Signature"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _secret_values(value, found):
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower() in {"authkey", "securitytoken", "signature"}:
                found.append(item)
            _secret_values(item, found)
    elif isinstance(value, list):
        for item in value:
            _secret_values(item, found)
    return found


@given(json_values)
def test_mask_leaves_no_value_under_a_secret_name(value):
    assert all(found == MASK for found in _secret_values(mask(value), []))


@given(st.text(max_size=200))
def test_parse_body_never_raises_and_reads_json_or_base64_json(text):
    parsed = parse_body(text)
    plain = json.dumps({"Name": text})
    assert parse_body(plain) == {"Name": text}
    assert parse_body(base64.b64encode(plain.encode()).decode()) == {"Name": text}
    assert parsed is None or isinstance(parsed, (dict, list, str, int, float, bool))


def test_a_body_that_is_not_json_is_described_not_shown():
    body, note = shown_body("AuthKey=bgp-Secret-1 plain text")
    assert body is None
    assert note == "not JSON (31 characters, not shown)"


def test_a_base64_request_is_shown_masked():
    raw = json.dumps({"Name": "gw", "AuthKey": SECRET})
    body, note = shown_body(base64.b64encode(raw.encode()).decode())
    assert (body, note) == ({"Name": "gw", "AuthKey": MASK}, None)


def test_call_results():
    assert call_result(Call("vpc", "CreateCustomerGateway", {}, status=200)) == "answered"
    throttled = Call("vpc", "CreateCustomerGateway", {}, status=400, code="Throttling.User")
    assert call_result(throttled) == "throttled"
    failed = Call("vpc", "CreateCustomerGateway", {}, status=400, code="InvalidIpAddress")
    assert call_result(failed) == "failed"
    assert call_result(Call("vpc", "X", {}, status=None, code=None)) == "failed"


def test_dead_letter_reasons_come_from_the_triggers_writing_to_each_queue():
    state = {
        "triggers": {
            "s/f/a": {"settings": {"dead_letter_queue": "dlq"}, "dead_letter_reasons": {"x": 2}},
            "s/f/b": {"settings": {"dead_letter_queue": "dlq"}, "dead_letter_reasons": {"x": 1}},
            "s/f/c": {"settings": {"dead_letter_queue": None}, "dead_letter_reasons": {"y": 1}},
            "s/g/t": {"type": "mns_topic"},
        }
    }
    assert dead_letter_reasons(state) == {"dlq": {"x": 3}}


def _outcome(kind: str, **data):
    return {
        "message_id": "M1",
        "body": json.dumps(
            {
                "type": f"vpc.customergateway.{kind}",
                "subject": "token-1",
                "time": "2026-12-07T04:00:00Z",
                "data": {"request": {"Name": "<b>x</b>", "AuthKey": MASK}, **data},
            }
        ),
    }


def test_outcome_rows():
    created = outcome_row(
        _outcome("created", customerGateway={"CustomerGatewayId": "cgw-1"}, adopted=True)
    )
    assert created is not None
    assert (created["outcome"], created["gateway_id"], created["adopted"]) == (
        "created",
        "cgw-1",
        True,
    )
    assert created["request"] == {"Name": "<b>x</b>"}
    failed = outcome_row(_outcome("failed", error={"code": "InvalidAsn", "message": "bad"}))
    assert failed is not None
    assert (failed["outcome"], failed["code"], failed["message"]) == ("failed", "InvalidAsn", "bad")
    assert outcome_row({"message_id": "M2", "body": "not an event"}) is None


def test_snapshot_counts_calls_per_second_and_masks_queue_messages():
    now = 1_000_000.5
    calls = [
        Call("vpc", "CreateCustomerGateway", {}, status=200, time=now - 1),
        Call("vpc", "CreateCustomerGateway", {}, status=400, code="Throttling.User", time=now),
        Call("mns", "SendMessage", {}, status=201, time=now),
    ]
    letter = {
        "specversion": "1.0",
        "data": {"messageBody": json.dumps({"IpAddress": "203.0.113.9", "AuthKey": SECRET})},
    }
    view = snapshot(
        Inputs(
            now=now,
            deployment=None,
            fc_state={
                "functions": {},
                "triggers": {
                    "s/f/t": {
                        "type": "eventbridge",
                        "settings": {"dead_letter_queue": "dlq"},
                        "dead_letter_reasons": {"VPC API down": 1},
                    }
                },
            },
            fc_activity={},
            mns={
                "queues": {
                    "dlq": {
                        "visible": 1,
                        "in_flight": 0,
                        "delayed": 0,
                        "oldest_age_s": 2.0,
                        "messages": [
                            {
                                "message_id": "L1",
                                "body": json.dumps(letter),
                                "dequeue_count": 0,
                                "enqueue_time": (now - 2) * 1000,
                            }
                        ],
                    }
                },
                "topics": {},
            },
            vpc_state={"customer_gateways": [{"RegionId": "cn-shanghai"}]},
            calls=calls,
            faults=[{"service": "vpc", "rate_limit_qps": 10}],
        )
    )
    assert view["vpc"]["last_minute"] == {"answered": 1, "throttled": 1, "failed": 0}
    assert view["vpc"]["series"][-1] == {"t": int(now), "answered": 0, "throttled": 1, "failed": 0}
    assert view["vpc"]["series"][-2]["answered"] == 1
    assert view["vpc"]["rate_limit_qps"] == 10.0
    assert view["vpc"]["gateways_by_region"] == {"cn-shanghai": 1}
    (dlq,) = view["queues"]
    assert dlq["dead_letter_queue"] is True
    assert dlq["reasons"] == {"VPC API down": 1}
    assert dlq["messages"][0]["summary"] == {"IpAddress": "203.0.113.9"}
    assert SECRET not in json.dumps(view)


def _wrap(value, how):
    text = json.dumps(value)
    return {"plain": value, "json": text, "base64": base64.b64encode(text.encode()).decode()}[how]


@given(json_values, st.lists(st.sampled_from(["plain", "json", "base64"]), min_size=1, max_size=3))
def test_a_secret_nested_in_json_text_at_any_depth_is_masked(value, wrappings):
    document = {"AuthKey": SECRET, "inner": value}
    for how in wrappings:
        document = {"data": {"messageBody": _wrap(document, how)}}
    assert SECRET not in json.dumps(mask(document))
