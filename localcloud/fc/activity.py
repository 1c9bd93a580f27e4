"""What one function's instances did: per-instance counters and the last invocations.

Kept by the instance pool for the console (`/_localcloud/console/`): the numbers FC's own console
shows per instance (busy or idle, invocations, errors, cold start) and a short history of
invocations (batch size, duration, result). Bounded, so a soak of thousands of invocations costs
a fixed amount of memory.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass

RECENT_INVOCATIONS = 200


@dataclass
class InstanceStats:
    instance_id: str
    started: float  # wall-clock time the instance process was started (its cold start)
    busy: bool = False
    alive: bool = True
    invocations: int = 0
    errors: int = 0
    cold_start_s: float | None = None  # how long its initializer took, once it has run


@dataclass(frozen=True)
class InvocationRecord:
    time: float  # wall-clock time the invocation ended
    instance_id: str
    cold: bool  # the instance's first invocation (its initializer ran just before)
    batch_size: int  # messages in the event: array elements, else 1
    duration_s: float
    ok: bool
    error: str | None  # errorMessage of a failed invocation, first 200 characters


def batch_size(event: bytes) -> int:
    """How many messages an event carries: the elements of a JSON array, else one."""
    if not event.lstrip().startswith(b"["):
        return 1
    try:
        elements = json.loads(event)
    except ValueError:
        return 1
    return len(elements) if isinstance(elements, list) else 1


class ActivityLog:
    """Thread-safe counters and history for one pool. `clock` is injected for tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._instances: dict[str, InstanceStats] = {}
        self._recent: deque[InvocationRecord] = deque(maxlen=RECENT_INVOCATIONS)
        self.invocations = 0
        self.errors = 0
        self.cold_starts = 0

    def started(self, instance_id: str) -> None:
        with self._lock:
            self._instances[instance_id] = InstanceStats(instance_id, self._clock())
            self.cold_starts += 1

    def initialized(self, instance_id: str, seconds: float) -> None:
        with self._lock:
            stats = self._instances.get(instance_id)
            if stats is not None:
                stats.cold_start_s = round(seconds, 3)

    def busy(self, instance_id: str, busy: bool) -> None:
        with self._lock:
            stats = self._instances.get(instance_id)
            if stats is not None:
                stats.busy = busy

    def ended(self, instance_id: str) -> None:
        with self._lock:
            stats = self._instances.get(instance_id)
            if stats is not None:
                stats.alive = False
                stats.busy = False

    def invoked(
        self, instance_id: str, *, cold: bool, size: int, seconds: float, error: str | None
    ) -> None:
        record = InvocationRecord(
            time=self._clock(),
            instance_id=instance_id,
            cold=cold,
            batch_size=size,
            duration_s=round(seconds, 4),
            ok=error is None,
            error=None if error is None else error[:200],
        )
        with self._lock:
            self._recent.append(record)
            self.invocations += 1
            stats = self._instances.get(instance_id)
            if stats is not None:
                stats.invocations += 1
            if error is not None:
                self.errors += 1
                if stats is not None:
                    stats.errors += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            live = [asdict(s) for s in self._instances.values() if s.alive]
            return {
                "invocations": self.invocations,
                "errors": self.errors,
                "cold_starts": self.cold_starts,
                "instances": live,
                "recent": [asdict(r) for r in self._recent],
            }
