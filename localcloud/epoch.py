"""Reset epochs: a request commits only in the epoch (the life between two resets) it began in.

A request can outlive a reset: a `latency_ms` fault sleeps before the action commits, so a
publish that its client gave up on would land in the topic of the next test. Each service
reads `Epoch.current()` when a request arrives and runs its action inside
`Epoch.commit(epoch)`: a request from an earlier epoch raises `StaleRequest` instead of
committing. `Epoch.advance()` (Cloud.reset) moves to the next epoch, interrupts long waits
(an MNS long poll), waits for the actions already committing to finish, and holds back the
requests of the new epoch until the reset (and its hooks, e.g. redeploying the template) is
done; a request that arrives while the reset runs counts as one of the old epoch. An action
that itself waits on other requests (an FC invocation runs a function that calls MNS and VPC)
must not hold a commit: it calls `check(epoch)` before it starts instead.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

log = logging.getLogger("localcloud")

# How long a reset waits for actions already committing (they take milliseconds; an MNS long
# poll is interrupted). Past it the reset goes on and says so, rather than hang a test run.
DRAIN_TIMEOUT_S = 30.0


# How each service answers a stale request (in its own wire format, and without a call-log
# entry: its client belongs to a test that is over).
STALE_STATUS, STALE_CODE = 503, "ServiceUnavailable"


class StaleRequest(Exception):
    """A request that began before the last reset tried to commit after it."""

    def __init__(self, began: int, now: int) -> None:
        super().__init__(f"request began in epoch {began}, localcloud was reset (now {now})")
        self.began = began
        self.now = now


class Epoch:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._cond = threading.Condition()
        self._value = 0
        self._committing = 0
        self._resetting = False
        self._clock = clock

    def current(self) -> int:
        """The epoch a request arriving now belongs to. While a reset runs that is the old one:
        nothing but the last test can be sending then (say a function instance the reset is
        about to kill), so such a request is refused too."""
        with self._cond:
            return self._value - 1 if self._resetting else self._value

    def check(self, epoch: int) -> None:
        """Raise StaleRequest unless `epoch` is current (waits while a reset runs)."""
        with self.commit(epoch):
            pass

    @contextlib.contextmanager
    def commit(self, epoch: int) -> Iterator[None]:
        with self._cond:
            while self._resetting and epoch == self._value:
                self._cond.wait()
            if epoch != self._value:
                raise StaleRequest(epoch, self._value)
            self._committing += 1
        try:
            yield
        finally:
            with self._cond:
                self._committing -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def advance(self, interrupt: Callable[[], None] = lambda: None) -> Iterator[int]:
        """Start the next epoch; the body (the reset itself) runs once no earlier action is
        committing. Yields the new epoch."""
        with self._cond:
            while self._resetting:  # one reset at a time
                self._cond.wait()
            self._resetting = True
            self._value += 1
            epoch = self._value
        try:
            interrupt()
            deadline = self._clock() + DRAIN_TIMEOUT_S
            with self._cond:
                while self._committing:
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        log.warning(
                            "reset: %d action(s) still committing after %.0f s; going on",
                            self._committing,
                            DRAIN_TIMEOUT_S,
                        )
                        break
                    self._cond.wait(remaining)
            yield epoch
        finally:
            with self._cond:
                self._resetting = False
                self._cond.notify_all()
