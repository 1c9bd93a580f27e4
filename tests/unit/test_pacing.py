"""pacing.SharePacer: the limiter's decisions, told the time (no clock, no threads)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgw_provisioner.pacing import SharePacer


def _round(pacer, now, n, throttled=0, retry_after=None, call_s=0.02):
    """n sends at `now`, answered `call_s` later: the first `throttled` of them throttled."""
    for _ in range(n):
        pacer.sent(now)
    for i in range(n):
        if i < throttled:
            pacer.throttled(now + call_s, retry_after, call_s)
        else:
            pacer.granted(now + call_s, call_s)
    return now + call_s


def test_a_fresh_instance_starts_slowly_in_time_then_opens():
    """Fresh: 2 sends at once, then the number sent may double every 0.1 s; a message starts
    only when its turn is near. After 4 unthrottled answers and 0.5 s the gate is open to
    every worker and sends are not paced: a warm instance's lone batch goes at once."""
    pacer = SharePacer(first_in_flight=2, fresh_doubling=0.1, open_after=4, fresh_s=0.5)
    assert pacer.in_flight(10, 0.0) == 2  # (the curve: places 0 and 1 now, the third later)
    assert pacer.in_flight(1, 0.0) == 1  # (never more than the workers)
    for _ in range(2):
        pacer.sent(0.0)
    assert pacer.turn(0.0, 0) == pytest.approx(0.1 * math.log2(3 / 2))  # the third send
    assert pacer.turn(0.0, 1) == pytest.approx(0.1)  # the fourth: one doubling later
    assert pacer.in_flight(10, 0.0) == 0  # nobody's turn is near: nothing more starts
    assert pacer.in_flight(10, 0.01) == 1  # (the third send is due within 0.05 s)
    now = 0.0
    while now < 0.5:
        now = max(now + 0.02, pacer.turn(now, 0))
        pacer.sent(now)
        pacer.granted(now + 0.02, 0.02)
    assert pacer.in_flight(10, 0.6) == 10
    assert pacer.rate is None
    assert pacer.turn(0.6, 9) == 0.6


def test_a_throttle_on_a_fresh_instance_paces_it_at_once():
    pacer = SharePacer(first_in_flight=2)
    now = _round(pacer, 0.0, 2, throttled=1, retry_after=0.1)
    assert pacer.rate is not None
    assert pacer.in_flight(10, now) == 0  # nothing starts before the retry-after
    assert pacer.turn(now, 0) >= now + 0.1  # the retry-after holds the next send
    assert pacer.in_flight(10, pacer.start_at(now)) == 1  # (one at the start of its turn)


@given(st.integers(1, 64), st.floats(0.01, 500), st.floats(0.001, 5))
def test_in_flight_is_the_calls_the_rate_keeps_busy_plus_the_turns_near(workers, rate, call_s):
    pacer = SharePacer(slow_start=1.0, start_lead=0.05)
    pacer._rate, pacer._call_s, pacer._grown_at = rate, call_s, 0.0
    pacer._last_send = 0.0  # (just sent: the next turn is one gap away)
    turns_near = sum(1 for place in range(workers) if (place + 1) / rate <= 0.05)
    assert pacer.in_flight(workers, 0.0) == min(workers, int(rate * call_s) + turns_near)


@given(st.floats(0.01, 100), st.integers(0, 50), st.floats(0, 10))
def test_turns_are_spaced_at_the_rate_and_never_in_the_past(rate, place, now):
    pacer = SharePacer(slow_start=1.0)
    pacer._rate, pacer._grown_at = rate, now
    turn = pacer.turn(now, place)
    assert turn >= now
    assert turn == pytest.approx(now + place / rate)


def _random_throttling(pacer, seconds, p, rate=50.0, seed=3):
    """Sends at `rate` while the pacer lets them go; each throttled with probability p."""
    rng = random.Random(seed)
    now, paced = 0.0, []
    while now < seconds:
        now = pacer.turn(now, 0)
        pacer.sent(now)
        if rng.random() < p:
            pacer.throttled(now + 0.02, None, 0.02)
        else:
            pacer.granted(now + 0.02, 0.02)
        paced.append(pacer.rate)
        now += 1.0 / rate
    return paced


def test_throttling_that_does_not_depend_on_our_rate_stops_the_cuts():
    """30% of calls throttled whatever the rate, no retry-after: a cut or two, then the pacer
    sees the share did not fall, undoes them and sends unpaced again."""
    pacer = SharePacer()
    rates = _random_throttling(pacer, 20.0, 0.3)
    assert any(r is not None for r in rates)  # it did try cutting
    assert pacer.rate_independent
    assert pacer.rate is None  # back where it was before the cuts
    assert rates[-len(rates) // 3 :] == [None] * len(rates[-len(rates) // 3 :])


def test_the_old_limiter_would_have_sunk_to_its_floor():
    """The same load with the judgement switched off (a level no share reaches)."""
    pacer = SharePacer(independent_level=1.01)
    _random_throttling(pacer, 20.0, 0.3)
    assert not pacer.rate_independent
    assert pacer.rate is not None
    assert pacer.rate < 5


def test_throttles_with_retry_after_always_cut():
    pacer = SharePacer()
    now = 0.0
    for _ in range(5):
        now = _round(pacer, now, 10, throttled=3, retry_after=0.05) + 1.1
    assert not pacer.rate_independent
    assert pacer.rate is not None


def test_rate_dependent_throttling_without_retry_after_keeps_its_cuts():
    """A token bucket of 10/s that answers without retry-after: after a cut the share falls,
    so the pacer keeps pacing."""
    pacer = SharePacer()
    tokens, last, now = 10.0, 0.0, 0.0
    for _ in range(2000):
        now = max(now + 0.005, pacer.turn(now, 0))
        tokens = min(10.0, tokens + (now - last) * 10.0)
        last = now
        pacer.sent(now)
        if tokens >= 1:
            tokens -= 1
            pacer.granted(now + 0.02, 0.02)
        else:
            pacer.throttled(now + 0.02, None, 0.02)
    assert not pacer.rate_independent
    assert pacer.rate is not None
    assert 5 <= pacer.rate <= 13


def test_a_sparse_sender_cuts_by_one_eighth():
    """One send in the window tells neither our rate nor the service's share: a throttle on
    it takes 1/8 off the paced rate, as one throttle among 8 sends of a busy instance does
    (the same cut per throttle for all: a slow instance neither sinks nor stays too fast)."""
    pacer = SharePacer(share_floor=8)
    pacer._rate, pacer._slow, pacer._grown_at = 0.5, False, 100.0
    pacer.sent(100.0)
    pacer.throttled(100.02, 0.1, 0.02)
    assert pacer.rate == pytest.approx(0.5 * 7 / 8)


@pytest.mark.parametrize(
    ("rate", "step"),
    [(4.0, 0.01 * 4.0), (1.0, 0.01), (0.5, 0.01 * 0.5 * 0.3 * 0.5**0.7), (0.1, 0.003 * 0.1**1.7)],
)
def test_below_one_send_a_second_the_probe_shrinks_faster_than_the_rate(rate, step):
    """At or above 1 send/s the probe adds 1% of the rate per second; below, 1% x 0.3 x rate x
    rate^0.7: a thousand sparse instances do not flood the limit with their probes, and the
    step still shrinks more slowly than a sparse instance's cuts (rate^2), which pulls shares
    together."""
    pacer = SharePacer(probe=0.01, sparse_below=1.0, sparse_power=0.7, sparse_probe=0.3)
    pacer._rate, pacer._slow, pacer._grown_at = rate / (7 / 8), False, 0.0
    pacer.sent(0.5)
    pacer.throttled(0.52, 0.1, 0.02)  # (one send in the window: the paced rate x 7/8)
    assert pacer.rate == pytest.approx(rate)
    assert pacer._step == pytest.approx(step)


def test_senders_held_by_the_pace_let_it_grow():
    """Demand is senders waiting for their turn, not only what was sent in the last second."""
    pacer = SharePacer(hold=0.0, probe=0.1)
    pacer._rate, pacer._slow, pacer._step, pacer._cut_at = 0.2, False, 0.5, 0.0
    pacer._grown_at = 0.0
    assert pacer.turn(0.0, 0) == 0.0  # (nobody sent yet)
    pacer.sent(0.0)
    assert pacer.turn(0.1, 0) > 0.1  # held by the pace (it asks again every 50 ms)
    for tick in range(3, 41):
        pacer.turn(tick * 0.05, 0)
    assert pacer.rate == pytest.approx(0.2 + 0.5 * 2.0)  # one send in 2 s, yet it grew


def test_one_throttle_among_a_few_sends_cuts_as_much_as_among_many():
    """The share granted is measured over at least `share_floor` sends: a slow instance's one
    throttle in 4 sends must not cut it by a quarter when a busy one's in 8 cuts by an eighth
    (that bias is what left one instance crawling behind the others)."""
    cuts = []
    for sends in (4, 8):
        pacer = SharePacer(share_floor=8, margin=0.95, min_cut=0.7)
        pacer._rate, pacer._slow, pacer._grown_at = 10.0, False, 0.0
        for i in range(sends):
            pacer.sent(1.0 + i * 0.1)
        pacer.throttled(1.0 + sends * 0.1, 0.05, 0.02)
        cuts.append(pacer.rate / min(10.0, sends / (sends * 0.1)))
    assert cuts == pytest.approx([7 / 8, 7 / 8])


def test_the_cut_that_ends_slow_start_is_the_deepest_whatever_the_share():
    """Slow start grows until the bucket's saved burst runs out, so by its first throttle the
    fleet is well above the limit although one throttle among 8 sends reads as 1/8 too much."""
    pacer = SharePacer(min_cut=0.7, margin=0.95, share_floor=8)
    _round(pacer, 0.0, 20, throttled=1, retry_after=0.05)  # the first cut: slow start
    assert pacer._slow
    assert pacer.rate == pytest.approx(20 / 2.0 * 0.7)  # (none granted yet)
    now = 2.5  # (the first cut's sends have left the window)
    for i in range(8):
        pacer.sent(now + i * 0.1)
    ending = pacer.rate
    pacer.throttled(now + 0.8, 0.05, 0.02)  # one throttle among 8 sends
    assert not pacer._slow
    sending = min(ending, 8 / 0.8)
    assert pacer.rate == pytest.approx(sending * 0.7)
    for i in range(8):  # a later cut with the same share keeps 7/8
        pacer.sent(now + 3.0 + i * 0.1)
    before = pacer.rate
    pacer.throttled(now + 3.8, 0.05, 0.02)
    assert pacer.rate == pytest.approx(min(before, 8 / 0.8) * 7 / 8)


def test_the_probe_step_follows_the_rate_after_each_cut():
    pacer = SharePacer(probe=0.01)
    pacer._rate, pacer._slow, pacer._grown_at = 4.0, False, 0.0
    for i in range(8):
        pacer.sent(1.0 + i * 0.25)
    pacer.throttled(3.0, 0.05, 0.02)
    assert pacer._step == pytest.approx(0.01 * pacer.rate)


def _sparse_pacer(rand_value: float, rate: float) -> SharePacer:
    pacer = SharePacer(jitter=0.1, rand=lambda: rand_value, sparse_below=1.0)
    pacer._rate, pacer._slow, pacer._fresh, pacer._grown_at = rate, False, False, 10.0
    pacer._cut_at = 10.0  # (holding: the rate does not grow)
    pacer.sent(10.0)
    return pacer


@pytest.mark.parametrize(("rand_value", "stretch"), [(0.0, 0.9), (0.5, 1.0), (1.0, 1.1)])
def test_a_sparse_senders_gaps_are_jittered(rand_value, stretch):
    """Below 1 send/s the next gap is the pace's x a random factor in [0.9, 1.1]: instances
    that opened in the same millisecond do not stay in step (all but one throttled each time)."""
    pacer = _sparse_pacer(rand_value, rate=0.1)
    assert pacer.turn(10.0, 0) == pytest.approx(10.0 + 10.0 * stretch)
    assert pacer.turn(10.0, 1) == pytest.approx(10.0 + 10.0 * stretch + 10.0)


def test_a_busy_senders_gaps_are_not_jittered():
    pacer = _sparse_pacer(0.0, rate=4.0)
    assert pacer.turn(10.0, 0) == pytest.approx(10.25)


def test_a_grant_after_hours_idle_in_slow_start_does_not_overflow():
    pacer = SharePacer(rand=lambda: 0.5)
    pacer.sent(0.0)
    pacer.throttled(0.1, 0.05, 0.1)  # (paced; slow start goes on from here)
    pacer.sent(5000.0)
    pacer.granted(5000.1, 0.1)  # (1.2 ** 5000 overflows a float)
    assert pacer.rate == 2.0  # (grown, but not past twice the sends of its last second)
