"""bench/simulate_tokens: the simulated token queue keeps the rules fleet tokens
(docs/decisions/0013-fleet-token-queue.md) state, so its figures mean what the record says."""

from __future__ import annotations

import heapq

import pytest

from bench import simulate_tokens as model


def _pool(tokens: int, **rules: float) -> model.TokenPool:
    simulation = model.TokenSimulation(
        model.PoolRules(first_tokens=tokens, **rules),
        instances=0,
        requests=0,
        limit_qps=10,
    )
    return simulation.pool


def _run(pool: model.TokenPool, until: float = 60.0) -> None:
    """Handle the simulation's events in time order (what Simulation.run does)."""
    events = pool.simulation._events
    while events and events[0][0] < until:
        when, _, handler, args = heapq.heappop(events)
        handler(when, *args)


def _asks(pool: model.TokenPool, n: int, at: float = 0.0) -> list[tuple[float, int]]:
    served: list[tuple[float, int]] = []
    for _ in range(n):
        pool.ask(at, lambda now, token: served.append((now, token)), lambda: True)
    return served


def test_a_token_serves_one_ask_until_it_is_sent_again():
    pool = _pool(2, receive_s=0.005, reuse_after_s=1.0, hidden_s=5.0)
    served = _asks(pool, 5)
    _run(pool, until=0.1)
    assert [at for at, _ in served] == [0.005, 0.005]  # two tokens, two receives; three wait
    pool.send_again(0.1, served[0][1])  # a granted call: back after the delay
    _run(pool, until=4.0)
    assert [round(at, 3) for at, _ in served[2:]] == [1.11]
    _run(pool)  # the other was never sent again (its holder died): back when hidden_s ends
    assert [round(at, 3) for at, _ in served[3:]] == [5.005, 6.11]  # (and 1.11 + 5)


def test_without_resend_a_token_comes_back_when_its_visibility_ends():
    pool = _pool(1, resend=False, receive_s=0.0, reuse_after_s=1.0)
    served = _asks(pool, 3)
    _run(pool)
    assert [at for at, _ in served] == [0.0, 1.0, 2.0]


def test_a_throttle_removes_a_token_but_never_the_last():
    pool = _pool(2)
    served = _asks(pool, 2)
    _run(pool)
    first, second = (token for _, token in served)
    pool.delete(0.1, first)
    assert len(pool) == 1
    pool.delete(0.1, second)
    assert len(pool) == 1


def test_a_cancelled_ask_takes_no_token():
    pool = _pool(1)
    served: list[tuple[float, int]] = []
    alive = False
    pool.ask(0.0, lambda now, token: served.append((now, token)), lambda: alive)
    kept = _asks(pool, 1)
    _run(pool)
    assert served == []
    assert len(kept) == 1


@pytest.mark.parametrize("resend", [True, False])
def test_every_request_is_published_once_and_the_pool_settles_near_the_limit(resend):
    rules = model.PoolRules(resend=resend)
    result = model.simulate(model.POLICY, rules=rules, instances=4, requests=1000, limit_qps=10)
    assert result["complete"]
    assert result["published"] == result["created"] == 1000
    assert result["created"] <= 10 + 10 * result["virtual_s"]  # the bucket's bound
    assert 8 <= result["tokens_end"] <= 14  # about one token per call a second allowed


def test_marked_tokens_end_the_fleets_slow_start_together():
    """300 instances on 10 QPS: without marks each instance adds tokens until its own first
    throttle, long after the pool reached the limit (about a fifth of the calls throttled)."""
    options = {"instances": 300, "limit_qps": 10, "requests": 6000}
    marked = model.simulate(model.POLICY, rules=model.PoolRules(marks=True), **options)
    unmarked = model.simulate(model.POLICY, rules=model.PoolRules(marks=False), **options)
    assert marked["complete"]
    assert marked["throttled_share"] <= 0.08
    assert unmarked["throttled_share"] >= 2 * marked["throttled_share"]


def test_an_instance_keeps_at_most_asks_receives_open():
    simulation = model.TokenSimulation(
        model.PoolRules(asks=2), instances=3, requests=200, limit_qps=10
    )
    instances = list(simulation.idle)
    most = 0
    ask = simulation.pool.ask

    def counting(now, granted, live):
        nonlocal most
        most = max(most, max(instance.asking for instance in instances))
        ask(now, granted, live)

    simulation.pool.ask = counting
    result = simulation.run()
    assert result["published"] == 200
    assert most == 2


@pytest.mark.parametrize(("hold", "back_after_s"), [(True, 1.0), (False, 1.0 + 0.3 + 0.005)])
def test_a_held_token_comes_back_a_second_after_it_came_whatever_the_call_took(hold, back_after_s):
    simulation = model.TokenSimulation(
        model.PoolRules(hold=hold, first_tokens=1, probe=0.0),
        instances=1,
        requests=1,
        limit_qps=10,
        latency_s=0.3,
    )
    (instance,) = simulation.idle
    instance.rules.fresh = False  # (no slow start: the pool keeps its one token)
    assert simulation.run()["published"] == 1
    ((token, visible_at),) = simulation.pool.visible_at.items()
    assert visible_at == pytest.approx(instance.got_at[token] + back_after_s)
