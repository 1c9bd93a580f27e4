"""retry: classification, full jitter, the adaptive limiter and the retry loop, on a fake clock."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgw_provisioner.retry import (
    AdaptivePolicy,
    AdaptiveRateLimiter,
    ApiCallError,
    AttemptLog,
    BotocoreAdaptivePolicy,
    Deadline,
    ErrorClass,
    FixedWaitPolicy,
    FullJitterPolicy,
    RetryBudgetExhaustedError,
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
    backoffs = [fields for event, fields in log.lines if event == "backoff"]
    assert [(b["attempt"], b["code"], b["delay_s"]) for b in backoffs] == [
        (1, "Throttling.User", 0.05),
        (2, "InternalError", 0.1),
    ]


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
    policy = AdaptivePolicy(AdaptiveRateLimiter(clock=clock, sleep=clock.sleep), rand=lambda: 0.0)
    throttled = ApiCallError("Throttling.User", "x", http_status=400, retry_after_s=0.25)
    operation, _ = _operation([throttled, "done"])
    assert _run(operation, clock, policy) == "done"
    assert clock.sleeps[0] == pytest.approx(0.25)


# --- the limiter ------------------------------------------------------------------------------


def _limiter(clock, **options):
    return AdaptiveRateLimiter(clock=clock, sleep=clock.sleep, **options)


def test_limiter_is_unpaced_until_the_first_throttle():
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(50):
        assert limiter.acquire(clock.now + 1) == 0
    assert limiter.rate is None


def test_first_throttle_paces_at_the_rate_the_service_granted():
    clock = FakeClock()
    limiter = _limiter(clock, window=1.0)
    for _ in range(20):  # 20 sends in 0.2 s, only 3 granted: mostly refused
        limiter.acquire(clock.now + 1)
        clock.now += 0.01
    for _ in range(3):
        limiter.on_success()
    limiter.on_throttle(retry_after_s=0.1)
    assert limiter.rate == pytest.approx(0.8 * 3.0)
    waits = [limiter.acquire(clock.now + 10) for _ in range(4)]
    assert waits == [pytest.approx(1 / 2.4)] * 4  # one send per 1/rate, evenly


def test_retry_after_holds_every_thread():
    clock = FakeClock()
    limiter = _limiter(clock, window=1.0)
    for _ in range(100):
        limiter.acquire(clock.now + 1)
        limiter.on_success()
    limiter.on_throttle(retry_after_s=0.5)  # rate 80/s, but nothing before 0.5 s
    assert limiter.acquire(clock.now + 10) == pytest.approx(0.5)


def test_throttles_in_one_congestion_event_cut_once():
    clock = FakeClock()
    limiter = _limiter(clock, learn_from_grants=False, window=1.0)
    for _ in range(10):
        limiter.acquire(clock.now + 1)
    limiter.on_throttle()
    rate = limiter.rate
    assert rate == pytest.approx(8.0)
    limiter.on_throttle()
    limiter.on_throttle()
    assert limiter.rate == rate
    clock.now += 1.0
    limiter.on_throttle()
    assert limiter.rate == pytest.approx(rate * 0.8)


def _grow(limiter, clock, seconds, step=0.1):
    samples = []
    for _ in range(round(seconds / step)):
        clock.now += step
        limiter._sends.extend([clock.now] * 10)  # demand stays high: the send cap never binds
        limiter.on_success()
        samples.append(
            (round(clock.now - start, 3) if (start := limiter._last_cut) else 0, limiter.rate)
        )
    return samples


def test_recovery_is_concave_to_just_below_the_refused_rate_then_holds_then_probes():
    clock = FakeClock()
    limiter = _limiter(clock, learn_from_grants=False, window=1.0)
    for _ in range(10):
        limiter.acquire(clock.now + 1)
    limiter.on_throttle()  # the opening estimate
    clock.now += 1.0
    limiter.on_throttle()  # a real congestion event at rate 8: w_max 7.6, rate 6.4
    assert limiter.rate == pytest.approx(6.4)
    k = ((7.6 - 6.4) / (0.1 * 7.6)) ** (1 / 3)
    samples = _grow(limiter, clock, k + 2.0 + 3.0)
    rates = [rate for _, rate in samples]
    assert rates == sorted(rates)  # never decreases without a throttle
    at = dict(samples)
    assert at[round(k + 1.0, 1)] == pytest.approx(7.6, abs=1e-6)  # holding at w_max
    assert at[round(k + 1.9, 1)] == pytest.approx(7.6, abs=1e-6)
    assert rates[-1] > 7.6 * 1.1  # then probing beyond


def test_the_opening_estimate_is_searched_without_holding():
    clock = FakeClock()
    limiter = _limiter(clock, learn_from_grants=False, window=1.0)
    for _ in range(10):
        limiter.acquire(clock.now + 1)
    limiter.on_throttle()  # w_max 9.5, rate 8
    samples = _grow(limiter, clock, 4.0)
    assert samples[-1][1] > 2 * 9.5


def test_no_slot_is_reserved_past_latest_start():
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(clock.now + 1)
    limiter.on_throttle(retry_after_s=5.0)
    assert limiter.acquire(clock.now + 1.0) is None
    assert clock.sleeps == []


def test_limiter_spreads_concurrent_threads():
    """Real threads, real clock: one send per 1/rate, whatever the number of threads."""
    import time

    limiter = AdaptiveRateLimiter(window=0.1)
    for _ in range(5):
        limiter.acquire(1e12)
    limiter.on_throttle()  # 5 sends in the 0.1 s window: 50/s, paced at 40/s
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
    assert sent[-1] - sent[0] >= 6 / 40  # 7 gaps of 1/40 s, give or take the first token


@pytest.mark.parametrize("name", ["adaptive", "botocore-adaptive", "full-jitter", "fixed"])
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
    botocore = BotocoreAdaptivePolicy(rand=lambda: 0.0)
    assert botocore.delay(1, error, ErrorClass.THROTTLING) == 0.0  # ignores retry-after
