"""app: one invocation over fake ports (no SDK, no network): return shapes, isolation between
messages, hand-back of unfinished ones, and the lazily built instance."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from cgw_provisioner import app
from cgw_provisioner.app import Instance, TransientFailureError
from cgw_provisioner.destinations import PublishError
from cgw_provisioner.provisioning import VpcApiError
from cgw_provisioner.retry import FullJitterPolicy

from .fakes import FakePublisher, FakeVpc

ENV = {
    "SUCCESS_DESTINATION": "acs:mns:::/topics/ok",
    "FAILURE_DESTINATION": "acs:mns:::/queues/failed",
    "MAX_ATTEMPTS": "3",
    "DEADLINE_MARGIN_SECONDS": "0.5",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Ctx:
    region: str = "cn-shanghai"
    account_id: str = "123"
    request_id: str = "req-1"
    credentials: Any = field(
        default_factory=lambda: type(
            "C", (), {"access_key_id": "AK", "access_key_secret": "SK-secret", "security_token": ""}
        )()
    )
    function: Any = field(
        default_factory=lambda: type("F", (), {"name": "fn", "timeout": "30"})()
    )  # FC may hand the timeout over as a str
    service: Any = field(default_factory=lambda: type("S", (), {"name": "svc"})())


def _instance(vpc=None, publisher=None, **env):
    vpc = vpc or FakeVpc()
    publisher = publisher or FakePublisher()
    instance = Instance.build(
        Ctx(),
        {**ENV, **env},
        vpc_for=lambda credentials, region: vpc,
        publisher=publisher,
        vpc_policy=FullJitterPolicy(base=0.0),
        publish_policy=FullJitterPolicy(base=0.0),
    )
    return instance, vpc, publisher


def _request(ip="203.0.113.10", **fields):
    return {"RegionId": "cn-shanghai", "IpAddress": ip, **fields}


def test_one_direct_request_returns_its_outcome_event():
    instance, _, publisher = _instance()
    event = instance.handle(json.dumps(_request()).encode(), Ctx())
    assert event["type"] == "vpc.customergateway.created"
    assert event["source"] == "acs:fc:cn-shanghai:123:services/svc/functions/fn"
    [(destination, published, tag)] = publisher.published
    assert (destination, tag) == ("acs:mns:cn-shanghai:123:/topics/ok", "created")
    assert published == event


def test_failed_outcomes_go_to_the_failure_destination():
    instance, _, publisher = _instance()
    event = instance.handle(b'{"RegionId": "cn-shanghai"}', Ctx())
    assert event["data"]["error"]["code"] == "MissingIpAddress"
    assert publisher.published[0][0] == "acs:mns:cn-shanghai:123:/queues/failed"
    assert publisher.published[0][2] == "failed"


def test_an_array_returns_the_summary_and_one_bad_item_does_not_affect_another():
    vpc = FakeVpc(errors=[VpcApiError("Forbidden", "no", http_status=403)])
    instance, _, publisher = _instance(vpc)
    batch = [_request("203.0.113.1"), "not an object", _request("203.0.113.2")]
    summary = instance.handle(json.dumps(batch).encode(), Ctx())
    assert (summary["total"], summary["created"], summary["failed"]) == (3, 1, 2)
    assert summary["redelivery"] == 0
    assert len(summary["outcomes"]) == 3
    assert {o["type"] for o in summary["outcomes"]} == {
        "vpc.customergateway.created",
        "vpc.customergateway.failed",
    }
    assert len(publisher.published) == 3


def test_transient_items_are_handed_back_after_the_others_are_published():
    class Flaky(FakeVpc):
        def create_customer_gateway(self, params, *, timeout=None):
            if params["IpAddress"] == "203.0.113.9":
                self.create_calls.append(dict(params))
                raise VpcApiError("ServiceUnavailable", "busy", http_status=503)
            return super().create_customer_gateway(params, timeout=timeout)

    vpc = Flaky()
    instance, _, publisher = _instance(vpc)
    batch = [
        _request("203.0.113.1"),
        _request("203.0.113.9", ClientToken="tok-9"),
        _request("203.0.113.2"),
    ]
    with pytest.raises(TransientFailureError) as raised:
        instance.handle(json.dumps(batch).encode(), Ctx())
    [(message_id, token, reason)] = raised.value.items
    assert token == "tok-9"
    assert message_id.startswith("sha256:")
    assert "ServiceUnavailable" in reason
    assert "tok-9" in str(raised.value)
    assert len(publisher.published) == 2  # the others were published first
    assert sum(1 for c in vpc.create_calls if c["IpAddress"] == "203.0.113.9") == 3


def test_a_single_transient_direct_request_raises():
    vpc = FakeVpc(errors=[VpcApiError("InternalError", "x", http_status=500)] * 3)
    instance, _, publisher = _instance(vpc)
    with pytest.raises(TransientFailureError):
        instance.handle(json.dumps(_request()).encode(), Ctx())
    assert publisher.published == []


def test_an_unpublished_outcome_fails_the_invocation():
    publisher = FakePublisher(errors=[PublishError("TopicNotExist", "no topic")])
    instance, _, _ = _instance(publisher=publisher)
    with pytest.raises(TransientFailureError, match="outcome not published: TopicNotExist"):
        instance.handle(json.dumps(_request()).encode(), Ctx())


def test_publishing_is_retried():
    publisher = FakePublisher(errors=[PublishError("InternalError", "x", http_status=500), None])
    instance, _, _ = _instance(publisher=publisher)
    event = instance.handle(json.dumps(_request()).encode(), Ctx())
    assert publisher.published[0][1] == event


def test_an_unexpected_bug_in_one_item_hands_only_that_one_back():
    class Buggy(FakeVpc):
        def create_customer_gateway(self, params, *, timeout=None):
            if params["IpAddress"] == "203.0.113.9":
                raise KeyError("bug")
            return super().create_customer_gateway(params, timeout=timeout)

    instance, _, publisher = _instance(Buggy())
    batch = [_request("203.0.113.9"), _request("203.0.113.1")]
    with pytest.raises(TransientFailureError, match="unexpected KeyError"):
        instance.handle(json.dumps(batch).encode(), Ctx())
    assert len(publisher.published) == 1


def test_the_instance_is_built_once_and_lazily(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    built = []
    monkeypatch.setattr(
        app.Instance,
        "build",
        classmethod(lambda cls, context: built.append(context) or "the-instance"),
    )
    app.reset()
    try:
        assert app.initialize(Ctx()) == "the-instance"
        assert app.initialize(Ctx()) == "the-instance"
    finally:
        app.reset()
    assert len(built) == 1


@pytest.mark.parametrize("fc_destination", [False, True])
def test_fc2_is_imported_only_for_an_fc_destination(fc_destination):
    import sys

    for name in [m for m in sys.modules if m == "fc2" or m.startswith("fc2.")]:
        del sys.modules[name]
    env = dict(ENV)
    if fc_destination:
        env["FAILURE_DESTINATION"] = "acs:fc:::services/svc.LATEST/functions/on-failure"
    Instance.build(Ctx(), env, vpc_for=lambda credentials, region: FakeVpc())
    assert ("fc2" in sys.modules) is fc_destination


def test_a_paced_policy_limits_the_messages_in_progress():
    """A batch of 10 with BATCH_CONCURRENCY 10, under a policy that advises 2 at a time (as
    ours does once the API's limit paces it): never more than 2 messages in progress."""
    import threading

    class Advised(FullJitterPolicy):
        def concurrency(self, workers):
            return 2

    class Slow(FakeVpc):
        """Calls meet in pairs: two must be in progress at once for either to go on (a gate
        that let only one through would break the barrier and fail the batch)."""

        in_progress = peak = 0
        lock = threading.Lock()
        pair = threading.Barrier(2, timeout=30)

        def create_customer_gateway(self, params, *, timeout=None):
            with self.lock:
                Slow.in_progress += 1
                Slow.peak = max(Slow.peak, Slow.in_progress)
            Slow.pair.wait()
            with self.lock:
                Slow.in_progress -= 1
            return super().create_customer_gateway(params, timeout=timeout)

    vpc = Slow()
    instance = Instance.build(
        Ctx(),
        {**ENV, "BATCH_CONCURRENCY": "10"},
        vpc_for=lambda credentials, region: vpc,
        publisher=FakePublisher(),
        vpc_policy=Advised(base=0.0),
        publish_policy=FullJitterPolicy(base=0.0),
    )
    batch = [_request(f"203.0.113.{i}") for i in range(1, 11)]
    summary = instance.handle(json.dumps(batch).encode(), Ctx())
    assert summary["created"] == 10
    assert Slow.peak == 2
