"""concurrency: the start gate (real threads) and the share-limiter policy's advice."""

from __future__ import annotations

import threading
import time

import pytest

from cgw_provisioner.concurrency import StartGate, concurrency_for, earliest_start_for
from cgw_provisioner.retry import FixedWaitPolicy, ShareLimiter, ShareLimiterPolicy
from tests.waiting import wait_for


def _run_batch(gate, n, allowed):
    """n messages on n threads through the gate; the most ever in progress at once.

    The messages hold their slots until `allowed` of them are in progress at the same time,
    so the peak is reached by construction, not by hoping that sleeps overlap."""
    peak, lock = [0], threading.Lock()
    full = threading.Event()

    def item():
        gate.enter(time.monotonic() + 30)
        try:
            with lock:
                peak[0] = max(peak[0], gate.in_progress)
            full.wait(30)
        finally:
            gate.leave()

    threads = [threading.Thread(target=item) for _ in range(n)]
    for thread in threads:
        thread.start()
    wait_for(lambda: gate.in_progress == allowed, 10, f"{allowed} messages in progress")
    full.set()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    return peak[0]


@pytest.mark.parametrize("allowed", [1, 2, 3])
def test_no_more_in_progress_than_allowed(allowed):
    gate = StartGate(lambda: allowed)
    assert _run_batch(gate, 8, allowed) == allowed
    assert gate.in_progress == 0


def test_the_allowance_is_read_while_waiting():
    allowance, reads = [1], []

    def allowed():
        reads.append(allowance[0])
        return allowance[0]

    gate = StartGate(allowed, recheck=0.01)
    gate.enter(time.monotonic() + 30)  # the only slot is taken
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: (gate.enter(time.monotonic() + 30), entered.set()))
    waiter.start()
    wait_for(lambda: len(reads) >= 3, 10, "the waiter to re-read the allowance")
    assert not entered.is_set()  # it read 1 and is still waiting
    allowance[0] = 2  # the rate grew: one more slot
    assert entered.wait(10)
    waiter.join(10)
    assert gate.in_progress == 2


def test_wake_lets_a_waiter_in_before_the_recheck():
    allowance = [1]
    gate = StartGate(lambda: allowance[0], recheck=60)  # (a recheck the test would not outlast)
    gate.enter(time.monotonic() + 60)
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: (gate.enter(time.monotonic() + 60), entered.set()))
    waiter.start()
    wait_for(lambda: gate.pending == 1, 10, "the waiter to wait")
    allowance[0] = 2
    gate.wake()
    assert entered.wait(5)
    waiter.join(5)


def test_slots_go_to_the_waiters_in_their_order():
    gate = StartGate(lambda: 1, recheck=0.001)
    gate.enter(time.monotonic() + 30)  # the only slot is taken
    order: list[int] = []

    def wait(i: int) -> None:
        gate.enter(time.monotonic() + 30)
        order.append(i)

    waiters = []
    for i in range(8):
        waiters.append(threading.Thread(target=wait, args=(i,)))
        waiters[-1].start()
        wait_for(lambda i=i: gate.pending == i + 1, 10, "the waiter to queue")
    for i in range(8):
        gate.leave()  # one slot frees: the first waiter takes it
        wait_for(lambda i=i: len(order) == i + 1, 10, "a waiter to go in")
    assert order == list(range(8))
    for waiter in waiters:
        waiter.join(5)


def test_pending_counts_messages_not_started_yet():
    gate = StartGate(lambda: 10, messages=3)
    assert gate.pending == 3  # none has come to the gate yet
    gate.enter(time.monotonic() + 1)
    assert gate.pending == 2
    assert StartGate(lambda: 10).pending == 0  # (size not told: only the waiters count)


def test_nobody_waits_past_latest():
    """The gate's clock is injected: the waiter goes ahead once it reads a time past latest."""
    now = [100.0]

    def clock():
        now[0] += 0.04  # time passes a little at every look
        return now[0]

    gate = StartGate(lambda: 1, recheck=0.001, clock=clock)
    gate.enter(clock() + 10)
    latest = now[0] + 0.1
    gate.enter(latest)  # the only slot is taken: goes ahead at its latest time
    assert gate.in_progress == 2
    assert latest <= now[0] < latest + 0.04 * 2  # it looked until past latest, then went


def test_policies_without_advice_use_every_worker():
    assert concurrency_for(FixedWaitPolicy(), 4)() == 4


def test_share_limiter_policy_runs_what_the_rate_keeps_busy():
    clock = [0.0]
    limiter = ShareLimiter(clock=lambda: clock[0])
    policy = ShareLimiterPolicy(limiter)
    assert policy.concurrency(10) == 2  # fresh: two sends at once, then a slow start in time
    for step in range(10):  # unthrottled answers for half a second
        clock[0] = step * 0.06
        limiter.pacer.sent(clock[0])
        limiter.on_success(0.02)
    assert policy.concurrency(10) == 10  # warm and unthrottled: every worker (unpaced)
    pacer = limiter.pacer
    pacer._rate, pacer._call_s, pacer._slow = 2.5, 0.05, False  # (paced, steady)
    pacer._last_send = pacer._cut_at = pacer._grown_at = clock[0]
    assert policy.concurrency(10) == 0  # the next turn is 0.4 s away: nothing starts yet
    clock[0] += 0.36
    assert policy.concurrency(10) == 1  # its turn is near
    limiter.pacer._rate = 200.0
    assert policy.concurrency(10) == 10  # 10 in calls (200 x 0.05) and more due: the workers
    assert concurrency_for(policy, 4)() == 4


def test_share_limiter_policy_times_its_calls():
    policy = ShareLimiterPolicy(ShareLimiter())
    for _ in range(30):
        assert policy.admit(time.monotonic() + 10)
        time.sleep(0.01)
        policy.on_success()
    assert (
        0.008 <= policy.limiter.pacer._call_s < 1.0
    )  # (the sleeps' mean, however loaded the machine)


def _gate_paced_at_a_tenth(
    clock: list[float],
) -> tuple[ShareLimiter, ShareLimiterPolicy, StartGate]:
    """A limiter paced at 0.1 sends/s that has just sent, and a gate that asks it, on one fake
    clock (time moves only when the test says)."""
    limiter = ShareLimiter(clock=lambda: clock[0])
    pacer = limiter.pacer
    pacer._rate, pacer._slow, pacer._fresh = 0.1, False, False
    pacer._last_send = pacer._cut_at = pacer._grown_at = clock[0]
    policy = ShareLimiterPolicy(limiter)
    gate = StartGate(
        concurrency_for(policy, 4),
        earliest_start=earliest_start_for(policy),
        recheck=0.001,
        clock=lambda: clock[0],
    )
    return limiter, policy, gate


def test_a_message_whose_turn_comes_after_its_deadline_does_not_wait_for_it():
    """Paced at 0.1 sends/s, the next turn is 10 s away: a message with 2 s left leaves the
    gate at once (the limiter then hands it back) instead of holding the invocation open."""
    clock = [50.0]
    limiter, policy, gate = _gate_paced_at_a_tenth(clock)
    assert policy.concurrency(4) == 0
    gate.enter(clock[0] + 2.0)  # returns at once: no clock advance is needed
    assert gate.in_progress == 1
    assert limiter.acquire(clock[0] + 2.0) is None  # and the limiter hands it back
    assert earliest_start_for(FixedWaitPolicy()) is None  # (baselines do not pace)


def test_of_the_waiters_only_those_whose_turn_comes_too_late_leave_at_once():
    """Paced at 0.1 sends/s with 15 s left: the first waiter's turn (10 s) comes in time, it
    waits; the second's (20 s) does not: it leaves at once, to be handed back."""
    clock = [50.0]
    _, _, gate = _gate_paced_at_a_tenth(clock)
    latest = clock[0] + 15.0
    first = threading.Thread(target=gate.enter, args=(latest,), daemon=True)
    first.start()
    wait_for(lambda: gate._waiting, 10, "the first waiter")
    gate.enter(latest)  # the second: place 1, its turn 20 s away: goes at once
    assert gate.in_progress == 1
    assert first.is_alive()  # the first still waits for its turn
    gate.leave()  # (the second is handed back)
    clock[0] += 10.0  # the first's turn comes
    first.join(10)
    assert not first.is_alive()
    assert gate.in_progress == 1
