"""The fleet token pool's rules: what a call's answer does to the pool (sans-I/O).

The pool is a queue of tokens every instance draws from (docs/decisions/0013-fleet-token-
queue.md): a call needs a token, and the fleet makes at most as many calls a second as the pool
holds. These rules decide, from one answer, whether the call's token goes back and how many
tokens to add. The waiting, the queue and the clock are the caller's (token_queue.py and the
policy in fleet_tokens.py; bench/simulate_tokens.py runs the same rules on a virtual
clock).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PoolChange:
    keep: bool  # the call's token goes back (False: it leaves the pool)
    add: int = 0  # new tokens for the pool


PROBE = 0.01  # the chance a waited grant adds a token (bench/simulate_tokens.py models it too)


class TokenRules:
    """One per instance.

    - Until the instance's first throttle with a retry-after, every grant adds a token: the
      pool doubles about once a second from one token (slow start). The tokens an instance
      sends after that carry a mark (`mark`), and an instance that receives a marked token
      ends its slow start too (`received`): the fleet leaves slow start together, not one
      instance per throttle (at 1,000 instances on 10 QPS, each instance's first grants
      would add tokens long after the pool had reached the limit).
    - Then a grant whose call had to wait for its token (the pool held the fleet back) adds
      one with probability `probe`: while demand is above the pool it grows by about `probe`
      a second; an idle or under-used fleet does not grow it.
    - A throttle with a retry-after removes the call's token. One without keeps it: random
      throttling must not empty the pool (the fleet cannot tell it from a limit that sends no
      retry-after; decision 0013, "Throttles without a retry-after").
    - Any other answer gives the token back.
    """

    def __init__(self, probe: float = PROBE, rand: Callable[[], float] = random.random) -> None:
        self.probe, self._rand = probe, rand
        self.fresh = True

    @property
    def mark(self) -> bool:
        """What the tokens this instance sends carry: True once its slow start is over."""
        return not self.fresh

    def received(self, marked: bool) -> None:
        """A token came; a marked one means the fleet's slow start is over."""
        if marked:
            self.fresh = False

    def granted(self, waited: bool) -> PoolChange:
        grow = self.fresh or (waited and self._rand() < self.probe)
        return PoolChange(keep=True, add=1 if grow else 0)

    def throttled(self, retry_after_s: float | None) -> PoolChange:
        if retry_after_s:
            self.fresh = False
            return PoolChange(keep=False)
        return PoolChange(keep=True)

    def failed(self) -> PoolChange:
        return PoolChange(keep=True)
