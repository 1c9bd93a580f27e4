"""The limiter's decisions, without I/O: given the time and what the service answered, when may
the next call go, and how many messages are worth having in progress.

Nothing here reads a clock, sleeps or takes a lock: every method is told `now`. The thread-safe
layer that waits (retry.ShareLimiter) and the discrete-event simulator (bench/simulate.py) drive
this same class, the one the function ships, on the real clock and on a virtual one.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable

SLOW_START_CAP_S = 600.0  # slow start's growth counts at most this long since the last grant


class SharePacer:
    """Paces one instance's sends at the share of the service's rate it can have, and learns
    that share from what the service lets through. Rates are sends per second.

    - Fresh instance: a slow start in time. `first_in_flight` sends at once, then the number
      sent may double every `fresh_doubling` seconds; after `open_after` unthrottled answers
      and `fresh_s` seconds it is warm: every worker, unpaced, so a warm instance's lone batch
      goes at once, and a fleet of fresh instances finds a limit with a throttle or two each
      instead of a burst of every worker (a call of 20 ms makes a few in flight already
      hundreds of sends per second, so counting round trips cannot hold a burst back).
    - A message starts (`in_flight`) only when its turn to send is within `start_lead`:
      waiting untouched in the batch costs nothing and leaves no half-done work.
    - The first throttle paces it and slow start goes on (x `slow_start` per second) from
      that rough estimate; the next cut ends it, and is the deepest (`min_cut`) whatever the
      share throttled: slow start went on growing while the bucket's saved burst ran out, so
      the fleet is well above the limit by then although one throttle among 8 sends reads as
      1/8 too much (cutting by that share left 4 instances above the limit for 4-5 s).
    - A cut (one per `cut_interval`): rate = the rate we were sending (over the span our sends
      in the window cover) x the share of our sends the service took, bounded to
      [`min_cut`, `margin`], the share measured over at least `share_floor` sends (one
      throttle among 4 sends must not cut twice as deep as one among 8: that bias left slow
      instances crawling behind the others). Instances sharing a limit see about the same
      share, so their sum falls just below the limit whatever their number.
    - After a cut: hold `hold` seconds, then probe by a step per second of `probe` x the rate
      after the cut: additive increase, multiplicative decrease. Without demand (nobody
      waited for the pace in the last second) growth stops at twice the sends of the last
      second.
    - Below `sparse_below` sends a second the step is further multiplied by
      `sparse_probe` x (rate / `sparse_below`) ** `sparse_power`. A sparse instance's
      throttles come (rate) times per second and each takes 1/8 of its rate: its decrease
      goes as rate^2. A step growing as rate^1 (per second) pulls shares together but lets a
      fleet of many sparse instances probe far faster than its throttles can rein in; as
      rate^2 (per call) keeps the throttled share the same at any size but has no pull, so
      shares drift apart and slow instances hand batches back. rate^1.7 keeps a pull towards
      equal shares.
      The fleet settles where probes and cuts balance, at a throttled share of about
      8 x 0.7% x `sparse_probe` x rate^-0.3: `sparse_probe` (0.3) keeps it near 3% at 64
      instances on 10 QPS (8% at 1), where it would otherwise grow with the fleet.
    - Below `sparse_below` sends a second each gap between sends is stretched or shrunk at
      random by up to `jitter` (`rand` is injected). A sparse instance's cut takes 1/8 off its
      paced rate whatever the timing, so instances that opened together (a trigger's first
      pushes land in the same millisecond) would stay in step for good: their calls arrive
      together, the first takes the token and the others are throttled, cut alike and
      arrive together again (simulated, 200 instances on 20 QPS: 41% of the requests
      dead-lettered in step, none with the jitter). Above one send a second the cut follows
      each instance's own measured sends, which already sets them apart.
    - Throttling that does not depend on our rate: a throttle with a retry-after is always
      rate-dependent. Without one, cuts are judged by their effect. Under a fixed limit the
      share of our sends granted rises as our rate falls (granted ~ limit / rate). When, after
      sending at most `independent_ratio` x the rate before the first cut (over `judge_sends`
      sends or more), the share granted rose by less than half of what a limit would give,
      and at least `independent_level` of the sends are still throttled, the service takes a
      share of whatever we send: the cuts are undone, and throttles without retry-after stop
      cutting until the throttled share climbs `independent_rise` above the level seen, or a
      retry-after comes.
    """

    def __init__(
        self,
        *,
        slow_start: float = 1.2,
        window: float = 2.0,
        cut_interval: float = 1.0,
        margin: float = 0.95,
        min_cut: float = 0.7,
        hold: float = 2.0,
        probe: float = 0.007,
        min_rate: float = 0.01,
        max_rate: float = 1000.0,
        first_in_flight: int = 2,
        open_after: int = 4,
        independent_ratio: float = 0.8,
        independent_level: float = 0.2,
        independent_rise: float = 0.15,
        judge_sends: int = 8,
        first_span: float = 0.5,
        fresh_doubling: float = 0.1,
        fresh_s: float = 0.5,
        start_lead: float = 0.05,
        share_floor: int = 8,
        sparse_below: float = 1.0,
        sparse_power: float = 0.7,
        sparse_probe: float = 0.3,
        jitter: float = 0.1,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.slow_start, self.window, self.cut_interval = slow_start, window, cut_interval
        self.margin, self.min_cut, self.hold, self.probe = margin, min_cut, hold, probe
        self.min_rate, self.max_rate = min_rate, max_rate
        self.first_in_flight, self.open_after = first_in_flight, open_after
        self.independent_ratio, self.independent_rise = independent_ratio, independent_rise
        self.independent_level = independent_level
        self.judge_sends, self.first_span = judge_sends, first_span
        self.fresh_doubling, self.fresh_s = fresh_doubling, fresh_s
        self.start_lead = start_lead
        self.share_floor = share_floor
        self.sparse_below, self.sparse_power = sparse_below, sparse_power
        self.sparse_probe = sparse_probe
        self.jitter, self._rand = jitter, rand
        self._stretch = 1.0  # the gap after the last send, x the pace's (jittered per send)
        self._fresh_from: float | None = None  # a fresh instance's first send
        self._fresh_sends = 0
        self._rate: float | None = None  # None: unpaced
        self._slow = True  # in slow start
        self._step = 0.0  # the probe's step per second
        self._cut_at = -math.inf
        self._grown_at = -math.inf
        self._last_send = -math.inf
        self._pause_until = -math.inf
        self._held_at = -math.inf  # when a sender last waited for the pace
        self._waiting = False  # a sender waits for the pace (until the next send)
        self._sends: deque[float] = deque()
        self._grants: deque[float] = deque()
        self._throttles: deque[float] = deque()
        self._confirmed = 0  # unthrottled answers of a fresh instance
        self._fresh = True
        self._call_s = 0.1  # the mean time of one call (moving average)
        # judging a cut by its effect (throttles without retry-after)
        self._unthrottled: list[float | None] = []  # the rate before the cuts being judged
        # (when, sending rate, grant share: None when too few sends measured it) at the first
        # of the cuts being judged, and the sends and throttles since
        self._judged_from: tuple[float, float, float | None] = (0.0, 0.0, None)
        self._since_cut = [0, 0]
        self._independent: float | None = None  # the throttled share judged rate-independent

    # -- what the waiting layer asks -------------------------------------------------------
    @property
    def rate(self) -> float | None:
        """Sends per second while pacing, None while unpaced."""
        return self._rate

    @property
    def rate_independent(self) -> bool:
        """Throttles without retry-after are judged not to depend on our rate (no cuts)."""
        return self._independent is not None

    def turn(self, now: float, place: int) -> float:
        """When the sender `place` from the head of the line may send (>= now)."""
        self._grow(now)
        turn = self._turn(now, place)
        if turn > now and self._rate is not None:
            self._held_at, self._waiting = now, True  # someone waits: demand for more
        return turn

    def in_flight(self, workers: int, now: float) -> int:
        """Messages worth having in progress: all `workers` while unpaced and warm; else those
        in a call (Little's law: rate x call time) and those whose turn to send comes within
        `start_lead`. A message starts when it can be sent, not to wait in the line: waiting
        untouched in the batch costs nothing, and leaves no half-done work behind."""
        if self._rate is None and not self._fresh:
            return workers
        self._grow(now)
        in_calls = 0 if self._rate is None else int(self._rate * self._call_s)
        soon = 0
        while soon < workers and self._turn(now, soon) <= now + self.start_lead:
            soon += 1
        if not soon and self._rate is not None:
            self._held_at, self._waiting = now, True  # a message waits: demand for more
        return min(workers, in_calls + soon)

    def start_at(self, now: float, place: int = 0) -> float:
        """When `in_flight` lets the message `place` from the head start (none in a call)."""
        return self._turn(now, place) - self.start_lead

    def _turn(self, now: float, place: int) -> float:
        gap = 0.0 if self._rate is None else 1.0 / self._rate
        turn = max(now, self._last_send + gap * self._stretch, self._pause_until) + place * gap
        if self._rate is None and self._fresh:  # slow start in time from the first send
            began = now if self._fresh_from is None else self._fresh_from
            doublings = math.log2((self._fresh_sends + place + 1) / self.first_in_flight)
            turn = max(turn, began + self.fresh_doubling * max(0.0, doublings))
        return turn

    # -- what happened ---------------------------------------------------------------------
    def sent(self, now: float) -> None:
        self._last_send, self._waiting = now, False
        if self._rate is not None and self._rate < self.sparse_below:
            self._stretch = 1.0 + self.jitter * (2.0 * self._rand() - 1.0)
        else:
            self._stretch = 1.0
        if self._fresh_from is None:
            self._fresh_from = now
        self._fresh_sends += 1
        self._sends.append(now)
        self._since_cut[0] += 1

    def granted(self, now: float, call_s: float | None = None) -> None:
        self._timed(call_s)
        self._grants.append(now)
        if self._fresh:
            self._confirmed += 1
            self._fresh = self._confirmed < self.open_after or (
                self._fresh_from is None or now - self._fresh_from < self.fresh_s
            )
        self._grow(now)

    def throttled(
        self, now: float, retry_after_s: float | None = None, call_s: float | None = None
    ) -> None:
        self._timed(call_s)
        self._fresh = False
        self._throttles.append(now)
        self._since_cut[1] += 1
        self._trim(now)
        if retry_after_s:
            self._pause_until = max(self._pause_until, now + retry_after_s)
            self._independent = None
        elif self._independent is not None:
            if self._throttled_share() <= self._independent + self.independent_rise:
                return
            self._independent = None  # it got worse: our rate matters again
        if now - self._cut_at < self.cut_interval:
            return
        if not retry_after_s and self._cut_did_not_help(now):
            self._independent = self._since_cut[1] / self._since_cut[0]
            self._rate = self._unthrottled[0]  # undo the cuts: they did not help
            self._slow = self._slow or self._rate is None
            self._unthrottled = []
            return
        self._cut(now, retry_after_s)

    # -- the rules -------------------------------------------------------------------------
    def _cut(self, now: float, retry_after_s: float | None) -> None:
        granted = len(self._grants) / max(1, len(self._sends))
        if self._rate is None and retry_after_s:  # an unpaced burst against a limit: spread
            rate = len(self._sends) / self.window  # over the window (a rough, cautious start)
        elif self._rate is None:  # no retry-after: maybe not our rate's fault, keep more of it
            span = now - self._sends[0] if self._sends else self.window
            rate = len(self._sends) / max(span, self.first_span)
        elif len(self._sends) < 3:  # too few sends to measure a rate: the paced rate
            rate = self._rate
        else:  # over the time we were sending: an idle gap before a batch must not count
            span = now - self._sends[0]
            rate = min(self._rate, len(self._sends) / max(span, 1.0 / self._rate))
        exiting = self._rate is not None and self._slow
        if exiting:  # the second cut ends slow start
            self._slow = False
        if retry_after_s:
            self._unthrottled = []  # (rate-dependent: not judged)
        elif not self._unthrottled or self._judged_from[2] is None:  # (re)start the judgement
            self._unthrottled = self._unthrottled or [self._rate]  # (at the first measured cut)
            enough = 2 * len(self._sends) >= self.judge_sends
            self._judged_from = (now, rate, granted if enough else None)
            self._since_cut = [0, 0]
        if exiting:  # slow start overshot while the bucket's saved burst ran out: cut deep
            factor = self.min_cut
        else:
            factor = min(self.margin, max(self.min_cut, self._share_kept(granted, retry_after_s)))
        self._rate = min(self.max_rate, max(self.min_rate, rate * factor))
        if not self._slow:  # the probe's step follows the rate: AIMD towards equal shares
            # below `sparse_below` sends/s it shrinks faster than the rate (see the doc)
            sparse = 1.0
            if self._rate < self.sparse_below:
                sparse = self.sparse_probe * (self._rate / self.sparse_below) ** self.sparse_power
            self._step = self.probe * self._rate * sparse
        self._cut_at = self._grown_at = now

    def _share_kept(self, granted: float, retry_after_s: float | None) -> float:
        """The share of the rate a cut keeps, before the bounds. Unpaced: the share granted.
        Paced: one minus the share throttled, counted over at least `share_floor` sends (one
        throttle among a few sends takes 1/`share_floor` off); but a sparse sender's throttle
        without retry-after keeps `margin` (maybe not about our rate at all: an outage that
        answers 503 to everything would otherwise pace invocations down to a crawl)."""
        sends = len(self._sends)
        if self._rate is None:
            return granted
        if sends < 3 and not retry_after_s:
            return self.margin
        return 1 - len(self._throttles) / max(sends, self.share_floor)

    def _cut_did_not_help(self, now: float) -> bool:
        """Since the first of the cuts without retry-after we have sent at a lower rate, yet
        the service grants about the same share of our sends: under a fixed limit the share
        granted rises as our rate falls (granted ~ limit / rate); when it does not, the
        service takes a share of whatever we send, and slowing down only costs."""
        sends, throttles = self._since_cut
        if sends < self.judge_sends or not self._unthrottled:
            return False
        since, rate_before, granted_before = self._judged_from
        rate_since = sends / max(now - since, 1e-9)
        if granted_before is None or rate_since > self.independent_ratio * rate_before:
            return False  # (not measured, or not slowed down enough to tell)
        granted = 1 - throttles / sends
        if granted_before == 0:  # everything refused, and still everything at a lower rate: an
            return granted == 0  # outage, not a limit (a limit grants something at any rate)
        limit_would_give = granted_before * rate_before / rate_since
        return throttles / sends >= self.independent_level and (
            granted - granted_before < 0.5 * (limit_would_give - granted_before)
        )

    def _throttled_share(self) -> float:
        return len(self._throttles) / max(1, len(self._sends))

    def _timed(self, call_s: float | None) -> None:
        if call_s is not None:
            self._call_s += 0.2 * (call_s - self._call_s)

    def _grow(self, now: float) -> None:
        if self._rate is None:
            return
        elapsed, self._grown_at = now - self._grown_at, now
        if self._slow:
            # (capped: after an hour idle, 1.2**elapsed overflows a float; the rate is capped
            # by max_rate long before)
            grown = self._rate * self.slow_start ** min(elapsed, SLOW_START_CAP_S)
        else:
            probing = now - self._cut_at - self.hold
            if probing <= 0:
                return
            grown = self._rate + self._step * min(elapsed, probing)
        self._trim(now)
        if self._waiting or now - self._held_at < 1.0:  # senders wait for the pace: grow
            self._rate = min(self.max_rate, grown)
            return
        last_second = sum(1 for sent in self._sends if sent > now - 1.0)
        self._rate = min(self.max_rate, grown, max(self._rate, 2.0 * last_second))

    def _trim(self, now: float) -> None:
        horizon = now - self.window
        for times in (self._sends, self._grants, self._throttles):
            while times and times[0] < horizon:
                times.popleft()
