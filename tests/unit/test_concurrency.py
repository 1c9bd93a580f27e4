"""concurrency: the start gate (real threads) and the adaptive policy's advice."""

from __future__ import annotations

import threading
import time

import pytest

from cgw_provisioner.concurrency import StartGate, concurrency_for
from cgw_provisioner.retry import AdaptivePolicy, FixedWaitPolicy, ShareLimiter


def _run_batch(gate, n, work_s=0.02):
    """n messages on n threads through the gate; the most ever in progress at once."""
    peak, lock = [0], threading.Lock()

    def item():
        gate.enter(time.monotonic() + 10)
        try:
            with lock:
                peak[0] = max(peak[0], gate.in_progress)
            time.sleep(work_s)
        finally:
            gate.leave()

    threads = [threading.Thread(target=item) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return peak[0]


@pytest.mark.parametrize("allowed", [1, 2, 3])
def test_no_more_in_progress_than_allowed(allowed):
    gate = StartGate(lambda: allowed)
    assert _run_batch(gate, 8) == allowed
    assert gate.in_progress == 0


def test_the_allowance_is_read_while_waiting():
    allowance = [1]
    gate = StartGate(lambda: allowance[0])
    gate.enter(time.monotonic() + 10)  # the only slot is taken
    entered = threading.Event()
    waiter = threading.Thread(target=lambda: (gate.enter(time.monotonic() + 10), entered.set()))
    waiter.start()
    assert not entered.wait(0.2)
    allowance[0] = 2  # the rate grew: one more slot
    assert entered.wait(1.0)
    waiter.join()


def test_nobody_waits_past_latest():
    gate = StartGate(lambda: 1)
    gate.enter(time.monotonic() + 10)
    began = time.monotonic()
    gate.enter(began + 0.1)  # goes ahead at its latest time
    assert 0.1 <= time.monotonic() - began < 1.0
    assert gate.in_progress == 2


def test_policies_without_advice_use_every_worker():
    assert concurrency_for(FixedWaitPolicy(), 4)() == 4


def test_adaptive_policy_runs_what_the_rate_keeps_busy():
    limiter = ShareLimiter()
    policy = AdaptivePolicy(limiter)
    assert policy.concurrency(10) == 2  # fresh: a few until the first round trips come back
    limiter.on_success()
    assert policy.concurrency(10) == 3  # one more per unthrottled answer
    for _ in range(3):
        limiter.on_success()
    assert policy.concurrency(10) == 10  # 4 unthrottled: every worker (unpaced)
    limiter.pacer._rate = 2.5
    limiter.pacer._call_s = 0.05
    assert policy.concurrency(10) == 2  # ceil(2.5 x 0.05) + 1
    limiter.pacer._rate = 200.0
    assert policy.concurrency(10) == 10  # ceil(200 x 0.05) + 1 = 11, capped by the workers
    assert concurrency_for(policy, 4)() == 4


def test_adaptive_policy_times_its_calls():
    policy = AdaptivePolicy(ShareLimiter())
    for _ in range(30):
        assert policy.admit(time.monotonic() + 10)
        time.sleep(0.01)
        policy.on_success()
    assert (
        0.008 <= policy.limiter.pacer._call_s < 1.0
    )  # (the sleeps' mean, however loaded the machine)
