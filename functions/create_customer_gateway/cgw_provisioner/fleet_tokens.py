"""RETRY_POLICY=fleet-tokens: every instance's calls draw on one pool of send tokens.

The template's default (docs/decisions/0013-fleet-token-queue.md): the pool is an MNS queue
(token_queue.py) and token_rules.py decides what each answer does to it. A call needs a token;
while messages wait at the start gate the instance fetches tokens ahead, and a message starts
when one is in hand (`concurrency`). If the queue cannot be used, the instance paces
alone with the share limiter (`fallback`) for `degrade_s`, so the token queue is never a new
way to lose a request.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .credentials import Credentials
from .retry import ApiCallError, ErrorClass, RetryPolicy, ShareLimiterPolicy, retry_delay
from .token_rules import PoolChange, TokenRules

if TYPE_CHECKING:  # (the adapter is built and imported by app.py)
    from .token_queue import MnsTokenQueue, Token


class Gate(Protocol):
    """What the policy sees of a start gate (concurrency.StartGate)."""

    @property
    def pending(self) -> int: ...

    def wake(self) -> None: ...


DEMAND_S = 0.5  # the start gate asked this recently: messages are waiting for tokens
FETCH_S = 5.0  # one fetch waits this long at most (long polls: an empty one is billed too)
FETCH_POLL_S = 1  # ... in long polls this long, so that `finish` can wait for the last one


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
        self._fetches_ended = threading.Condition(self._lock)
        self._calling = 0  # calls holding a token now
        self._alone_until = -math.inf
        self._held = threading.local()  # this thread's token, from admit to the answer
        # Tokens fetched ahead, while messages wait at the start gate: a message starts when
        # one is in hand, so its time in progress does not include the wait for a token.
        self._ready: list[Token] = []
        self._fetching = 0  # fetches running
        self._asked = 0  # tokens those fetches ask for
        self._wanted_at = -math.inf  # the start gate last asked how many may run
        self._gates: list[Gate] = []  # the running invocations' start gates

    # -- the invocation's edges (app.py calls these when the policy has them) ---------------
    def prepare(self, credentials: Credentials, region: str, account_id: str) -> None:
        self.tokens.use(credentials, region, account_id)

    def watch(self, gate: Gate) -> Callable[[], None]:
        """Fetch ahead for the messages pending at `gate`, and wake it when tokens come (else
        it would see them only at its next recheck). Returns the way to stop."""
        with self._lock:
            self._gates.append(gate)

        def unwatch() -> None:
            with self._lock:
                self._gates.remove(gate)

        return unwatch

    def finish(self, wait: bool = True) -> None:
        """Before the invocation returns: held and unused tokens back now (a frozen
        instance's would come back only when their visibility ends), once the fetches still
        polling have ended (a frozen instance's open long poll would take tokens nobody uses
        until their visibility ends; each ends within `FETCH_POLL_S`). `wait=False`: held
        tokens are not waited for (MnsTokenQueue.flush)."""
        with self._lock:
            self._wanted_at = -math.inf
            # (bounded: a fetch still waiting for a receive slot may come back later, and
            # what it takes then it releases, as nobody wants it)
            self._fetches_ended.wait_for(lambda: self._fetching == 0, timeout=FETCH_POLL_S + 1)
            unused, self._ready = self._ready, []
        try:
            for token in unused:  # (never used for a call: the pool's second is not spent)
                self.tokens.release(token)
            self.tokens.flush(wait)
        except Exception as exc:  # (never fails an invocation)
            self._alone(exc)

    # -- RetryPolicy -----------------------------------------------------------------------
    def begin(self) -> None:
        self.fallback.begin()

    def admit(self, latest_start: float) -> bool:
        if self._clock() < self._alone_until:
            return self.fallback.admit(latest_start)
        with self._lock:
            token = self._ready.pop(0) if self._ready else None
        try:
            token = token or self.tokens.take(latest_start)
        except Exception as exc:
            self._alone(exc)
            return self.fallback.admit(latest_start)
        if token is None:
            return False
        self.rules.received(token.marked)
        self.tokens.marking = self.rules.mark
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
        """The calls holding a token plus the tokens in hand: a message starts when its token
        is there. Asking is demand: while it lasts, up to `receivers` fetches run ahead for
        the messages pending at the watched gates (one batch receive each)."""
        if self._clock() < self._alone_until:
            return self.fallback.concurrency(workers)
        with self._lock:
            self._wanted_at = self._clock()
            while self._fetching < self.tokens.receivers and (short := self._short(workers)) > 0:
                self._fetching += 1
                self._asked += short
                threading.Thread(
                    target=self._fetch, args=(short,), name="token-fetch", daemon=True
                ).start()
            return min(workers, self._calling + len(self._ready))

    def _short(self, workers: int) -> int:
        """Tokens wanted beyond those in hand or asked for: one per message not started yet
        (without a watched gate: `receivers` ahead)."""
        if self._gates:
            wanted = min(workers, sum(gate.pending for gate in self._gates))
        else:
            wanted = self.tokens.receivers
        return wanted - len(self._ready) - self._asked

    def _fetch(self, most: int) -> None:
        """Fetch up to `most` tokens while the start gate keeps asking (within `DEMAND_S`)."""
        asked = most

        def wanted() -> bool:
            now = self._clock()
            return now - self._wanted_at < DEMAND_S and now >= self._alone_until

        try:
            while wanted():
                tokens = self.tokens.take_some(self._clock() + FETCH_S, most, FETCH_POLL_S, wanted)
                if not tokens:
                    continue
                with self._lock:
                    self._asked -= asked
                    asked = 0
                    keep = wanted()
                    if keep:
                        self._ready.extend(tokens)
                    gates = list(self._gates)
                if not keep:  # nobody waits for them any more: others may use them
                    for token in tokens:
                        self.tokens.release(token)
                for gate in gates if keep else ():
                    gate.wake()
                return
        except Exception as exc:
            self._alone(exc)
        finally:
            with self._lock:
                self._fetching -= 1
                self._asked -= asked
                self._fetches_ended.notify_all()

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
        self.tokens.marking = self.rules.mark
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
