"""RETRY_POLICY=fleet-tokens: every instance's calls draw on one pool of send tokens.

Opt-in, and a proposal under test (docs/decisions/0013-fleet-token-queue.md): the pool is an
MNS queue (token_queue.py) and token_rules.py decides what each answer does to it. A message's
call waits for a token; the start gate lets a message start only when a token is near (the
calls holding one plus the receives open). If the queue cannot be used, the instance paces
alone with the share limiter (`fallback`) for `degrade_s`, so the token queue is never a new
way to lose a request.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .credentials import Credentials
from .retry import ApiCallError, ErrorClass, RetryPolicy, ShareLimiterPolicy, retry_delay
from .token_rules import PoolChange, TokenRules

if TYPE_CHECKING:  # (the adapter is built and imported by app.py)
    from .token_queue import MnsTokenQueue, Token


class FleetTokenPolicy:
    name = "fleet-tokens"

    def __init__(
        self,
        tokens: MnsTokenQueue,
        rules: TokenRules | None = None,
        fallback: RetryPolicy | None = None,
        *,
        degrade_s: float = 60.0,
        on_degrade: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.tokens = tokens
        self.rules = rules or TokenRules(rand=rand)
        self.fallback = fallback or ShareLimiterPolicy()
        self.degrade_s, self._on_degrade = degrade_s, on_degrade
        self._clock, self._rand = clock, rand
        self._lock = threading.Lock()
        self._calling = 0  # calls holding a token now
        self._alone_until = -math.inf
        self._held = threading.local()  # this thread's token, from admit to the answer

    # -- the invocation's edges (app.py calls these when the policy has them) ---------------
    def prepare(self, credentials: Credentials, region: str, account_id: str) -> None:
        self.tokens.use(credentials, region, account_id)

    def finish(self) -> None:
        """Before the invocation returns: held tokens back now (a frozen instance's would
        come back only when their visibility ends)."""
        try:
            self.tokens.flush()
        except Exception as exc:  # (never fails an invocation)
            self._alone(exc)

    # -- RetryPolicy -----------------------------------------------------------------------
    def begin(self) -> None:
        self.fallback.begin()

    def admit(self, latest_start: float) -> bool:
        if self._clock() < self._alone_until:
            return self.fallback.admit(latest_start)
        try:
            token = self.tokens.take(latest_start)
        except Exception as exc:
            self._alone(exc)
            return self.fallback.admit(latest_start)
        if token is None:
            return False
        self._held.token = token
        with self._lock:
            self._calling += 1
        return True

    def on_success(self) -> None:
        token = self._answered()
        if token is None:
            self.fallback.on_success()
        else:
            self._apply(token, self.rules.granted(token.waited))

    def on_failure(self, error: ApiCallError, error_class: ErrorClass) -> None:
        token = self._answered()
        if token is None:
            self.fallback.on_failure(error, error_class)
        elif error_class is ErrorClass.THROTTLING:
            self._apply(token, self.rules.throttled(error.retry_after_s))
        else:
            self._apply(token, self.rules.failed())

    def concurrency(self, workers: int) -> int:
        if self._clock() < self._alone_until:
            return self.fallback.concurrency(workers)
        with self._lock:
            return max(1, min(workers, self._calling + self.tokens.receivers))

    def delay(self, attempt: int, error: ApiCallError, error_class: ErrorClass) -> float:
        """A short full jitter, at least the retry-after: the next call waits for a token."""
        return retry_delay(attempt, error_class, error.retry_after_s, self._rand)

    # -- inside ----------------------------------------------------------------------------
    def _answered(self) -> Token | None:
        token: Token | None = getattr(self._held, "token", None)
        if token is not None:
            self._held.token = None
            with self._lock:
                self._calling -= 1
        return token

    def _apply(self, token: Token, change: PoolChange) -> None:
        try:
            if change.keep:
                self.tokens.give_back(token)
            else:
                self.tokens.remove(token)
            self.tokens.add(change.add)
        except Exception as exc:  # (the answer is already in: only the pool suffers)
            self._alone(exc)
        broken = self.tokens.broken
        if broken is not None:
            self.tokens.broken = None
            self._alone(broken)

    def _alone(self, exc: Exception) -> None:
        """The token queue failed: pace alone with the fallback for a while."""
        self._alone_until = self._clock() + self.degrade_s
        if self._on_degrade is not None:
            self._on_degrade(f"{type(exc).__name__}: {str(exc)[:200]}")
