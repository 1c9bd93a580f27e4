"""RETRY_POLICY=fleet-tokens over real HTTP: the policy on MnsTokenQueue on localcloud's MNS."""

from __future__ import annotations

import json
import math
import threading
import time

from mns.account import Account
from mns.queue import QueueMeta

from cgw_provisioner.arns import Destination
from cgw_provisioner.concurrency import StartGate, concurrency_for
from cgw_provisioner.config import Endpoint
from cgw_provisioner.credentials import Credentials
from cgw_provisioner.fleet_tokens import FleetTokenPolicy
from cgw_provisioner.retry import ApiCallError, ErrorClass
from cgw_provisioner.token_queue import MnsTokenQueue
from cgw_provisioner.token_rules import TokenRules
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

CREDENTIALS = Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
THROTTLED = ApiCallError("Throttling.User", "flow control", http_status=400, retry_after_s=0.1)


def _policy(localcloud, name: str, *, create: bool = True, **kwargs) -> tuple:
    url = localcloud.cloud.base_url
    raw = Account(url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).get_queue(name)
    if create:
        raw.create(QueueMeta(vis_timeout=5))
    endpoint = Endpoint("http", url.removeprefix("http://"))
    tokens = MnsTokenQueue(Destination("mns-queue", "", "", name), endpoint)
    policy = FleetTokenPolicy(tokens, TokenRules(probe=0.0), **kwargs)
    policy.prepare(CREDENTIALS, "cn-shanghai", "1234567890")
    return policy, tokens, raw


def _tokens_in(raw) -> int:
    meta = raw.get_attributes()
    return meta.active_messages + meta.inactive_messages + meta.delay_messages


def test_a_call_holds_a_token_and_a_grant_in_slow_start_adds_one(localcloud):
    policy, tokens, raw = _policy(localcloud, "pool-a")
    tokens.add(1)
    assert policy.concurrency(10) == 0  # no token in hand yet: asking starts fetching one
    deadline = time.monotonic() + 3
    while policy.concurrency(10) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert policy.concurrency(10) == 1  # one token in hand: one message may start
    assert policy.admit(time.monotonic() + 2)  # (takes the token in hand)
    assert policy.concurrency(10) == 1  # one call holding it
    policy.on_success()
    policy.finish()
    assert _tokens_in(raw) == 2  # its own, back, and the one slow start added


def test_a_throttle_with_retry_after_removes_the_token(localcloud):
    policy, tokens, raw = _policy(localcloud, "pool-b")
    tokens.add(2)
    assert policy.admit(time.monotonic() + 2)
    policy.on_failure(THROTTLED, ErrorClass.THROTTLING)
    policy.finish()
    assert _tokens_in(raw) == 1
    assert not policy.rules.fresh


def test_a_fresh_instance_that_receives_a_marked_token_ends_its_slow_start(localcloud):
    """An instance past slow start marks the tokens it sends; a fresh one that takes such a
    token adds none on its grant: the fleet leaves slow start together."""
    seasoned, tokens, raw = _policy(localcloud, "pool-marks")
    tokens.add(2)
    assert seasoned.admit(time.monotonic() + 2)
    seasoned.on_failure(THROTTLED, ErrorClass.THROTTLING)  # (its slow start ends)
    assert seasoned.admit(time.monotonic() + 2)
    seasoned.on_success()
    seasoned.finish()  # (its token goes back marked)
    assert _tokens_in(raw) == 1
    fresh, _, _ = _policy(localcloud, "pool-marks", create=False)
    assert fresh.rules.fresh
    assert fresh.admit(time.monotonic() + 3)
    fresh.on_success()
    fresh.finish()
    assert not fresh.rules.fresh
    assert _tokens_in(raw) == 1  # (in slow start, its grant would have added one)


def test_a_watched_gate_gets_tokens_for_its_batch_and_is_woken(localcloud):
    """The batch's ten messages start on tokens fetched ahead (batch receives); the gate's
    recheck is a minute, so only the policy's wake can let them in within the test."""
    policy, tokens, _ = _policy(localcloud, "pool-w")
    tokens.add(10)
    tokens.flush()
    gate = StartGate(concurrency_for(policy, 10), recheck=60, messages=10)
    unwatch = policy.watch(gate)
    entered = []
    threads = [
        threading.Thread(target=lambda: (gate.enter(time.monotonic() + 60), entered.append(1)))
        for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(entered) == 10
    assert tokens.holding == 10
    unwatch()
    policy.finish()  # (unused tokens back at once)
    assert tokens.holding == 0


def test_finish_waits_for_the_fetches_still_polling(localcloud):
    """An open long poll when FC freezes the instance would take a token nobody uses until its
    visibility ends: finish returns only when the fetches have stopped polling."""
    policy, tokens, raw = _policy(localcloud, "pool-f")
    tokens.add(1)
    tokens.flush()
    seeded = tokens.take(time.monotonic() + 1)  # (the pool's only token, held: it is empty)
    gate = StartGate(concurrency_for(policy, 4), messages=4)
    policy.watch(gate)
    assert policy.concurrency(4) == 0  # fetches start, and long-poll the empty queue
    time.sleep(0.2)
    started = time.monotonic()
    policy.finish()
    assert time.monotonic() - started < 2.5
    assert policy._fetching == 0
    tokens.release(seeded)
    time.sleep(0.3)
    assert raw.get_attributes().active_messages == 1  # no stale poll took it


def test_no_token_by_the_deadline_is_no_admission(localcloud):
    policy, tokens, _ = _policy(localcloud, "pool-c")
    tokens.add(1)
    assert policy.admit(time.monotonic() + 2)
    assert not policy.admit(time.monotonic() + 0.3)  # the one token is held by the first


def test_an_unusable_queue_paces_alone_and_says_so(localcloud):
    said: list[str] = []
    policy, _, _ = _policy(localcloud, "missing", create=False, on_degrade=said.append)
    assert policy.admit(time.monotonic() + 2)  # the share limiter admits
    policy.on_success()
    assert len(said) == 1
    assert "QueueNotExist" in said[0]
    assert policy.admit(time.monotonic() + 2)  # still alone: the queue is not asked again
    assert len(said) == 1


def test_the_function_with_fleet_tokens_draws_every_call_from_the_pool(cloud, monkeypatch):
    """RETRY_POLICY=fleet-tokens end to end: config, the policy, the queue, the invocation."""
    from cgw_provisioner import app
    from tests.integration.test_reliability import _queue_event

    queue = cloud.mns.get_queue("fleet-tokens")
    queue.create(QueueMeta(vis_timeout=5))
    monkeypatch.setenv("RETRY_POLICY", "fleet-tokens")
    monkeypatch.setenv("TOKEN_QUEUE", "acs:mns:::/queues/fleet-tokens")
    app.reset()
    requests = [
        {"RegionId": "cn-shanghai", "IpAddress": f"203.0.113.{60 + i}", "Name": f"t{i}"}
        for i in range(4)
    ]
    cloud.invoke(json.loads(_queue_event(requests)))
    assert len(cloud.gateways()) == 4
    assert sorted(o.tag for o in cloud.outcomes()) == ["created"] * 4
    # a fresh pool: seeded with one token, and slow start added one per grant; all back
    assert _tokens_in(queue) == 5
    assert type(app._instance.vpc_policy).__name__ == "FleetTokenPolicy"  # (no fallback)
    assert app._instance.vpc_policy._alone_until == -math.inf


def _counts(raw) -> tuple[int, int]:
    meta = raw.get_attributes()
    return meta.active_messages, meta.inactive_messages


def test_a_queue_invocation_waits_for_its_tokens_a_direct_one_hides_them(cloud, monkeypatch):
    """The trigger's invocation sends its held tokens back when due before it returns; a
    direct invocation (someone waits for its answer) hides each one for the seconds it has
    left and returns at once: its token is still in flight when the answer is in."""
    from cgw_provisioner import app
    from tests.integration.test_reliability import _queue_event

    queue = cloud.mns.get_queue("fleet-tokens-d")
    queue.create(QueueMeta(vis_timeout=5))
    monkeypatch.setenv("RETRY_POLICY", "fleet-tokens")
    monkeypatch.setenv("TOKEN_QUEUE", "acs:mns:::/queues/fleet-tokens-d")
    app.reset()
    request = {"RegionId": "cn-shanghai", "IpAddress": "203.0.113.70"}
    cloud.invoke(json.loads(_queue_event([request])))
    assert _counts(queue) == (2, 0)  # its token back, and the one slow start added
    cloud.invoke({"RegionId": "cn-shanghai", "IpAddress": "203.0.113.71"})
    assert _counts(queue) == (2, 1)  # the direct call's token is hidden until it is due
    deadline = time.monotonic() + 3
    while _counts(queue) != (3, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _counts(queue) == (3, 0)  # back by itself, one second later
    assert len(cloud.gateways()) == 2
