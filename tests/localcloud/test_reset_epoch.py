"""reset() ends whatever was in flight before it: nothing from one test lands in the next.

The epoch itself (localcloud.epoch) first, then the leak the audit found over real HTTP with
the real SDKs: a request slowed by a `latency_ms` fault commits after its client gave up.
"""

from __future__ import annotations

import threading

import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.topic import TopicMessage

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.epoch import Epoch, StaleRequest
from tests.waiting import wait_for

from .conftest import VpcSdk


def _thread(target):
    box: dict = {}

    def run():
        try:
            box["value"] = target()
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


# --- the epoch --------------------------------------------------------------------------------
def test_a_request_from_before_a_reset_cannot_commit():
    epoch = Epoch()
    began = epoch.current()
    with epoch.advance() as now:
        pass
    assert now == began + 1 == epoch.current()
    with pytest.raises(StaleRequest, match=r"began in epoch 0.*now 1"), epoch.commit(began):
        pytest.fail("a stale request committed")
    with epoch.commit(epoch.current()):
        pass  # the current epoch commits


def test_reset_waits_for_an_action_already_committing_and_holds_new_ones_back():
    epoch = Epoch()
    order: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def old_action():
        with epoch.commit(0):
            inside.set()
            release.wait(10)
            order.append("old committed")

    old, _ = _thread(old_action)
    assert inside.wait(10)

    def reset():
        with epoch.advance():
            order.append("reset")

    resetting, _ = _thread(reset)
    wait_for(lambda: epoch._resetting, 10, "the reset to start")
    assert epoch.current() == 0  # a request arriving during the reset belongs to the old epoch
    with pytest.raises(StaleRequest), epoch.commit(epoch.current()):
        pytest.fail("a request that arrived during the reset committed")

    def new_action():  # one that holds epoch 1 already waits for the reset to end
        with epoch.commit(1):
            order.append("new committed")

    new, _ = _thread(new_action)
    release.set()
    for thread in (old, resetting, new):
        thread.join(10)
        assert not thread.is_alive()
    assert order == ["old committed", "reset", "new committed"]
    assert epoch.current() == 1


def test_reset_interrupts_before_it_drains():
    epoch = Epoch()
    calls = []
    with epoch.advance(interrupt=lambda: calls.append(epoch._value)) as now:
        calls.append("body")
    assert calls == [1, "body"]
    assert now == 1


# --- over HTTP --------------------------------------------------------------------------------
def _hold_action(localcloud, monkeypatch, service: str, action: str) -> threading.Event:
    """An Event set once `action` reached the fault decision (the request is in the server)."""
    engine = localcloud.cloud.faults
    reached = threading.Event()
    decide = engine.decide

    def spying(svc, act, account):
        decision = decide(svc, act, account)
        if (svc, act) == (service, action):
            reached.set()
        return decision

    monkeypatch.setattr(engine, "decide", spying)
    return reached


def test_a_slow_publish_begun_before_a_reset_does_not_land_after_it(localcloud, monkeypatch):
    account = Account(localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)

    backend = localcloud.cloud.backends.mns
    endpoint = f"acs:mns:{localcloud.cloud.region}:{localcloud.cloud.account_id}:queues/q"

    def topic_with_reader():  # in-process: a reset hook runs before the new epoch opens
        backend.create_topic("t")
        backend.create_queue("q")
        backend.subscribe("t", "s", endpoint)

    topic_with_reader()
    localcloud.cloud.reset_hooks.append(topic_with_reader)  # the next "test" has them too
    try:
        reached = _hold_action(localcloud, monkeypatch, "mns", "PublishMessage")
        localcloud.cloud.faults.set_rules(
            [{"service": "mns", "action": "PublishMessage", "latency_ms": 1500}]
        )
        publisher, box = _thread(lambda: account.get_topic("t").publish_message(TopicMessage("x")))
        assert reached.wait(10)
        localcloud.cloud.reset()  # the test that published is over
        publisher.join(10)
        assert not publisher.is_alive()
        assert isinstance(box.get("error"), MNSServerException)
        assert box["error"].type == "ServiceUnavailable"
        assert "localcloud was reset" in box["error"].message
        state = localcloud.cloud.backends.mns.state()
        assert state["topics"]["t"]["message_count"] == 0
        assert state["queues"]["q"]["visible"] == 0
        assert localcloud.cloud.calls.snapshot() == []  # and no trace in the call log
    finally:
        localcloud.cloud.reset_hooks.remove(topic_with_reader)


def test_a_slow_create_begun_before_a_reset_creates_nothing(localcloud, monkeypatch):
    sdk = VpcSdk("core", localcloud.cloud.base_url.removeprefix("http://"))
    reached = _hold_action(localcloud, monkeypatch, "vpc", "CreateCustomerGateway")
    localcloud.cloud.faults.set_rules(
        [{"service": "vpc", "action": "CreateCustomerGateway", "latency_ms": 1500}]
    )
    creator, box = _thread(
        lambda: sdk.attempt(
            "CreateCustomerGateway", RegionId="cn-shanghai", IpAddress="203.0.113.9"
        )
    )
    assert reached.wait(10)
    localcloud.cloud.reset()
    creator.join(10)
    assert not creator.is_alive()
    assert (box["value"].status, box["value"].code) == (503, "ServiceUnavailable")
    assert localcloud.cloud.backends.vpc.customer_gateways() == []
    assert localcloud.cloud.calls.snapshot() == []


def test_a_long_poll_waiting_at_reset_returns_at_once(localcloud):
    backend = localcloud.cloud.backends.mns
    backend.create_queue("q")
    poller, box = _thread(lambda: backend.receive_messages("q", 1, wait_seconds=30))
    wait_for(lambda: backend.waiting() == 1, 10, "the receiver to block")
    localcloud.cloud.reset()
    poller.join(10)  # well before its 30 s wait
    assert not poller.is_alive()
    assert box == {"value": []}
