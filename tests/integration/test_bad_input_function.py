"""Bad input through the deployed-shape function against localcloud: one queue batch holding a
valid request beside hostile ones (over 64 KiB, nested past the recursion limit, invalid UTF-8,
huge values, a planted AuthKey). Each hostile message gets its own specific failed outcome on
the result topic, the valid one is created, the invocation succeeds (the trigger deletes the
batch: nothing is redelivered forever), and the planted secret is in no log line and no event.
"""

from __future__ import annotations

import base64
import json

import pytest

CANARY = "CanaryAuthKey-bad-input-4c2e"
VALID = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.90", "AuthKey": CANARY}


def _queue_batch(bodies: list[str]) -> bytes:
    return json.dumps(
        [
            {
                "id": f"BADINPUT{i:024d}",
                "source": "MNS-cgw-queue-trigger",
                "specversion": "1.0",
                "type": "mns:Queue:SendMessage",
                "subject": "acs:mns:cn-shanghai:1234567890123456:queues/cgw-requests",
                "time": "2026-11-25T08:00:00Z",
                "data": {
                    "requestId": f"REQ{i:021d}",
                    "messageId": f"BADINPUT{i:024d}",
                    "messageBody": body,
                },
            }
            for i, body in enumerate(bodies)
        ]
    ).encode()


HOSTILE = [
    # (message body, expected error.code, expected rule in error.details)
    (json.dumps({**VALID, "Description": "d" * 70_000}), "InvalidMessage", "body-size"),
    ('{"RegionId": "cn-shanghai", "Metadata": ' + "[" * 5000 + "]" * 5000 + "}",
     "InvalidMessage", "max-depth"),
    (base64.b64encode(b'{"RegionId": "cn-\xff\xfe"}').decode(), "InvalidMessage", "not-json"),
    (json.dumps({**VALID, "Name": "n" * 60_000}), "InvalidName", "maxLength"),
    (json.dumps({**VALID, "AuthKey": CANARY + " ?" * 20_000}), "InvalidAuthKey", "maxLength"),
    (json.dumps({**VALID, "AuthKey": CANARY + "?"}), "InvalidAuthKey", "pattern"),
    (json.dumps({**VALID, "Tags": [{"Key": "k" * 50_000}]}), "InvalidTags", "maxLength"),
]  # fmt: skip


@pytest.mark.slow
def test_hostile_messages_fail_alone_with_specific_codes_and_leak_nothing(cloud, capsys):
    bodies = [json.dumps(VALID)] + [body for body, _, _ in HOSTILE]
    summary = cloud.invoke(_queue_batch(bodies))

    assert summary["total"] == len(bodies)
    assert summary["created"] == 1
    assert summary["failed"] == len(HOSTILE)
    assert summary["redelivery"] == 0
    published = {p.event["data"]["trigger"]["messageId"]: p for p in cloud.outcomes()}
    assert len(published) == len(bodies)
    first = published[f"BADINPUT{0:024d}"]
    assert first.tag == "created"
    assert first.event["data"]["customerGateway"]["IpAddress"] == VALID["IpAddress"]
    for i, (_, code, rule) in enumerate(HOSTILE, start=1):
        outcome = published[f"BADINPUT{i:024d}"]
        assert outcome.tag == "failed"
        error = outcome.event["data"]["error"]
        assert error["code"] == code, (i, error)
        assert any(detail["rule"] == rule for detail in error["details"]), (i, error)
        assert len(json.dumps(outcome.event).encode()) <= 64 * 1024
    assert len(cloud.gateways()) == 1
    logs = capsys.readouterr().out
    assert logs, "the function logs"
    assert CANARY not in logs
    assert all(CANARY not in json.dumps(p.event) for p in published.values())
