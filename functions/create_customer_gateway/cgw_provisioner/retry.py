"""Retrying API calls: error classes, the deadline, the adaptive rate limiter and the policies.

The one place that decides whether an error is worth another attempt (`classify`), by error
code and HTTP status, never by matching message text. `call_with_retries` runs one operation
under a `RetryPolicy` (pluggable: benchmarks swap in baselines) bounded by attempts and by the
invocation's deadline: it never starts a call or a sleep that cannot finish before it.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, TypeVar

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


class AdaptiveRateLimiter:
    """A per-instance send-rate limiter shared by every thread: CUBIC-shaped like botocore's
    adaptive mode, but it learns the sustainable rate instead of only backing off. Rates are
    in sends per second; `relative_scale` makes the curve the same shape at 2/s or 200/s.

    - Starts unpaced. The first throttle turns pacing on.
    - On a throttle (one cut per congestion event: throttles within `cut_interval` of a cut
      are the same event): the reference rate is what we were really sending, or, when most of
      it was refused (sent >= 1.5 x granted over `window`), what the service let through.
      w_max = reference x (1 - margin): settle just below the rate that was refused, so a
      small reserve builds in the service's bucket; rate = beta x reference.
    - Honours retry-after: no thread sends before now + retry_after.
    - On success: concave recovery to w_max in K seconds (CUBIC), then `hold` seconds at w_max
      (rivals recover too), then probe linearly (`probe` x w_max per second) and, the longer
      no throttle comes, cubically (`probe_cubic`): fast enough to take over capacity that
      others free. After the first cut (a rough estimate made during the opening burst) the
      search skips the hold and grows cubically at `scale`. Capped at twice the measured send
      rate, so idle periods cannot inflate it.
    - Pacing is a token bucket of depth one at the current rate: concurrent threads are spread
      evenly instead of bursting, and a rate that grows serves waiting threads at once.

    Tuned on bench/throughput.py (4 instances x batches of 10, 10 QPS limit): see README.
    """

    def __init__(
        self,
        *,
        beta: float = 0.8,
        scale: float = 0.1,
        min_rate: float = 1.0,
        max_rate: float = 1000.0,
        window: float = 2.0,
        cut_interval: float = 0.5,
        learn_from_grants: bool = True,
        honour_retry_after: bool = True,
        relative_scale: bool = True,
        probe: float | None = 0.05,
        probe_cubic: float = 0.01,
        recheck: float = 0.05,
        hold: float = 2.0,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.beta, self.scale = beta, scale
        self.min_rate, self.max_rate = min_rate, max_rate
        self.window, self.cut_interval = window, cut_interval
        self.learn_from_grants = learn_from_grants
        self.honour_retry_after = honour_retry_after
        self.relative_scale = relative_scale
        self.probe, self.probe_cubic = probe, probe_cubic
        self.recheck, self.hold, self.margin = recheck, hold, margin
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._enabled = False
        self._rate = max_rate
        self._w_max = max_rate
        self._k = 0.0
        self._cuts = 0
        self._last_cut = -math.inf
        self._tokens = 0.0
        self._filled = clock()
        self._pause_until = -math.inf
        self._sends: deque[float] = deque()
        self._grants: deque[float] = deque()

    @property
    def rate(self) -> float | None:
        """Sends per second while pacing, None while unpaced."""
        return self._rate if self._enabled else None

    def acquire(self, latest_start: float) -> float | None:
        """Wait for this thread's send token; the seconds waited, or None (nothing taken) when
        it would come after `latest_start`. Waiting threads re-check at least every
        `recheck` seconds, so a rate that grows meanwhile serves them sooner."""
        began = self._clock()
        while True:
            with self._lock:
                now = self._clock()
                wait = max(0.0, self._pause_until - now)
                if self._enabled:
                    self._tokens = min(1.0, self._tokens + (now - self._filled) * self._rate)
                    self._filled = now
                    wait = max(wait, (1.0 - self._tokens) / self._rate)
                if now + wait > latest_start:
                    return None
                if wait <= 1e-9:  # (float rounding must not leave a thread spinning)
                    if self._enabled:
                        self._tokens -= 1.0
                    self._sends.append(now)
                    return now - began
            self._sleep(min(wait, self.recheck))

    def on_success(self) -> None:
        with self._lock:
            now = self._clock()
            self._grants.append(now)
            self._trim(now)
            if not self._enabled:
                return
            since = now - self._last_cut - self._k
            grown = self._scale() * since**3 + self._w_max
            if self.probe is not None and since > 0:
                # back at w_max: hold there a while (rivals recover too), then probe gently
                # (linear), faster the longer no throttle comes (cubic)
                if self._cuts > 1:
                    since = max(0.0, since - self.hold)
                    cubic = self.probe_cubic
                else:  # the first estimate is rough (taken during the opening burst): search
                    cubic = self.scale
                grown = self._w_max * (1 + self.probe * since + cubic * since**3)
            cap = max(2.0 * self._measured(self._sends, now), self.min_rate)
            self._rate = min(self.max_rate, max(self.min_rate, min(grown, cap)))

    def on_throttle(self, retry_after_s: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            if self.honour_retry_after and retry_after_s:
                self._pause_until = max(self._pause_until, now + retry_after_s)
            if now - self._last_cut < self.cut_interval:
                return
            self._trim(now)
            sent = self._measured(self._sends, now)
            if self._enabled:
                rate = self._rate
            else:
                self._enabled = True
                rate = sent
                self._tokens, self._filled = 0.0, now
            granted = self._measured(self._grants, now)
            if self.learn_from_grants:
                # the rate we were really sending at (demand may have been below the allowance)
                rate = min(rate, max(sent, self.min_rate))
                if granted > 0 and sent >= 1.5 * granted:
                    # mostly refused: what the service let through is the better estimate
                    rate = min(rate, granted)
            # the rate that was refused was too high: settle a little below it
            self._w_max = max(rate * (1 - self.margin), self.min_rate)
            self._rate = min(self.max_rate, max(self.min_rate, self.beta * rate))
            self._k = ((self._w_max - self._rate) / self._scale()) ** (1 / 3)
            self._last_cut = now
            self._cuts += 1

    def _scale(self) -> float:
        """CUBIC's C: absolute (botocore) or relative to w_max (the same curve at any rate)."""
        return self.scale * self._w_max if self.relative_scale else self.scale

    def _trim(self, now: float) -> None:
        horizon = now - self.window
        for times in (self._sends, self._grants):
            while times and times[0] < horizon:
                times.popleft()

    def _measured(self, times: deque[float], now: float) -> float:
        """Events per second over the window (never over less than the window: no spikes)."""
        return len(times) / self.window


# --- policies --------------------------------------------------------------------------------


class RetryPolicy(Protocol):
    """How to pace and space attempts. One instance is shared by every thread of an instance.

    admit(latest_start): wait until a send is allowed; return False when it would not be before
        latest_start (nothing is reserved then).
    on_success() / on_failure(error, error_class): feed back what the service answered.
    delay(attempt, error, error_class): seconds to wait before attempt `attempt + 1`.
    """

    name: str

    def admit(self, latest_start: float) -> bool: ...
    def on_success(self) -> None: ...
    def on_failure(self, error: ApiCallError, error_class: ErrorClass) -> None: ...
    def delay(self, attempt: int, error: ApiCallError, error_class: ErrorClass) -> float: ...


def full_jitter(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Brooker's full jitter: uniform in [0, min(cap, base * 2 ** (attempt - 1))]."""
    return rand() * min(cap, base * 2 ** max(0, attempt - 1))


class AdaptivePolicy:
    """The default: the adaptive limiter paces sends; retries wait a short full-jitter delay,
    and at least the service's retry-after. Throttled retries need no long sleep of their own:
    the limiter spaces them at the learned rate."""

    name = "adaptive"

    def __init__(
        self,
        limiter: AdaptiveRateLimiter | None = None,
        *,
        throttle_base: float = 0.05,
        transient_base: float = 0.1,
        cap: float = 5.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.limiter = limiter or AdaptiveRateLimiter()
        self.throttle_base, self.transient_base, self.cap = throttle_base, transient_base, cap
        self._rand = rand

    def admit(self, latest_start: float) -> bool:
        return self.limiter.acquire(latest_start) is not None

    def on_success(self) -> None:
        self.limiter.on_success()

    def on_failure(self, error: ApiCallError, error_class: ErrorClass) -> None:
        if error_class is ErrorClass.THROTTLING:
            self.limiter.on_throttle(error.retry_after_s)

    def delay(self, attempt: int, error: ApiCallError, error_class: ErrorClass) -> float:
        base = self.throttle_base if error_class is ErrorClass.THROTTLING else self.transient_base
        jitter = full_jitter(attempt, base, self.cap, self._rand)
        return max(jitter, error.retry_after_s or 0.0)


class BotocoreAdaptivePolicy(AdaptivePolicy):
    """Baseline: botocore's adaptive mode (full jitter, base 1 s, cap 20 s; a CUBIC limiter with
    beta 0.7 that ignores retry-after and the granted rate)."""

    name = "botocore-adaptive"

    def __init__(self, *, rand: Callable[[], float] = random.random, **limiter: Any) -> None:
        super().__init__(
            AdaptiveRateLimiter(
                beta=0.7,
                cut_interval=0.0,
                learn_from_grants=False,
                honour_retry_after=False,
                relative_scale=False,
                probe=None,
                margin=0.0,
                **limiter,
            ),
            throttle_base=1.0,
            transient_base=1.0,
            cap=20.0,
            rand=rand,
        )

    def delay(self, attempt: int, error: ApiCallError, error_class: ErrorClass) -> float:
        return full_jitter(attempt, 1.0, 20.0, self._rand)


class FullJitterPolicy:
    """Baseline: full jitter (base 1 s, cap 20 s), no limiter, retry-after ignored."""

    name = "full-jitter"

    def __init__(
        self, base: float = 1.0, cap: float = 20.0, rand: Callable[[], float] = random.random
    ) -> None:
        self.base, self.cap, self._rand = base, cap, rand

    def admit(self, latest_start: float) -> bool:
        return True

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


def policy_named(name: str, **options: Any) -> RetryPolicy:
    """The policy for RETRY_POLICY (adaptive, botocore-adaptive, full-jitter, fixed)."""
    policies: dict[str, Callable[..., RetryPolicy]] = {
        "adaptive": AdaptivePolicy,
        "botocore-adaptive": BotocoreAdaptivePolicy,
        "full-jitter": FullJitterPolicy,
        "fixed": FixedWaitPolicy,
    }
    return policies[name](**options)


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
    log: Any,
    action: str,
    record: AttemptLog | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run operation(timeout) until it succeeds, fails permanently (the ApiCallError is
    re-raised), or a retryable failure outlasts `max_attempts` or the deadline
    (RetryBudgetExhaustedError). `timeout` is what the call may take: at most `call_timeout`,
    and never beyond the deadline."""
    record = record if record is not None else AttemptLog()
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
