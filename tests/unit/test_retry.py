"""retry: classification, full jitter, the adaptive limiter and the retry loop, on a fake clock."""

from __future__ import annotations

import itertools
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgw_provisioner.retry import (
    ApiCallError,
    AttemptLog,
    Deadline,
    ErrorClass,
    FixedWaitPolicy,
    FullJitterPolicy,
    RetryBudgetExhaustedError,
    ShareLimiter,
    ShareLimiterPolicy,
    call_with_retries,
    classify,
    full_jitter,
    policy_named,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def info(self, event, **fields):
        self.lines.append((event, fields))

    warning = error = debug = info


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("Throttling", 400, ErrorClass.THROTTLING),
        ("Throttling.User", 400, ErrorClass.THROTTLING),
        ("Throttling.Api", 400, ErrorClass.THROTTLING),
        ("Rejected.Throttling", 400, ErrorClass.THROTTLING),
        ("ServiceUnavailable", 503, ErrorClass.THROTTLING),
        ("Anything", 429, ErrorClass.THROTTLING),
        ("Anything", 503, ErrorClass.THROTTLING),
        ("InternalError", 500, ErrorClass.TRANSIENT),
        ("SomethingNew", 502, ErrorClass.TRANSIENT),
        ("SomethingNew", 500, ErrorClass.TRANSIENT),  # the boundary: any 5xx is transient
        ("SomethingNew", 499, ErrorClass.PERMANENT),
        ("SDK.HttpError", None, ErrorClass.TRANSIENT),
        ("OperationConflict", 400, ErrorClass.TRANSIENT),
        ("LastTokenProcessing", 400, ErrorClass.TRANSIENT),
        ("NetWorkException", None, ErrorClass.TRANSIENT),
        ("Forbidden", 403, ErrorClass.PERMANENT),
        ("Forbbiden.SubUser", 403, ErrorClass.PERMANENT),
        ("IdempotentParameterMismatch", 400, ErrorClass.PERMANENT),
        ("Resource.QuotaFull", 400, ErrorClass.PERMANENT),
        ("InvalidIpAddress.WrongFormat", 400, ErrorClass.PERMANENT),
        ("InvalidIpAddress.AlreadyExist", 400, ErrorClass.PERMANENT),
    ],
)
def test_classify(code, status, expected):
    assert classify(code, status) is expected
    assert ApiCallError(code, "m", http_status=status).error_class is expected


@settings(deadline=None)
@given(st.integers(1, 60), st.floats(0.001, 5), st.floats(0.01, 100), st.floats(0, 0.999999))
def test_full_jitter_stays_within_the_exponential_envelope(attempt, base, cap, roll):
    delay = full_jitter(attempt, base, cap, lambda: roll)
    assert 0 <= delay <= min(cap, base * 2 ** (attempt - 1))


def _operation(answers):
    """An operation answering from a list: exceptions are raised, values returned."""
    calls = []

    def operation(timeout):
        calls.append(timeout)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return operation, calls


def _run(operation, clock, policy=None, *, deadline_in=60.0, max_attempts=8, record=None, log=None):
    return call_with_retries(
        operation,
        policy=policy or FullJitterPolicy(base=0.1, rand=lambda: 0.5),
        deadline=Deadline(clock.now + deadline_in, clock),
        max_attempts=max_attempts,
        call_timeout=10.0,
        log=log or Log(),
        action="CreateCustomerGateway",
        record=record,
        sleep=clock.sleep,
    )


def test_success_after_transient_failures_sleeps_the_policy_delays():
    clock, log, record = FakeClock(), Log(), AttemptLog()
    throttled = ApiCallError("Throttling.User", "slow down", http_status=400)
    operation, calls = _operation(
        [throttled, ApiCallError("InternalError", "x", http_status=500), {"ok": True}]
    )
    assert _run(operation, clock, record=record, log=log) == {"ok": True}
    assert len(calls) == 3
    assert clock.sleeps == [0.05, 0.1]  # 0.5 * 0.1 * 2**0, 0.5 * 0.1 * 2**1
    assert (record.attempts, record.throttled) == (3, 1)
    assert record.waited_s == pytest.approx(0.15)  # what the invocation summary reports
    backoffs = [fields for event, fields in log.lines if event == "backoff"]
    assert [(b["attempt"], b["code"], b["delay_s"]) for b in backoffs] == [
        (1, "Throttling.User", 0.05),
        (2, "InternalError", 0.1),
    ]


def test_a_policy_with_begin_hears_of_each_operation_once_before_its_first_call():
    """ShareLimiterPolicy.begin stamps when an operation began, so its retries keep their place."""
    clock, events = FakeClock(), []

    class Recording(FullJitterPolicy):
        def begin(self):
            events.append("begin")

        def admit(self, latest_start):
            events.append("admit")
            return super().admit(latest_start)

    throttled = ApiCallError("Throttling.User", "slow down", http_status=400)
    operation, calls = _operation([throttled, "done"])
    assert _run(operation, clock, Recording(base=0.1, rand=lambda: 0.5)) == "done"
    assert events == ["begin", "admit", "admit"]
    assert len(calls) == 2


def test_a_policy_that_admits_no_more_ends_the_retries_at_the_deadline():
    """The limiter cannot start the retry before its latest start: the budget ends there,
    naming the last error, the attempts made and the latest start it was asked for."""
    clock, asked = FakeClock(), []

    class Closing(FullJitterPolicy):
        def admit(self, latest_start):
            asked.append(latest_start)
            return len(asked) == 1

    throttled = ApiCallError("Throttling.User", "slow down", http_status=400)
    operation, calls = _operation([throttled])
    start = clock.now
    with pytest.raises(RetryBudgetExhaustedError) as raised:
        _run(operation, clock, Closing(base=0.1, rand=lambda: 0.5), deadline_in=10.0)
    assert (raised.value.reason, raised.value.attempts) == ("deadline", 1)
    assert raised.value.last_error is throttled
    assert len(calls) == 1
    assert asked == [pytest.approx(start + 9.8)] * 2  # 0.2 s before the deadline


def test_no_call_starts_with_less_than_its_minimum_time_left():
    clock = FakeClock()
    clock.now = 0.0  # so that 0.2 s left is exactly 0.2
    operation, calls = _operation(["done"])
    with pytest.raises(RetryBudgetExhaustedError) as raised:
        _run(operation, clock, deadline_in=0.19)  # under the 0.2 s a call needs at least
    assert (raised.value.reason, raised.value.attempts) == ("deadline", 0)
    assert raised.value.last_error.code == "DeadlineExceeded"
    assert "CreateCustomerGateway" in raised.value.last_error.message
    assert calls == []
    assert _run(operation, clock, deadline_in=0.2) == "done"  # exactly enough
    assert calls == [0.2]


def test_permanent_errors_are_not_retried():
    clock = FakeClock()
    operation, calls = _operation([ApiCallError("Forbidden", "no", http_status=403)])
    with pytest.raises(ApiCallError, match="Forbidden"):
        _run(operation, clock)
    assert len(calls) == 1
    assert clock.sleeps == []


def test_attempts_are_bounded():
    clock = FakeClock()
    operation, calls = _operation([ApiCallError("ServiceUnavailable", "x", http_status=503)])
    with pytest.raises(RetryBudgetExhaustedError) as raised:
        _run(operation, clock, max_attempts=4)
    assert len(calls) == 4
    assert (raised.value.reason, raised.value.attempts) == ("attempts", 4)
    assert raised.value.last_error.code == "ServiceUnavailable"


def test_no_sleep_or_call_is_started_that_cannot_finish_before_the_deadline():
    clock = FakeClock()
    policy = FixedWaitPolicy(first=3.0, then=5.0)
    operation, calls = _operation([ApiCallError("Throttling", "x", http_status=400)])
    start = clock.now
    with pytest.raises(RetryBudgetExhaustedError) as raised:
        _run(operation, clock, policy, deadline_in=10.0)
    assert raised.value.reason == "deadline"
    assert clock.sleeps == [3.0, 5.0]  # a third wait (5 s) would end after the deadline
    assert len(calls) == 3
    assert clock.now <= start + 10.0
    assert all(timeout <= 10.0 for timeout in calls)


def test_call_timeout_never_reaches_past_the_deadline():
    clock = FakeClock()
    operation, calls = _operation(["done"])
    _run(operation, clock, deadline_in=2.5)
    assert calls == [2.5]


def test_retry_after_is_a_floor_for_the_delay():
    clock = FakeClock()
    policy = ShareLimiterPolicy(ShareLimiter(clock=clock, sleep=clock.sleep), rand=lambda: 0.0)
    throttled = ApiCallError("Throttling.User", "x", http_status=400, retry_after_s=0.25)
    operation, _ = _operation([throttled, "done"])
    assert _run(operation, clock, policy) == "done"
    assert clock.sleeps[0] == pytest.approx(0.25)


# --- the limiter ------------------------------------------------------------------------------


def _limiter(clock, **options):
    return ShareLimiter(clock=clock, sleep=clock.sleep, **options)


def _send(limiter, clock, n, *, every=0.0, granted=True):
    """n sends, `every` seconds apart, each answered at once (granted or not)."""
    for _ in range(n):
        assert limiter.acquire(clock.now + 100) is not None
        if granted:
            limiter.on_success()
        clock.now += every


def test_a_warm_limiter_is_unpaced_until_the_first_throttle():
    clock = FakeClock()
    limiter = _limiter(clock)
    assert limiter.acquire(clock.now + 1) == 0  # fresh: two at once,
    assert limiter.acquire(clock.now + 1) == 0
    assert limiter.acquire(clock.now + 1) == pytest.approx(0.1 * math.log2(3 / 2))  # then slower
    start = clock.now
    while clock.now < start + 0.6:  # unthrottled answers for half a second: warm
        limiter.acquire(clock.now + 1)
        limiter.on_success(0.02)
        clock.now += 0.05
    sleeps = len(clock.sleeps)
    for _ in range(50):
        assert limiter.acquire(clock.now + 1) == 0
    assert limiter.rate is None
    assert len(clock.sleeps) == sleeps


@pytest.mark.parametrize(("granted", "factor"), [(8, 0.8), (0, 0.7), (10, 0.95)])
def test_a_cut_keeps_the_share_the_service_took_within_bounds(granted, factor):
    clock = FakeClock()
    limiter = _limiter(clock, window=1.0)
    _send(limiter, clock, granted, every=0.1)
    _send(limiter, clock, 10 - granted, every=0.1, granted=False)
    clock.now -= 0.05  # (all ten inside the window)
    limiter.on_throttle(
        retry_after_s=0.001
    )  # a limit's answer: sent at 10/s, `granted` of 10 taken: never below 0.7, at least 5% off
    assert limiter.rate == pytest.approx(10 * factor)


def test_an_idle_gap_before_a_batch_does_not_deepen_a_cut():
    """Between two batches an instance sends nothing for a while; a throttle on the new batch's
    third send cuts from the rate it was sending at, not from that rate diluted by the gap."""
    clock = FakeClock()
    limiter = _limiter(clock, window=2.0)
    _congestion(limiter, clock)
    clock.now += 1.5
    _congestion(limiter, clock)  # paced, slow start over
    rate = limiter.rate
    clock.now += 1.9  # idle
    _send(limiter, clock, 2)  # the next batch: sends at the limiter's pace
    limiter.acquire(clock.now + 10)
    limiter.on_throttle()  # 3 sent over 2/rate seconds, one throttled: 1/8 off (a share is
    assert limiter.rate == pytest.approx(rate * 7 / 8, rel=0.02)  # measured over >= 8 sends)


def _congestion(limiter, clock):
    """A second of sends (as fast as the limiter lets them go), then a throttle."""
    clock.now += 0.01
    _send(limiter, clock, 10, every=0.1)
    clock.now -= 0.05
    before = limiter.rate
    limiter.on_throttle(retry_after_s=0.001)  # (a limit's answer: rate-dependent)
    clock.now += 0.05
    return before


def test_throttles_in_one_congestion_event_cut_once():
    clock = FakeClock()
    limiter = _limiter(clock, window=1.0)
    _congestion(limiter, clock)
    rate = limiter.rate
    limiter.on_throttle()
    limiter.on_throttle()
    assert limiter.rate == rate
    clock.now += 1.0
    before = _congestion(limiter, clock)  # a new event: cut again
    assert limiter.rate < before


def _probe(limiter, clock, seconds, step=0.05):
    """Demand stays high (a send every `step`); the rate after each step."""
    rates = []
    for _ in range(round(seconds / step)):
        clock.now += step
        limiter.pacer._sends.append(clock.now)  # (sent: only the demand matters here)
        limiter.on_success()
        rates.append(limiter.rate)
    return rates


def test_slow_start_goes_on_after_the_first_cut_and_ends_at_the_second():
    clock = FakeClock()
    limiter = _limiter(clock, window=1.0, slow_start=2.0)
    _congestion(limiter, clock)  # first estimate: 10/s x 0.95
    first = limiter.rate
    rates = _probe(limiter, clock, 1.0)
    elapsed = clock.now - limiter.pacer._cut_at
    assert rates[-1] == pytest.approx(first * 2**elapsed)  # doubling every second
    clock.now += 0.01
    limiter.on_throttle()
    second = limiter.rate
    assert second < rates[-1]
    rates = _probe(limiter, clock, 1.9)  # hold: 2 s flat after the cut
    assert rates == [second] * len(rates)


def test_probing_adds_the_same_step_whatever_the_rate():
    """Additive increase: two instances at different rates grow by the same amount per second,
    so their shares converge (a multiplicative probe would keep their ratio forever)."""
    grown = []
    for slow_rate in (2.0, 0.5):
        clock = FakeClock()
        limiter = _limiter(clock, window=1.0, hold=0.0, probe=0.1)
        _congestion(limiter, clock)  # slow start from 9.5/s
        clock.now += 1.0
        _congestion(limiter, clock)  # ends it: step = 0.1 x what we sent per second
        step = limiter.pacer._step
        limiter.pacer._rate = slow_rate  # (two instances that drifted apart)
        before = limiter.rate
        after = _probe(limiter, clock, 2.0)[-1]
        grown.append(after - before)
    assert grown[0] == pytest.approx(grown[1]) == pytest.approx(2 * step, rel=0.05)
    assert step > 0.5


def test_no_growth_without_demand():
    clock = FakeClock()
    limiter = _limiter(clock, window=1.0, hold=0.0)
    _congestion(limiter, clock)
    clock.now += 1.0
    _congestion(limiter, clock)
    rate, rates = limiter.rate, []
    for _ in range(100):  # successes, but hardly any sends: an idle instance
        clock.now += 0.5
        limiter.on_success()
        rates.append(limiter.rate)
    # the congestion's sends show demand for one more second (one step), then nothing grows:
    # neither inflated by the idle time nor cut by it
    assert rate <= rates[-1] <= rate + limiter.pacer._step * 1.0 + 1e-9
    assert rates[2:] == [rates[-1]] * 98


def test_sends_are_spaced_at_the_rate():
    clock = FakeClock()
    limiter = _limiter(clock, window=1.0)
    _congestion(limiter, clock)
    sent = []
    for _ in range(4):
        limiter.acquire(clock.now + 10)
        sent.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert gaps == [pytest.approx(1 / limiter.rate, rel=0.1)] * 3


def test_retry_after_holds_every_thread():
    clock = FakeClock()
    limiter = _limiter(clock, window=1.0)
    _send(limiter, clock, 100)
    limiter.on_throttle(retry_after_s=0.5)
    assert limiter.acquire(clock.now + 10) == pytest.approx(0.5)


def test_no_turn_is_taken_past_latest_start():
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(clock.now + 1)
    limiter.on_throttle(retry_after_s=5.0)
    assert limiter.acquire(clock.now + 1.0) is None
    assert clock.sleeps == []
    assert limiter._line == []  # it left the line


def _paced(rate):
    limiter = ShareLimiter(min_rate=1.0)  # (a cut with no sends in the window: 1/s, not less)
    limiter.pacer._rate = rate
    return limiter


@pytest.mark.slow
def test_a_retry_keeps_its_place_ahead_of_later_work():
    """Real threads: while every thread is held by a retry-after, the one whose operation began
    first sends first, whatever order they queued in."""
    import time

    limiter = _paced(20.0)
    limiter.on_throttle(retry_after_s=2.0)
    order = []
    lock = threading.Lock()
    now = time.monotonic()

    def take(name, since):
        limiter.acquire(1e12, since)
        with lock:
            order.append(name)

    threads = []
    for name, offset in (("new", 0.0), ("newer", 1.0), ("retry", -5.0)):
        threads.append(threading.Thread(target=take, args=(name, now + offset)))
        threads[-1].start()
        while len(limiter._line) < len(threads):  # (queued in this order)
            time.sleep(0.005)
    for thread in threads:
        thread.join()
    assert order == ["retry", "new", "newer"]


def test_limiter_spreads_concurrent_threads():
    """Real threads, real clock: one send per 1/rate, whatever the number of threads."""
    import time

    limiter = _paced(40.0)
    sent = []
    lock = threading.Lock()

    def take():
        limiter.acquire(1e12)
        with lock:
            sent.append(time.monotonic())

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.sort()
    assert len(sent) == 8
    assert sent[-1] - sent[0] >= 6.5 / 40  # 7 gaps of 1/40 s


@pytest.mark.parametrize("name", ["share-limiter", "full-jitter", "fixed"])
def test_policies_by_name(name):
    policy = policy_named(name)
    assert policy.name == name
    assert policy.admit(1e12) is True


def test_baselines_delays():
    error = ApiCallError("Throttling", "x", retry_after_s=0.3)
    fixed = FixedWaitPolicy()
    assert [fixed.delay(n, error, ErrorClass.THROTTLING) for n in (1, 2, 3)] == [3.0, 5.0, 5.0]
    jitter = FullJitterPolicy(rand=lambda: 1.0)
    assert [jitter.delay(n, error, ErrorClass.THROTTLING) for n in (1, 2, 6)] == [1, 2, 20]
