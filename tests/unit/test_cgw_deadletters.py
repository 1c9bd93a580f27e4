"""cgw.py redrive: what a dead letter holds, and the request sent back."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from cgw_provisioner.events import Delivery
from tools.cgwcli.deadletters import parse

REQUEST = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.10", "AuthKey": "bgp-Secret-1"}


def cloud_event(message_id: str, body: str) -> dict:
    """The shape EventBridge pushes for an MNS source (and writes to the dead-letter queue)."""
    return {
        "id": message_id,
        "source": "cgw-requests-trigger",
        "specversion": "1.0",
        "type": "mns:Queue:SendMessage",
        "time": "2026-12-07T04:07:17.741Z",
        "data": {"requestId": "R1", "messageId": message_id, "messageBody": body},
    }


def test_a_request_without_a_token_gets_the_token_the_function_derived():
    body = json.dumps(REQUEST)
    (dead,) = parse(json.dumps(cloud_event("M-1", body)))
    sent = json.loads(dead.redrive_body())
    expected = Delivery("mns-queue", "M-1", body.encode()).derived_client_token()
    assert sent == {**REQUEST, "ClientToken": expected}


def test_a_request_keeps_its_own_token():
    body = json.dumps({**REQUEST, "ClientToken": "order-4711"})
    (dead,) = parse(json.dumps(cloud_event("M-1", body)))
    assert json.loads(dead.redrive_body())["ClientToken"] == "order-4711"


def test_a_batch_raw_data_and_base64_forms_are_all_read():
    a, b = json.dumps({**REQUEST, "IpAddress": "203.0.113.1"}), json.dumps(REQUEST)
    batch = parse(json.dumps([cloud_event("M-1", a), cloud_event("M-2", b)]))
    assert [(d.message_id, d.body) for d in batch] == [("M-1", a), ("M-2", b)]
    (raw,) = parse(json.dumps({"requestId": "R", "messageId": "M-3", "messageBody": a}))
    assert (raw.message_id, raw.body) == ("M-3", a)
    encoded = base64.b64encode(json.dumps(cloud_event("M-4", a)).encode()).decode()
    (b64,) = parse(encoded)
    assert (b64.message_id, b64.body) == ("M-4", a)


def test_a_base64_message_body_is_decoded_like_the_function_does():
    body = base64.b64encode(json.dumps(REQUEST).encode()).decode()
    (dead,) = parse(json.dumps(cloud_event("M-1", body)))
    assert dead.request() == REQUEST
    expected = Delivery("mns-queue", "M-1", json.dumps(REQUEST).encode()).derived_client_token()
    assert json.loads(dead.redrive_body())["ClientToken"] == expected


def test_anything_else_is_the_original_body_sent_back_unchanged():
    (dead,) = parse("not json at all")
    assert (dead.message_id, dead.redrive_body()) == (None, "not json at all")
    (plain,) = parse(json.dumps({**REQUEST, "ClientToken": "t-1"}))
    assert plain.request() == {**REQUEST, "ClientToken": "t-1"}


def test_the_summary_names_the_request_never_its_auth_key():
    (dead,) = parse(json.dumps(cloud_event("M-1", json.dumps(REQUEST))))
    summary = dead.summary()
    assert summary["messageId"] == "M-1"
    assert (summary["RegionId"], summary["IpAddress"]) == ("cn-shanghai", "203.0.113.10")
    assert summary["sent"] == "2026-12-07T04:07:17.741Z"
    assert "bgp-Secret-1" not in json.dumps(summary)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_letter_parses_to_requests_to_send_back(body):
    found = parse(body)
    assert found
    for dead in found:
        assert isinstance(dead.redrive_body(), str)
        assert isinstance(dead.summary(), dict)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4),
    st.text(min_size=1, max_size=30),
)
def test_redriven_bodies_keep_every_field_and_add_only_a_token(request, message_id):
    (dead,) = parse(json.dumps(cloud_event(message_id, json.dumps(request))))
    sent = json.loads(dead.redrive_body())
    assert {k: v for k, v in sent.items() if k != "ClientToken"} == {
        k: v for k, v in request.items() if k != "ClientToken"
    }
    assert sent["ClientToken"] == request.get("ClientToken", sent["ClientToken"])
