"""A retry policy wrapper that records what the policy saw and decided (for the analysis of the
limiter in README "Performance"; enabled with BENCH_TRACE=path)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any


class TracedPolicy:
    def __init__(self, inner: Any, instance: str) -> None:
        self.inner, self.instance = inner, instance
        self.name = getattr(inner, "name", "policy")
        self._lock = threading.Lock()
        self._events: list[tuple[float, str, float | None, float | None]] = []

    def _rate(self) -> float | None:
        limiter = getattr(self.inner, "limiter", None)
        if limiter is not None:
            return limiter.rate
        bucket = getattr(self.inner, "_bucket", None)
        enabled = getattr(self.inner, "_enabled", False)
        return bucket.max_rate if bucket is not None and enabled else None

    def _note(self, event: str, value: float | None = None) -> None:
        with self._lock:
            self._events.append((time.time(), event, self._rate(), value))

    def begin(self) -> None:
        begin = getattr(self.inner, "begin", None)
        if begin is not None:
            begin()  # (traced or not, a retry keeps its place in the limiter's line)

    def concurrency(self, workers: int) -> int:
        advise = getattr(self.inner, "concurrency", None)
        return workers if advise is None else advise(workers)

    def admit(self, latest_start: float) -> bool:
        started = time.monotonic()
        admitted = self.inner.admit(latest_start)
        self._note("send" if admitted else "refused", time.monotonic() - started)
        return admitted

    def on_success(self) -> None:
        self.inner.on_success()
        self._note("success")

    def on_failure(self, error: Any, error_class: Any) -> None:
        self.inner.on_failure(error, error_class)
        self._note(f"failure:{error.code}", error.retry_after_s)

    def delay(self, attempt: int, error: Any, error_class: Any) -> float:
        delay = self.inner.delay(attempt, error, error_class)
        self._note("delay", delay)
        return delay

    def dump(self, path: str) -> None:
        with self._lock:
            events, self._events = self._events, []
        with open(path, "a", encoding="utf-8") as out:
            for at, event, rate, value in events:
                out.write(json.dumps([self.instance, at, event, rate, value]) + "\n")
