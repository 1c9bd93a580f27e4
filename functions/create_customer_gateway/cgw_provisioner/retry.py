"""Retrying API calls: error classes, the deadline, the adaptive rate limiter and the policies.

The one place that decides whether an error is worth another attempt (`classify`), by error
code and HTTP status, never by matching message text. `call_with_retries` runs one operation
under a `RetryPolicy` (pluggable: benchmarks swap in baselines) bounded by attempts and by the
invocation's deadline: it never starts a call or a sleep that cannot finish before it.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from itertools import count
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from .logs import Log

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "Throttling.Concurrent",
        "Rejected.Throttling",
        "ServiceUnavailable",
        "QpsLimitExceeded",  # MNS
        "TooManyRequests",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalServerError",
        "UnknownError",
        "SDK.HttpError",  # aliyunsdkcore: connection error, timeout, lost response
        "NetWorkException",  # aliyun-mns-sdk: connection error, timeout
        "RespDataDamaged",  # aliyun-mns-sdk: a truncated or garbled answer
        "OperationConflict",
        "LastTokenProcessing",
        "OperationFailed.LastTokenProcessing",
        "IdempotenceProcessing",
        "ConnectionError",  # fc2 (requests)
    }
)
THROTTLING_STATUSES = frozenset({429, 503})
MIN_CALL_SECONDS = 0.2  # no call is started with less time than this left


class ErrorClass(Enum):
    THROTTLING = "throttling"
    TRANSIENT = "transient"
    PERMANENT = "permanent"

    @property
    def retryable(self) -> bool:
        return self is not ErrorClass.PERMANENT


class ApiCallError(Exception):
    """An API call failed: what the service (or the transport) said. Adapters raise subclasses."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        request_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.request_id = request_id
        self.retry_after_s = retry_after_s

    @property
    def error_class(self) -> ErrorClass:
        return classify(self.code, self.http_status)


def classify(code: str | None, http_status: int | None) -> ErrorClass:
    """Throttling, transient or permanent, from the error code and the HTTP status."""
    if code in THROTTLING_CODES or http_status in THROTTLING_STATUSES:
        return ErrorClass.THROTTLING
    if code in TRANSIENT_CODES or (http_status is not None and http_status >= 500):
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT


class RetryBudgetExhaustedError(Exception):
    """A retryable failure outlasted the attempts or the deadline: hand the work back."""

    def __init__(self, last_error: ApiCallError, attempts: int, reason: str) -> None:
        super().__init__(f"{reason} after {attempts} attempt(s); last error {last_error}")
        self.last_error = last_error
        self.attempts = attempts
        self.reason = reason  # "attempts" or "deadline"


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock after which no call or sleep may still be running."""

    at: float
    clock: Callable[[], float] = time.monotonic

    def remaining(self) -> float:
        return self.at - self.clock()

    def earlier(self, seconds: float) -> Deadline:
        return Deadline(self.at - seconds, self.clock)


# --- the adaptive rate limiter -------------------------------------------------------------


class ShareLimiter:
    """Ours: paces this instance's sends at the share of the service's rate it can have, and
    learns that share from what the service lets through. Rates are sends per second. One
    limiter per instance, shared by its threads; instances do not talk to each other.

    - Sends wait in one line, ordered by when their operation began (a retry keeps its
      place); the head sends at the current rate. Nobody sends before a retry-after.
    - Start: unpaced. The first throttle paces it and slow start goes on (x `slow_start` per
      second) from that rough estimate (taken in one burst); the next throttle ends it.
    - A throttle (one cut per `cut_interval`: later throttles of the same congestion event
      are ignored): rate = the rate we were sending (over the span our sends in the window
      cover: an idle gap between batches does not count) x the share of our sends the service
      took over the last `window` seconds, that share bounded to [`min_cut`, `margin`]. Instances
      sharing a limit see about the same share, so their sum falls just below the limit
      whatever their number.
    - After a cut: hold `hold` seconds, then probe by a fixed step per second (`probe` x the
      rate at the end of slow start, about the same for every instance). The same step for
      all (additive increase, multiplicative decrease) is what makes shares converge to fair:
      steps relative to each instance's own rate would keep a slow instance slow. Growth
      stops at twice the sends of the last second (no growth without demand).

    Tuned on bench/throughput.py (4 instances x batches of 10, 10 QPS limit): see
    docs/performance.md and docs/decisions/0001-share-limiter.md.
    """

    def __init__(
        self,
        *,
        slow_start: float = 1.5,
        window: float = 2.0,
        cut_interval: float = 1.0,
        margin: float = 0.95,
        min_cut: float = 0.7,
        hold: float = 2.0,
        probe: float = 0.02,
        min_rate: float = 1.0,
        max_rate: float = 1000.0,
        recheck: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.slow_start, self.window, self.cut_interval = slow_start, window, cut_interval
        self.margin, self.min_cut, self.hold, self.probe = margin, min_cut, hold, probe
        self.min_rate, self.max_rate, self.recheck = min_rate, max_rate, recheck
        self._clock, self._sleep = clock, sleep
        self._turns = threading.Condition()
        self._line: list[tuple[float, int]] = []
        self._tickets = count()
        self._last_send = -math.inf
        self._pause_until = -math.inf
        self._rate: float | None = None  # None: unpaced
        self._slow = True  # in slow start
        self._step = 0.0  # the probe's step per second
        self._cut_at = -math.inf
        self._grown_at = -math.inf
        self._sends: deque[float] = deque()
        self._grants: deque[float] = deque()

    @property
    def rate(self) -> float | None:
        """Sends per second while pacing, None while unpaced."""
        return self._rate

    def now(self) -> float:
        """The limiter's clock: what `acquire`'s `since` is measured on."""
        return self._clock()

    def acquire(self, latest_start: float, since: float | None = None) -> float | None:
        """Wait for this thread's turn to send; the seconds waited, or None (the thread leaves
        the line) when its turn would come after `latest_start`. The line is ordered by
        `since`, when the thread's operation began: a retry keeps its place ahead of work that
        came later. Only the head of the line sends, at the current rate, so a rate that
        changes while threads wait applies to all of them at once."""
        with self._turns:
            began = self._clock()
            ticket = (began if since is None else since, next(self._tickets))
            bisect.insort(self._line, ticket)
            try:
                while True:
                    now = self._clock()
                    self._grow(now)
                    place = self._line.index(ticket)
                    gap = 0.0 if self._rate is None else 1.0 / self._rate
                    turn = max(now, self._last_send + gap, self._pause_until) + place * gap
                    if turn > latest_start:
                        return None
                    if place == 0 and turn <= now:
                        self._last_send = now
                        self._sends.append(now)
                        return now - began
                    if place == 0:
                        self._turns.release()  # (the clock's own sleep, so tests can fake it)
                        try:
                            self._sleep(min(turn - now, self.recheck))
                        finally:
                            self._turns.acquire()
                    else:
                        self._turns.wait(self.recheck)
            finally:
                self._line.remove(ticket)
                self._turns.notify_all()

    def on_success(self) -> None:
        with self._turns:
            now = self._clock()
            self._grants.append(now)
            self._grow(now)

    def on_throttle(self, retry_after_s: float | None = None) -> None:
        with self._turns:
            now = self._clock()
            if retry_after_s:
                self._pause_until = max(self._pause_until, now + retry_after_s)
            if now - self._cut_at < self.cut_interval:
                return
            self._trim(now)
            share = len(self._grants) / max(1, len(self._sends))
            if self._rate is None:  # an unpaced burst: spread over the window (a rough start)
                rate = len(self._sends) / self.window
            else:  # over the time we were sending: an idle gap before a batch must not count
                span = now - self._sends[0] if self._sends else self.window
                rate = min(self._rate, len(self._sends) / max(span, 1.0 / self._rate))
            if self._rate is not None and self._slow:  # the second cut ends slow start
                self._slow = False
                self._step = self.probe * max(rate, self.min_rate)
            factor = min(self.margin, max(self.min_cut, share))
            self._rate = min(self.max_rate, max(self.min_rate, rate * factor))
            self._cut_at = self._grown_at = now

    def _grow(self, now: float) -> None:
        if self._rate is None:
            return
        elapsed, self._grown_at = now - self._grown_at, now
        if self._slow:
            grown = self._rate * self.slow_start**elapsed
        else:
            probing = now - self._cut_at - self.hold
            if probing <= 0:
                return
            grown = self._rate + self._step * min(elapsed, probing)
        self._trim(now)
        last_second = sum(1 for sent in self._sends if sent > now - 1.0)
        self._rate = min(self.max_rate, grown, max(self._rate, 2.0 * last_second))

    def _trim(self, now: float) -> None:
        horizon = now - self.window
        for times in (self._sends, self._grants):
            while times and times[0] < horizon:
                times.popleft()


# --- policies --------------------------------------------------------------------------------


class RetryPolicy(Protocol):
    """How to pace and space attempts. One instance is shared by every thread of an instance.

    admit(latest_start): wait until a send is allowed; return False when it would not be before
        latest_start (nothing is reserved then).
    begin(): a new operation starts on this thread (its retries follow).
    concurrency(workers): how many operations are worth running at once (at most `workers`).
    on_success() / on_failure(error, error_class): feed back what the service answered.
    delay(attempt, error, error_class): seconds to wait before attempt `attempt + 1`.
    """

    name: str

    def begin(self) -> None: ...
    def admit(self, latest_start: float) -> bool: ...
    def concurrency(self, workers: int) -> int: ...
    def on_success(self) -> None: ...
    def on_failure(self, error: ApiCallError, error_class: ErrorClass) -> None: ...
    def delay(self, attempt: int, error: ApiCallError, error_class: ErrorClass) -> float: ...


def full_jitter(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Brooker's full jitter: uniform in [0, min(cap, base * 2 ** (attempt - 1))]."""
    return rand() * min(cap, base * 2.0 ** max(0, attempt - 1))


class ShareLimiterPolicy:
    """The default (RETRY_POLICY=share-limiter): the ShareLimiter paces sends; retries wait a
    short full-jitter delay, and at least the service's retry-after. Throttled retries need no
    long sleep of their own: the limiter spaces them at the learned rate."""

    name = "share-limiter"

    def __init__(
        self,
        limiter: ShareLimiter | None = None,
        *,
        throttle_base: float = 0.05,
        transient_base: float = 0.1,
        cap: float = 5.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.limiter = limiter or ShareLimiter()
        self.throttle_base, self.transient_base, self.cap = throttle_base, transient_base, cap
        self._rand = rand
        self._operation = threading.local()  # when this thread's operation and call began
        self._call_s = 0.1  # the mean time of one call (moving average)

    def begin(self) -> None:
        self._operation.began = self.limiter.now()

    def admit(self, latest_start: float) -> bool:
        began = getattr(self._operation, "began", None)
        if self.limiter.acquire(latest_start, began) is None:
            return False
        self._operation.sent = time.monotonic()
        return True

    def on_success(self) -> None:
        self._timed()
        self.limiter.on_success()

    def on_failure(self, error: ApiCallError, error_class: ErrorClass) -> None:
        self._timed()
        if error_class is ErrorClass.THROTTLING:
            self.limiter.on_throttle(error.retry_after_s)

    def concurrency(self, workers: int) -> int:
        """Operations worth running at once: all `workers` while unpaced, else what the rate
        keeps busy (rate x call time, plus one waiting for its turn)."""
        rate = self.limiter.rate
        if rate is None:
            return workers
        return max(1, min(workers, math.ceil(rate * self._call_s) + 1))

    def _timed(self) -> None:
        sent = getattr(self._operation, "sent", None)
        if sent is not None:
            self._call_s += 0.2 * (time.monotonic() - sent - self._call_s)

    def delay(self, attempt: int, error: ApiCallError, error_class: ErrorClass) -> float:
        base = self.throttle_base if error_class is ErrorClass.THROTTLING else self.transient_base
        jitter = full_jitter(attempt, base, self.cap, self._rand)
        return max(jitter, error.retry_after_s or 0.0)


class FullJitterPolicy:
    """Baseline: full jitter (base 1 s, cap 20 s), no limiter, retry-after ignored."""

    name = "full-jitter"

    def __init__(
        self, base: float = 1.0, cap: float = 20.0, rand: Callable[[], float] = random.random
    ) -> None:
        self.base, self.cap, self._rand = base, cap, rand

    def begin(self) -> None:
        pass

    def admit(self, latest_start: float) -> bool:
        return True  # (call_with_retries checks the deadline itself)

    def concurrency(self, workers: int) -> int:
        return workers

    def on_success(self) -> None:
        pass

    def on_failure(self, error: ApiCallError, error_class: ErrorClass) -> None:
        pass

    def delay(self, attempt: int, error: ApiCallError, error_class: ErrorClass) -> float:
        return full_jitter(attempt, self.base, self.cap, self._rand)


class FixedWaitPolicy(FullJitterPolicy):
    """Baseline: terraform-provider-alicloud's waits, 3 s then 5 s for every later retry."""

    name = "fixed"

    def __init__(self, first: float = 3.0, then: float = 5.0) -> None:
        super().__init__()
        self.first, self.then = first, then

    def delay(self, attempt: int, error: ApiCallError, error_class: ErrorClass) -> float:
        return self.first if attempt <= 1 else self.then


def policy_named(name: str) -> RetryPolicy:
    """The policy for RETRY_POLICY (share-limiter, full-jitter, fixed)."""
    policies: dict[str, Callable[..., RetryPolicy]] = {
        "share-limiter": ShareLimiterPolicy,
        "full-jitter": FullJitterPolicy,
        "fixed": FixedWaitPolicy,
    }
    return policies[name]()


# --- the loop --------------------------------------------------------------------------------


@dataclass
class AttemptLog:
    """What one call_with_retries did (for the outcome and the invocation summary)."""

    attempts: int = 0
    throttled: int = 0
    waited_s: float = 0.0


def call_with_retries(
    operation: Callable[[float], T],
    *,
    policy: RetryPolicy,
    deadline: Deadline,
    max_attempts: int,
    call_timeout: float,
    log: Log,
    action: str,
    record: AttemptLog | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run operation(timeout) until it succeeds, fails permanently (the ApiCallError is
    re-raised), or a retryable failure outlasts `max_attempts` or the deadline
    (RetryBudgetExhaustedError). `timeout` is what the call may take: at most `call_timeout`,
    and never beyond the deadline."""
    record = record if record is not None else AttemptLog()
    policy.begin()  # (an ordering hint: this operation's retries keep its place in line)
    last_error: ApiCallError | None = None
    attempt = 0
    while True:
        latest_start = deadline.at - MIN_CALL_SECONDS
        if not policy.admit(latest_start):
            raise _exhausted(last_error, record, "deadline", action)
        timeout = min(call_timeout, deadline.remaining())
        if timeout < MIN_CALL_SECONDS:
            raise _exhausted(last_error, record, "deadline", action)
        attempt += 1
        record.attempts += 1
        try:
            result = operation(timeout)
        except ApiCallError as error:
            error_class = error.error_class
            policy.on_failure(error, error_class)
            if not error_class.retryable:
                raise
            last_error = error
            if error_class is ErrorClass.THROTTLING:
                record.throttled += 1
            if attempt >= max_attempts:
                raise _exhausted(error, record, "attempts", action) from error
            delay = policy.delay(attempt, error, error_class)
            if deadline.remaining() - delay < MIN_CALL_SECONDS:
                log.info(
                    "retry abandoned: the deadline comes first",
                    action=action,
                    attempt=attempt,
                    code=error.code,
                    delay_s=round(delay, 3),
                    remaining_s=round(deadline.remaining(), 3),
                )
                raise _exhausted(error, record, "deadline", action) from error
            log.info(
                "backoff",
                action=action,
                attempt=attempt,
                code=error.code,
                http_status=error.http_status,
                error_class=error_class.value,
                delay_s=round(delay, 3),
                retry_after_s=error.retry_after_s,
            )
            if delay > 0:
                sleep(delay)
                record.waited_s += delay
            continue
        policy.on_success()
        return result


def _exhausted(
    error: ApiCallError | None, record: AttemptLog, reason: str, action: str
) -> RetryBudgetExhaustedError:
    if error is None:
        error = ApiCallError(
            "DeadlineExceeded", f"no time left to start {action} before the invocation's deadline"
        )
    return RetryBudgetExhaustedError(error, record.attempts, reason)
