"""How many messages of one batch are in progress at once.

All of BATCH_CONCURRENCY while the API is not limiting us; once the limiter paces sends, only
as many as its rate keeps busy. By Little's law a message's time in progress is the number in
progress divided by the throughput: starting more than the rate can serve only makes each one
wait longer in the limiter's line (and leaves more half-done work when an instance is killed),
for the same number of gateways per second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from itertools import count

from .retry import RetryPolicy


class StartGate:
    """A message takes a slot before it starts and gives it back when done. `allowed()` is read
    at every check, so the number of slots follows the rate as it changes."""

    def __init__(
        self,
        allowed: Callable[[], int],
        *,
        earliest_start: Callable[[int], float] | None = None,
        recheck: float = 0.05,
        messages: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allowed, self._recheck, self._clock = allowed, recheck, clock
        self._messages, self._started = messages, 0  # the batch's size; those that went in
        self._earliest_start = earliest_start
        self._turns = threading.Condition()
        self._in_progress = 0
        self._waiting: list[int] = []  # the tickets of the threads waiting, first come first
        self._tickets = count()

    @property
    def in_progress(self) -> int:
        return self._in_progress

    @property
    def pending(self) -> int:
        """Messages not started yet: waiting for a slot, or still to come to the gate (of
        `messages`). A policy that fetches ahead reads it as its demand."""
        return max(len(self._waiting), self._messages - self._started)

    def enter(self, latest: float) -> None:
        """Wait for a slot, but not beyond `latest`, nor at all when `earliest_start` says
        this message (with the waiters ahead of it) cannot start before `latest`: then go ahead
        anyway, the message's own deadline checks decide what it may still do (the limiter
        hands it back at once), and nothing holds the invocation open waiting for nothing."""
        with self._turns:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            try:
                # first come, first in: a slot goes to the waiters ahead first (messages start
                # in the batch's order, and none is passed over until its deadline)
                while self._in_progress + (ahead := self._waiting.index(ticket)) >= self._allowed():
                    remaining = latest - self._clock()
                    if remaining <= 0 or self._too_late(latest, ahead):
                        break
                    self._turns.wait(min(self._recheck, remaining))
            finally:
                self._waiting.remove(ticket)
                self._turns.notify_all()  # (the waiters behind moved up)
            self._in_progress += 1
            self._started += 1

    def _too_late(self, latest: float, ahead: int) -> bool:
        return self._earliest_start is not None and self._earliest_start(ahead) > latest

    def wake(self) -> None:
        """Look at `allowed()` again now, not at the next recheck (its advice went up: a
        token fetched ahead came)."""
        with self._turns:
            self._turns.notify_all()

    def leave(self) -> None:
        with self._turns:
            self._in_progress -= 1
            self._turns.notify_all()  # (slots may have opened for several)


def concurrency_for(policy: RetryPolicy, workers: int) -> Callable[[], int]:
    """The policy's advice: how many of `workers` are worth running now."""
    return lambda: policy.concurrency(workers)


def earliest_start_for(policy: RetryPolicy) -> Callable[[int], float] | None:
    """The policy's earliest start for the message `place` from the head of the waiters,
    when it paces (baselines do not: None)."""
    earliest: Callable[[int], float] | None = getattr(policy, "earliest_start", None)
    return earliest
