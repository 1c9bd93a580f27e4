"""The three retry policies a user would otherwise get, written from their sources
(docs/performance.md, "The baselines and their sources") against the function's RetryPolicy
protocol, so the benchmark swaps them in for ours with nothing else changed (same error
classification, attempts cap and deadline). The two without a limiter are the function's own
RETRY_POLICY options (cgw_provisioner/retry.py).

- FixedWaits: terraform-provider-alicloud's `incrementalWait(3s, 5s)`: 3 s, then 5 s for every
  later retry; no limiter.
- FullJitter: botocore's standard mode: `random() * min(2 ** (attempt - 1), 20)` seconds (base
  1 s); no limiter. (botocore's retry quota is left out: with it, retries stop when it is empty.)
- BotocoreAdaptive: botocore's adaptive mode: the standard backoff plus a per-client rate limiter,
  ported from botocore/retries/{adaptive,bucket,throttling}.py: a token bucket (max_rate 1 at
  first, fill rate at least 0.5 tokens/s, capacity max(rate, 1)) used only once a throttle has
  been seen;
  CUBIC (scale 0.4, beta 0.7) sets the rate on every response, capped at twice the measured
  response rate (RateClocker: 0.5 s buckets, smoothing 0.8).
One instance of a policy is shared by all threads of one function instance: per client.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from cgw_provisioner.retry import ApiCallError, ErrorClass, FixedWaitPolicy, FullJitterPolicy


class _TokenBucket:
    """botocore.retries.bucket.TokenBucket (blocking acquire)."""

    MIN_RATE = 0.5

    def __init__(self, max_rate: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._capacity = 0.0
        self._last: float | None = None
        self._fill_rate = self._max_capacity = 0.0
        self.set_max_rate(max_rate)

    @property
    def max_rate(self) -> float:
        return self._fill_rate

    def set_max_rate(self, value: float) -> None:
        with self._lock:
            self._max_capacity = value if value >= 1 else 1.0
            self._capacity = min(self._capacity, self._max_capacity)
            self._fill_rate = max(value, self.MIN_RATE)

    def _refill(self) -> None:
        now = self._clock()
        if self._last is not None:
            fill = (now - self._last) * self._fill_rate
            self._capacity = min(self._max_capacity, self._capacity + fill)
        self._last = now

    def acquire(self, latest_start: float) -> bool:
        while True:
            with self._lock:
                self._refill()
                if self._capacity >= 1:
                    self._capacity -= 1
                    return True
                wait = (1 - self._capacity) / self._fill_rate
            if time.monotonic() + wait > latest_start:
                return False
            time.sleep(wait)


class _RateClocker:
    """botocore.retries.adaptive.RateClocker: responses per second, smoothed."""

    SMOOTHING, BUCKET_RANGE = 0.8, 0.5

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._measured = 0.0
        self._count = 0
        self._last_bucket: float = math.floor(clock())

    def record(self) -> float:
        with self._lock:
            bucket = math.floor(self._clock() * (1 / self.BUCKET_RANGE)) / (1 / self.BUCKET_RANGE)
            self._count += 1
            if bucket > self._last_bucket:
                current = self._count / (bucket - self._last_bucket)
                self._measured = current * self.SMOOTHING + self._measured * (1 - self.SMOOTHING)
                self._count = 0
                self._last_bucket = bucket
            return self._measured


class _Cubic:
    """botocore.retries.throttling.CubicCalculator."""

    def __init__(self, start: float, scale: float = 0.4, beta: float = 0.7) -> None:
        self._w_max, self._scale, self._beta = 0.0, scale, beta
        self._k = self._zero_point()
        self._last_fail = start

    def _zero_point(self) -> float:
        return (self._w_max * (1 - self._beta) / self._scale) ** (1 / 3)

    def success(self, now: float) -> float:
        return self._scale * (now - self._last_fail - self._k) ** 3 + self._w_max

    def error(self, rate: float, now: float) -> float:
        self._w_max = rate
        self._k = self._zero_point()
        self._last_fail = now
        return rate * self._beta


class BotocoreAdaptive(FullJitterPolicy):
    name = "adaptive"

    def __init__(self, clock: Callable[[], float] = time.monotonic, **backoff: Any) -> None:
        super().__init__(**backoff)
        self._clock = clock
        self._lock = threading.Lock()
        self._enabled = False
        self._bucket = _TokenBucket(1.0, clock)
        self._clocker = _RateClocker(clock)
        self._cubic = _Cubic(clock())

    def admit(self, latest_start: float) -> bool:
        if not self._enabled:
            return time.monotonic() <= latest_start
        return self._bucket.acquire(latest_start)

    def on_success(self) -> None:
        self._on_response(throttled=False)

    def on_failure(self, error: ApiCallError, error_class: ErrorClass) -> None:
        self._on_response(throttled=error_class is ErrorClass.THROTTLING)

    def _on_response(self, *, throttled: bool) -> None:
        measured = self._clocker.record()
        now = self._clock()
        with self._lock:
            if not throttled:
                new_rate = self._cubic.success(now)
            else:
                rate = measured if not self._enabled else min(measured, self._bucket.max_rate)
                new_rate = self._cubic.error(rate, now)
                self._enabled = True
            self._bucket.set_max_rate(min(new_rate, 2 * measured))


BASELINES: dict[str, Callable[[], Any]] = {
    "fixed": FixedWaitPolicy,
    "full_jitter": FullJitterPolicy,
    "adaptive": BotocoreAdaptive,
}
