"""Two FC instances (two processes) handle the same delivery: one gateway, the same ids.

A redelivery can land on another instance of the function: another process, another
interpreter, another PYTHONHASHSEED. Both must derive the same ClientToken (so VPC answers
with the same gateway) and publish the same outcome event id (so a consumer deduplicates).
The token is also the pinned golden value of identity contract v1 (tests/unit/test_golden_ids).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.test_golden_ids import QUEUE_EVENT

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_TOKEN = "cgw-304626b6ffba794fe8a4572c37d4d5ef4e44a27e"  # QUEUE_EVENT's derived token


def _instances(cloud, event: bytes, hash_seeds: tuple[str, ...]) -> list[dict]:
    """Run one instance process per hash seed on `event`, all started before any is read."""
    pythonpath = os.pathsep.join([str(ROOT), str(ROOT / "functions" / "create_customer_gateway")])
    processes = []
    for seed in hash_seeds:
        env = {
            **os.environ,
            "PYTHONPATH": pythonpath,
            "PYTHONHASHSEED": seed,
            "TEST_REGION": cloud.region,
            "TEST_ACCOUNT_ID": cloud.account_id,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.instance_process"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        processes.append(process)
    for process in processes:
        process.stdin.write(event)
        process.stdin.close()
    results = []
    for process in processes:
        out = process.stdout.read()
        err = process.stderr.read()
        assert process.wait(timeout=120) == 0, err.decode(errors="replace")
        result = json.loads(out.decode().splitlines()[-1])
        results.append(result)
    return results


def test_two_instances_handle_the_same_delivery_alike(cloud):
    first, second = _instances(cloud, QUEUE_EVENT, ("1", "2"))
    assert first["pid"] != second["pid"]
    for result in (first, second):
        answer = result["answer"]
        assert (answer["total"], answer["created"], answer["failed"]) == (1, 1, 0), answer
    [one] = first["answer"]["outcomes"]
    [other] = second["answer"]["outcomes"]
    assert one["eventId"] == other["eventId"]

    [gateway] = cloud.gateways()
    calls = cloud.calls("CreateCustomerGateway")
    assert [c["parameters"]["ClientToken"] for c in calls] == [GOLDEN_TOKEN, GOLDEN_TOKEN]
    assert sorted(c["created"] for c in calls) == [False, True]  # the second got the same one

    published = cloud.outcomes()
    assert [o.tag for o in published] == ["created", "created"]
    assert {o.event["id"] for o in published} == {one["eventId"]}
    for outcome in published:
        assert outcome.event["subject"] == GOLDEN_TOKEN
        data = outcome.event["data"]
        assert data["customerGateway"]["CustomerGatewayId"] == gateway.customer_gateway_id
        assert data["adopted"] is False  # found by its token, not adopted by its address
        assert data["trigger"] == {"kind": "mns-queue", "messageId": "MSG-42"}
