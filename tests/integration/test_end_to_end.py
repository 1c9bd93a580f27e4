"""The whole path on localcloud, deployed from template.yml, driven as production drives it.

requests --aliyun-mns-sdk--> the template's request queue --EventBridge trigger (emulated)-->
the function in worker-process instances --VPC API--> localcloud's gateways; outcomes -->
the template's result topic --> a subscribed inbox queue, read with aliyun-mns-sdk.
The function runs with the role credential restricted to the template's policy, so a call the
policy does not allow would fail here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import fc2
import pytest
from mns.account import Account
from mns.mns_exception import MNSExceptionBase
from mns.queue import Message, QueueMeta
from mns.subscription import SubscriptionMeta

from localcloud import LocalCloud
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yml"
REQUESTS = ROOT / "events" / "requests"
INBOX = "e2e-inbox"

pytestmark = pytest.mark.timeout(300)


class Stack:
    """The deployed template seen from outside: MNS SDK in, MNS SDK out, fc2 for invoke."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.outputs = cloud.deployment.outputs
        self.account = Account(
            cloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
        )
        self.inbox = self.account.get_queue(INBOX)
        self.inbox.create(QueueMeta())
        self.inbox.set_encoding(False)
        endpoint = f"acs:mns:{cloud.cloud.region}:{cloud.cloud.account_id}:queues/{INBOX}"
        self.account.get_topic(self.outputs["ResultTopicName"]).get_subscription("e2e").subscribe(
            SubscriptionMeta(endpoint, notify_content_format="SIMPLIFIED")
        )
        self.request_queue = self.account.get_queue(self.outputs["RequestQueueName"])
        self.fc = fc2.Client(
            endpoint=cloud.cloud.base_url,
            accessKeyID=DEFAULT_ACCESS_KEY_ID,
            accessKeySecret=DEFAULT_ACCESS_KEY_SECRET,
        )

    def send(self, body: str) -> str:
        return self.request_queue.send_message(Message(body)).message_id

    def outcomes(self, count: int, timeout: float = 90) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            try:
                messages = self.inbox.batch_receive_message(16, wait_seconds=1)
            except MNSExceptionBase:
                continue
            for message in messages:
                self.inbox.delete_message(message.receipt_handle)
                events.append(json.loads(message.message_body))
        assert len(events) >= count, f"got {len(events)} of {count} outcomes"
        return events

    def by_message(self, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {e["data"]["trigger"]["messageId"]: e for e in events}

    def gateways(self) -> list[dict[str, Any]]:
        return self.cloud.cloud.backends.vpc.state()["customer_gateways"]

    def role_calls(self) -> list[dict[str, Any]]:
        role = self.cloud.cloud.backends.fc.role_credential.access_key_id
        return [c for c in self.cloud.cloud.calls.snapshot() if c["access_key_id"] == role]

    def queue_counts(self, name: str) -> int:
        q = self.cloud.cloud.backends.mns.get_queue(name)
        return q["ActiveMessages"] + q["InactiveMessages"]

    def drained(self, name: str, within: float = 10.0) -> int:
        """The queue's count once it reaches 0, or after `within` seconds. The trigger deletes
        a batch only when its invocation has returned, which is after the batch's outcomes are
        published: a queue read as soon as the last outcome arrives may still hold it."""
        deadline = time.monotonic() + within
        while (count := self.queue_counts(name)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return count


@pytest.fixture(scope="module")
def deployed():
    with LocalCloud(template=TEMPLATE, trigger_time_scale=0.01) as cloud:
        yield cloud


@pytest.fixture
def stack(deployed) -> Stack:
    deployed.cloud.reset()  # empties every backend and deploys the template again
    return Stack(deployed)


def _request_files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(REQUESTS.iterdir())}


def test_every_sample_request_gets_its_outcome(stack):
    files = _request_files()
    sent = {stack.send(body): name for name, body in files.items()}
    events = stack.by_message(stack.outcomes(len(files)))
    assert set(events) == set(sent)
    outcome = {sent[mid]: e for mid, e in events.items()}

    for name, event in outcome.items():
        if name.startswith(("invalid", "poison")):
            assert event["type"] == "vpc.customergateway.failed", name
            assert event["data"]["attempts"] == 0
        else:
            assert event["type"] == "vpc.customergateway.created", name
    assert outcome["poison-not-json.txt"]["data"]["error"]["code"] == "InvalidMessage"
    assert outcome["invalid-asn-reserved.json"]["data"]["error"]["code"] == "InvalidAsn"

    # the duplicate (same ClientToken) and the same-IP request end on ONE gateway
    ids = {
        outcome[n]["data"]["customerGateway"]["CustomerGatewayId"]
        for n in (
            "valid-branch-shanghai-1.json",
            "duplicate-branch-shanghai-1.json",
            "same-ip-other-token.json",
        )
    }
    assert len(ids) == 1
    created = [e for e in outcome.values() if e["type"].endswith(".created")]
    in_vpc = {g["CustomerGatewayId"] for g in stack.gateways()}
    assert {e["data"]["customerGateway"]["CustomerGatewayId"] for e in created} == in_vpc
    assert len(in_vpc) == len(created) - 2
    assert "bgp-Secret-1" not in json.dumps(events)

    # every message was deleted from the request queue; nothing was dead-lettered
    assert stack.drained(stack.outputs["RequestQueueName"]) == 0
    assert stack.queue_counts(stack.outputs["DeadLetterQueueName"]) == 0


def test_the_role_calls_only_what_the_template_policy_allows(stack):
    bodies = [
        b for n, b in _request_files().items() if n.startswith(("valid", "duplicate", "same-ip"))
    ]
    for body in bodies:
        stack.send(body)
    stack.outcomes(len(bodies))  # (every one: a late outcome would land in the next test)
    calls = stack.role_calls()
    actions = {c["action"] for c in calls}
    allowed = stack.cloud.cloud.credentials.get(
        stack.cloud.cloud.backends.fc.role_credential.access_key_id
    ).allowed_actions
    assert {"CreateCustomerGateway", "PublishMessage"} <= actions <= allowed
    assert all(c["code"] not in ("Forbidden", "AccessDenied") for c in calls)


def test_throttled_vpc_api_still_yields_every_gateway(stack):
    stack.cloud.cloud.faults.set_rules(
        [{"service": "vpc", "action": "CreateCustomerGateway", "rate_limit_qps": 2, "burst": 1}]
    )
    bodies = [
        json.dumps(
            {
                "RegionId": "cn-shanghai",
                "IpAddress": f"198.51.100.{i}",
                "ClientToken": f"throttle-{i}",
            }
        )
        for i in range(1, 9)
    ]
    sent = {stack.send(b) for b in bodies}
    events = stack.by_message(stack.outcomes(len(bodies), timeout=120))
    assert set(events) == sent
    assert all(e["type"] == "vpc.customergateway.created" for e in events.values())
    throttled = [c for c in stack.cloud.cloud.calls.snapshot() if c["code"] == "Throttling.User"]
    assert throttled, "the rate limit rule never fired"
    assert max(e["data"]["attempts"] for e in events.values()) > 1
    assert len(stack.gateways()) == len(bodies)


def test_a_poison_message_in_a_batch_does_not_hold_back_the_others(stack):
    sent = {
        stack.send("not json at all {"): "poison",
        stack.send(json.dumps({"RegionId": "cn-shanghai", "IpAddress": "192.0.2.77"})): "valid",
        stack.send(json.dumps({"IpAddress": "192.0.2.78"})): "invalid",
    }
    events = stack.by_message(stack.outcomes(3))
    kinds = {sent[m]: e["type"].rsplit(".", 1)[-1] for m, e in events.items()}
    assert kinds == {"poison": "failed", "valid": "created", "invalid": "failed"}
    pushes = stack.cloud.cloud.backends.fc.running_trigger(
        *stack.cloud.deployment.triggers[0]
    ).history
    assert all(p["ok"] for p in pushes)  # rejections are outcomes, not push failures


def test_fc2_invokes_the_deployed_function_sync_and_async(stack):
    service, function = stack.outputs["ServiceName"], stack.outputs["FunctionName"]
    body = (ROOT / "events" / "direct-request.json").read_bytes()
    response = stack.fc.invoke_function(service, function, payload=body)
    event = json.loads(response.data)
    assert event["type"] == "vpc.customergateway.created"
    assert event["data"]["trigger"]["kind"] == "direct"
    async_body = json.dumps({"RegionId": "cn-shanghai", "IpAddress": "192.0.2.99"}).encode()
    accepted = stack.fc.invoke_function(
        service, function, payload=async_body, headers={"x-fc-invocation-type": "Async"}
    )
    assert accepted.data == b""
    published = stack.outcomes(2)  # the sync call's outcome is published too
    ips = {e["data"]["request"]["IpAddress"] for e in published}
    assert ips == {"203.0.113.10", "192.0.2.99"}


def test_unresolvable_failures_are_retried_by_the_trigger_then_dead_lettered():
    """VPC keeps failing with a retryable error: the function hands the message back
    (TransientFailureError), the trigger retries the push, then dead-letters it."""
    with LocalCloud(
        template=TEMPLATE,
        template_parameters={"MaxAttempts": "2", "TriggerBatchWindowSeconds": 0},
        trigger_time_scale=0.01,
    ) as cloud:
        stack = Stack(cloud)
        cloud.cloud.faults.set_rules(
            [
                {
                    "service": "vpc",
                    "action": "CreateCustomerGateway",
                    "error": {"status": 503, "code": "ServiceUnavailable", "message": "down"},
                }
            ]
        )
        message_id = stack.send(json.dumps({"RegionId": "cn-shanghai", "IpAddress": "192.0.2.50"}))
        dlq = stack.outputs["DeadLetterQueueName"]
        deadline = time.monotonic() + 120
        while stack.queue_counts(dlq) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        dead = cloud.cloud.backends.mns.receive_messages(dlq)
        assert len(dead) == 1
        letter = json.loads(dead[0].body)
        assert letter["data"]["messageId"] == message_id
        assert letter["specversion"] == "1.0"  # the CloudEvent as pushed (EventBridge's shape)
        trigger = cloud.cloud.backends.fc.running_trigger(*cloud.deployment.triggers[0])
        state = trigger.state()
        assert state["failed_pushes"] == 4
        assert ["TransientFailureError" in r for r in state["dead_letter_reasons"]] == [True]
        assert stack.drained(stack.outputs["RequestQueueName"]) == 0
        assert stack.gateways() == []


def _tool(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_run_tool_prints_one_outcome_per_request_and_exits_zero():
    result = _tool("tools/run.py")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {
        line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[2:] if line.strip()
    }
    for name in _request_files():
        assert rows[name] in ("created", "failed"), name
    assert rows["poison-not-json.txt"] == "failed"
    assert "all 11 requests got their outcome" in result.stdout


def test_run_tool_names_what_is_missing_and_exits_non_zero():
    result = _tool("tools/run.py", "--timeout", "0")
    assert result.returncode == 1
    assert "got no outcome within 0 s" in result.stdout
    assert "valid-branch-shanghai-1.json (message " in result.stdout


def test_invoke_tool_prints_the_functions_answer():
    result = _tool("tools/invoke.py", "events/direct-request.json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["type"] == "vpc.customergateway.created"
    missing = _tool("tools/invoke.py", "events/no-such-file.json")
    assert missing.returncode == 2
    assert "cannot read the event" in missing.stderr


def test_fleet_tokens_deployed_from_the_template_draw_calls_from_the_token_queue():
    """RetryPolicy=fleet-tokens: the role may use the token queue (a refused call would make
    the function pace alone, quietly slower), and every gateway call drew a token."""
    with LocalCloud(
        template=TEMPLATE,
        template_parameters={"RetryPolicy": "fleet-tokens"},
        trigger_time_scale=0.01,
    ) as cloud:
        stack = Stack(cloud)
        bodies = [
            json.dumps({"RegionId": "cn-shanghai", "IpAddress": f"198.51.100.{i}"})
            for i in range(20, 32)
        ]
        for body in bodies:
            stack.send(body)
        events = stack.outcomes(len(bodies))
        assert {e["type"] for e in events} == {"vpc.customergateway.created"}
        calls = stack.role_calls()
        assert all(c["code"] not in ("Forbidden", "AccessDenied") for c in calls), [
            (c["action"], c["code"]) for c in calls if c["code"] in ("Forbidden", "AccessDenied")
        ]
        taken = [c for c in calls if c["action"] in ("ReceiveMessage", "BatchReceiveMessage")]
        assert taken, "no token was ever received"
        # the pool (the template's TokenQueueName default) lives on after the invocations
        assert stack.queue_counts("cgw-send-tokens") >= 1
