"""Golden values: the ids that make a redelivery on another FC instance safe, pinned.

Identity contract v1 (docs/testing.md, "The identity contract"). For fixed inputs these
values were computed once and written down here as literals: they are the contract, not the
output of the code under test. Any change to how a message id, a derived ClientToken or an
outcome event id is computed breaks a redelivery that lands on an instance running the other
version (a second gateway, a second outcome id), so it fails here first. Changing one is a
deliberate decision: a new contract version in docs/testing.md, and new literals.
"""

from __future__ import annotations

import json

import pytest

from cgw_provisioner.events import Delivery, decode_event
from cgw_provisioner.outcomes import CREATED, FAILED, event_id, rejected, to_cloud_event
from cgw_provisioner.validation import RequestValidator

DIRECT_BODY = b'{"RegionId":"cn-shanghai","IpAddress":"203.0.113.10"}'
INVALID_BODY = b'{"RegionId":"cn-shanghai"}'
CJK_BODY = '{"RegionId":"cn-shanghai","IpAddress":"203.0.113.12","Name":"北京分部"}'.encode()
QUEUE_EVENT = json.dumps(
    [
        {
            "id": "EV1",
            "source": "MNS-q",
            "specversion": "1.0",
            "type": "mns:Queue:SendMessage",
            "subject": "acs:mns:cn-shanghai:1234567890123456:queues/cgw-requests",
            "data": {"requestId": "R1", "messageId": "MSG-42", "messageBody": DIRECT_BODY.decode()},
        }
    ]
).encode()
TOPIC_EVENT = json.dumps(
    {
        "TopicOwner": "1234567890123456",
        "TopicName": "cgw-requests",
        "MessageId": "DF9C83BF90AF3CFC79800C82E6E804B9",
        "Message": '{"RegionId":"cn-shanghai","IpAddress":"203.0.113.11"}',
    }
).encode()


@pytest.mark.parametrize(
    ("event", "kind", "message_id", "token"),
    [
        pytest.param(
            DIRECT_BODY,
            "direct",
            "sha256:90a3776fe3714fc06a1a0c574ecbc88aeccd327f8288f7dbb9cba5dfa4c42b6b",
            "cgw-6efe12c8f848a0054056f066430b8133a4e9afd8",
            id="direct",
        ),
        pytest.param(
            INVALID_BODY,
            "direct",
            "sha256:d38168e7f9297ebb233336c7bac5aca4a6c4d4845762d70c06e42f2b377d4415",
            "cgw-9df5f0763609f2f4ff4add8420a2545e73685e2f",
            id="direct-invalid",
        ),
        pytest.param(
            CJK_BODY,
            "direct",
            "sha256:e35e2dc85aa3f169d30e99b1a47f9f450572a9109950d37e1067cc27b91fa81c",
            "cgw-9dce2d5e8c8d159f33d383d248df7fc9e819dead",
            id="direct-utf8",
        ),
        pytest.param(
            QUEUE_EVENT,
            "mns-queue",
            "MSG-42",
            "cgw-304626b6ffba794fe8a4572c37d4d5ef4e44a27e",
            id="mns-queue",
        ),
        pytest.param(
            TOPIC_EVENT,
            "mns-topic",
            "DF9C83BF90AF3CFC79800C82E6E804B9",
            "cgw-864a270e80c35aa43c8a24599d8dc3a6cfdae521",
            id="mns-topic",
        ),
    ],
)
def test_message_id_and_derived_client_token_are_pinned(event, kind, message_id, token):
    [delivery] = decode_event(event)
    assert (delivery.kind, delivery.message_id) == (kind, message_id)
    assert delivery.derived_client_token() == token


def test_the_token_depends_on_kind_message_id_and_body():
    base = Delivery("mns-queue", "MSG-1", DIRECT_BODY)
    assert base.derived_client_token() == "cgw-ea002a34f9ffc0049a74a4e3393cc23132c4513a"
    assert Delivery("mns-topic", "MSG-1", DIRECT_BODY).derived_client_token() != (
        base.derived_client_token()
    )


@pytest.mark.parametrize(
    ("token", "event_type", "discriminator", "expected"),
    [
        (
            "cgw-ea002a34f9ffc0049a74a4e3393cc23132c4513a",
            CREATED,
            "cgw-uf6abc",
            "9cef55bb-2e4f-0054-6ad0-ff5252adacc5",
        ),
        (
            "cgw-ea002a34f9ffc0049a74a4e3393cc23132c4513a",
            FAILED,
            "MissingIpAddress",
            "9fc354bd-864c-c5db-9cb8-4b2b39bf0a60",
        ),
        ("tok-1", CREATED, "cgw-uf6abc", "21d6485d-0801-8c0d-5911-a033fe3712fd"),
        # an API error code is the API's text: a lone surrogate in it still gets an id
        (
            "cgw-ea002a34f9ffc0049a74a4e3393cc23132c4513a",
            FAILED,
            "Odd\ud800Code",
            "88c9bf6d-cdac-6d17-f7c2-0267cc4bfd55",
        ),
    ],
)
def test_event_id_is_pinned(token, event_type, discriminator, expected):
    assert (CREATED, FAILED) == ("vpc.customergateway.created", "vpc.customergateway.failed")
    assert event_id(token, event_type, discriminator) == expected


def test_a_rejected_direct_request_has_a_pinned_outcome_event():
    """The whole chain for one input: body -> message id -> token -> outcome event id."""
    [delivery] = decode_event(INVALID_BODY)
    outcome = rejected(delivery, RequestValidator().validate(INVALID_BODY))
    event = to_cloud_event(outcome, source="acs:fc:cn-shanghai:1:services/s/functions/f", time="t")
    assert event["subject"] == "cgw-9df5f0763609f2f4ff4add8420a2545e73685e2f"
    assert event["id"] == "994a21d3-ea58-7796-75ce-e0c23667a878"
    assert event["data"]["trigger"] == {
        "kind": "direct",
        "messageId": "sha256:d38168e7f9297ebb233336c7bac5aca4a6c4d4845762d70c06e42f2b377d4415",
    }
