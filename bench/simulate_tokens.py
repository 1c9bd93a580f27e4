"""The simulator's model of RETRY_POLICY=fleet-tokens: the fleet shares one pool of send
tokens kept in an MNS queue (cgw_provisioner.fleet_tokens; decision 0013). The rules are the
shipped ones (`cgw_provisioner.token_rules`); the queue and the fetching are modelled:

- a token is a message in a queue. A call needs one: the instance receives it (it turns
  invisible for `hidden_s`), calls, and on a grant holds it until `reuse_after_s` (1 s)
  after it came, then deletes it and sends it again (`hold=False`: sent again with that
  delay right after the answer). The fleet can make at most as many calls in a second as
  the pool holds tokens, however many instances share it and whichever of them are busy.
  (`resend=False`: never deleted on a grant, back when its visibility ends; MNS throttles
  a client that receives without deleting, so this is modelled only for comparison);
- a message starts only when a token has come for it; an instance keeps at most `asks`
  receives open;
- a throttle with a retry-after deletes the token the call used (the pool shrinks by one;
  without a retry-after only when `judge` is on and SharePacer judges the throttling ours);
- a grant whose message had to wait for its token (demand above the pool) adds one with
  probability `probe` (the pool grows by about `probe` x its size a second while it is short);
- until an instance sees its first throttle, each of its grants adds one (the pool doubles
  every second: a fleet-wide slow start from `first_tokens`).

The rest is bench.simulate's model (trigger, batches, deadlines, the API's token bucket, the
shipped retry delay), so the figures compare with the shipped pacer's on the same runs:

python -m bench.simulate_tokens --panel
python -m bench.simulate_tokens --instances 1000 --limit-qps 100 --requests 100000
python -m bench.simulate_tokens --shared-quota
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from bench import simulate as sim
from cgw_provisioner.pacing import SharePacer
from cgw_provisioner.retry import MIN_CALL_SECONDS, ErrorClass, give_up, retry_delay
from cgw_provisioner.token_rules import PROBE, PoolChange, TokenRules

POLICY = sim.FLEET_TOKENS

Granted = Callable[[float, int], None]  # (now, token): a receive came back with a token
Live = Callable[[], bool]  # is the asker still waiting (its invocation not over)


@dataclass(frozen=True)
class PoolRules:
    reuse_after_s: float = 1.0  # a granted call's token is sent again with this delay
    spread_s: float = 0.0  # ... after a random wait of up to this much more
    judge: bool = False  # a throttle without retry-after deletes a token unless SharePacer,
    # fed the same answers, judges it rate-independent (False: it never deletes one)
    asks: int = 2  # receives an instance keeps open at most (0: one per message waiting)
    hold: bool = True  # a granted call's token is held and sent back with no delay one
    # second after it was received, instead of with DelaySeconds=1 after the answer
    send_on_receive: bool = False  # send the copy as soon as the token is received, not after
    # the answer (its second then counts from the receive; a throttle deletes the next token
    # the instance receives instead)
    hidden_s: float = 5.0  # the queue's visibility timeout: an instance that dies holding a
    # token gives it back this long after receiving it
    resend: bool = True  # False: tokens are never deleted on a grant but come back when their
    # visibility (`reuse_after_s`) ends; MNS throttles a client that receives without deleting
    receive_s: float = 0.005  # a ReceiveMessage round trip (a SendMessage takes as long)
    probe: float = PROBE  # chance that a grant which waited for its token adds one
    first_tokens: int = 1  # the pool of a fresh deployment
    marks: bool = True  # a token sent by an instance past its slow start carries a mark that
    # ends the slow start of any instance that receives it (False: each instance's own throttle)


class TokenPool:
    """The token queue: who asked first gets the next visible token (a long poll)."""

    def __init__(self, simulation: sim.Simulation, rules: PoolRules) -> None:
        self.simulation, self.rules = simulation, rules
        self._ids = count()
        self.visible_at: dict[int, float] = {}  # token -> when it is visible again
        self._heap: list[tuple[float, int]] = []  # (visible_at, token), stale entries skipped
        self._asks: list[tuple[float, int, Granted, Live]] = []  # (asked at, order, ...)
        self._order = count()
        self._wake_at = math.inf
        self.waited: dict[int, bool] = {}  # token -> did its last receive wait for it
        self.marked: set[int] = set()  # tokens sent by an instance past its slow start
        self.peak = 0
        for _ in range(rules.first_tokens):
            self.add(0.0)

    def __len__(self) -> int:
        return len(self.visible_at)

    def add(self, now: float, mark: bool = False) -> None:
        token = next(self._ids)
        if mark:
            self.marked.add(token)
        self._show(now, now, token)
        self.peak = max(self.peak, len(self))

    def delete(self, now: float, token: int) -> None:
        """A throttled call's token leaves the pool; the last one never does."""
        if len(self) > 1:
            self.visible_at.pop(token, None)
        elif self.rules.resend:
            self.send_again(now, token)

    def send_again(
        self, now: float, token: int, delay_s: float | None = None, mark: bool = False
    ) -> None:
        """The token is deleted and sent again, visible after `delay_s` (DelaySeconds; a
        granted call's token after `reuse_after_s`, an unused one at once), marked if `mark`."""
        if mark:
            self.marked.add(token)
        delay_s = self.rules.reuse_after_s if delay_s is None else delay_s
        self._show(now, now + self.rules.receive_s + delay_s, token)

    def ask(self, now: float, granted: Granted, live: Live) -> None:
        """A receive that waits for a token; it is dropped, unserved, once `live` says no
        (an invocation that ends cancels its receives)."""
        heapq.heappush(self._asks, (now, next(self._order), granted, live))
        self._serve(now)

    def _show(self, now: float, at: float, token: int) -> None:
        self.visible_at[token] = at
        heapq.heappush(self._heap, (at, token))
        self._serve(now)

    def _serve(self, now: float) -> None:
        while self._asks and self._heap:
            at, token = self._heap[0]
            if self.visible_at.get(token) != at:  # deleted, or hidden again since
                heapq.heappop(self._heap)
                continue
            if not self._asks[0][3]():
                heapq.heappop(self._asks)
                continue
            if at > now:
                if at < self._wake_at:
                    self._wake_at = at
                    self.simulation.at(at, self._on_wake)
                return
            heapq.heappop(self._heap)
            asked, _, granted, _ = heapq.heappop(self._asks)
            self.waited[token] = now > asked + 1e-9
            rules = self.rules
            hidden_until = now + (rules.hidden_s if rules.resend else rules.reuse_after_s)
            self.visible_at[token] = hidden_until
            heapq.heappush(self._heap, (hidden_until, token))
            self.simulation.at(now + self.rules.receive_s, granted, token)

    def _on_wake(self, now: float) -> None:
        self._wake_at = math.inf
        self._serve(now)


class TokenInstance(sim.Instance):
    """An instance whose messages wait (not started) until a token comes for them."""

    def __init__(self, simulation: TokenSimulation, workers: int, seed: int) -> None:
        super().__init__(simulation, "fixed", workers, seed)
        self.pool = simulation.pool
        self.baseline = None
        self.rules = TokenRules(simulation.pool.rules.probe, rand=self.rand)  # the function's
        self.ready: list[sim.Message] = []  # throttled, due for another call
        self.invocation = 0
        self.asking = 0  # receives open
        self.got_at: dict[int, float] = {}  # token -> when this instance received it
        # SharePacer as a judge only (it paces nothing here): are throttles without a
        # retry-after about our rate? Deletions it later judges useless are undone.
        self.judge = SharePacer(rand=random.Random(seed + 1).random)
        self.deleted_unjudged = 0
        self.debt = 0  # tokens to delete (send_on_receive: throttles whose copy was sent)

    def take(self, now: float, messages: list[sim.Message]) -> None:
        deadline = now + sim.FC_TIMEOUT_S - sim.DEADLINE_MARGIN_S
        self.batch = sim.Batch(messages, deadline, len(messages))
        self.invocation += 1
        self.asking = 0  # (the last invocation's receives are cancelled)
        for message in messages:
            message.pushes += 1
        self.waiting.extend(messages)
        self._top_up(now)
        self.sim.at(deadline - MIN_CALL_SECONDS, self._on_deadline, self.invocation)

    def step(self, now: float) -> None:
        """(bench.simulate's step paces; here the pool does.)"""

    def _top_up(self, now: float) -> None:
        """Keep one receive open per message that needs a call, at most `asks` of them."""
        needed = len(self.ready) + len(self.waiting)
        if self.pool.rules.asks:
            needed = min(needed, self.pool.rules.asks)
        while self.asking < needed:
            self.asking += 1
            self._ask(now)

    def _ask(self, now: float) -> None:
        invocation = self.invocation
        self.pool.ask(
            now,
            lambda at, token: self._got(at, token, invocation),
            lambda: invocation == self.invocation and self.batch is not None,
        )

    def _got(self, now: float, token: int, invocation: int) -> None:
        rules = self.pool.rules
        if invocation == self.invocation:
            self.asking -= 1
        if self.debt and rules.resend:  # a throttle's token, owed: deleted, and ask again
            self.debt -= 1
            self.pool.delete(now, token)
            if invocation == self.invocation and self.batch is not None:
                self._top_up(now)
            return
        if self.ready and invocation == self.invocation:
            message = self.ready.pop(0)
        elif self.waiting and invocation == self.invocation:
            message = self.waiting.popleft()
            self.in_progress += 1
            message.began = message.started = message.started or now
            message.attempt = 0
        else:  # nothing left to call: the token goes back unused
            if self.pool.rules.resend:
                self.pool.send_again(now, token, 0.0)
            return
        if rules.marks:
            self.rules.received(token in self.pool.marked)
        if rules.resend and rules.send_on_receive:
            self.pool.send_again(now, token, mark=self._mark)
        self._top_up(now)
        message.attempt += 1
        waited = self.pool.waited.get(token, True)
        self.judge.sent(now)
        granted, retry_after = self.sim.api_call(now, mine=True)
        answer = (message, granted, retry_after, token, waited)
        self.got_at[token] = now
        self.sim.at(now + self.sim.latency_s, self._on_answer, *answer)

    def _on_answer(
        self,
        now: float,
        message: sim.Message,
        granted: bool,
        retry_after: float | None,
        token: int,
        waited: bool,
    ) -> None:
        rules = self.pool.rules
        if granted:
            self.judge.granted(now, self.sim.latency_s)
            if rules.resend and not rules.send_on_receive:
                spread = self.rand() * self.pool.rules.spread_s
                if rules.hold:  # sent back (no delay) a second after it came
                    due = self.got_at[token] + rules.reuse_after_s - rules.receive_s
                    self.pool.send_again(now, token, max(0.0, due - now) + spread, self._mark)
                else:
                    self.pool.send_again(now, token, rules.reuse_after_s + spread, self._mark)
            for _ in range(self.rules.granted(waited).add):
                self.pool.add(now, self._mark)
            self.sim.created(message)
            self.sim.at(now + self.sim.publish_s, self.on_published, message)
            return
        self.judge.throttled(now, retry_after, self.sim.latency_s)
        independent = self.judge.rate_independent or not rules.judge
        if independent and self.deleted_unjudged:  # the deletions did not help: undo them
            for _ in range(self.deleted_unjudged):
                self.pool.add(now)
            self.deleted_unjudged = 0
        change = self.rules.throttled(retry_after)
        if not independent and change.keep:  # (--judge: SharePacer judged it ours after all)
            self.rules.fresh, change = False, PoolChange(keep=False)
            self.deleted_unjudged += 1
        if not change.keep:  # rate-dependent: the pool is too big
            if rules.resend and rules.send_on_receive:
                self.debt += 1
            else:
                self.pool.delete(now, token)
        delay = retry_delay(message.attempt, ErrorClass.THROTTLING, retry_after, self.rand)
        left = self.current.deadline - now
        if give_up(message.attempt, self.sim.max_attempts, delay, left) is None:
            self.sim.at(now + delay, self._on_due, message, self.invocation)
        else:
            self.hand_back(now, message)

    @property
    def _mark(self) -> bool:
        return self.pool.rules.marks and self.rules.mark

    def _on_due(self, now: float, message: sim.Message, invocation: int) -> None:
        if invocation == self.invocation and self.batch is not None:
            self.ready.append(message)
            self._top_up(now)

    def on_published(self, now: float, message: sim.Message) -> None:
        self.sim.published(now, message)
        self.finish_one(now)

    def _on_deadline(self, now: float, invocation: int) -> None:
        """What has not been called by the deadline goes back to the trigger."""
        if invocation != self.invocation or self.batch is None:
            return
        unstarted, self.waiting = list(self.waiting), deque()
        self.in_progress += len(unstarted)
        leftovers, self.ready = self.ready + unstarted, []
        for message in leftovers:
            if self.hand_back(now, message):
                return


class TokenSimulation(sim.Simulation):
    def __init__(self, rules: PoolRules = PoolRules(), **options: Any) -> None:
        super().__init__(policy="fixed", **options)
        self.pool = TokenPool(self, rules)
        workers = options.get("batch_concurrency", 10)
        seed = options.get("seed", 1)
        self.idle = [
            TokenInstance(self, workers, seed * 100_003 + i) for i in range(options["instances"])
        ]

    def run(self, max_wall_s: float = math.inf) -> dict[str, Any]:
        out = super().run(max_wall_s)
        out["tokens_end"], out["tokens_peak"] = len(self.pool), self.pool.peak
        return out


def simulate(
    policy: str,
    max_wall_s: float = math.inf,
    rules: PoolRules = PoolRules(),
    retry_after: bool = True,
    *,
    retry_policy: str = "share-limiter",
    **options: Any,
) -> dict[str, Any]:
    """bench.simulate.simulate, plus fleet tokens as the policy `fleet_tokens`, and as `ours`
    when `retry_policy` (the shipped RETRY_POLICY) is fleet-tokens.
    `retry_after=False`: the API's throttles carry no retry-after."""
    if policy == POLICY or (policy == "ours" and retry_policy == "fleet-tokens"):
        simulation: sim.Simulation = TokenSimulation(rules, **options)
    else:
        simulation = sim.Simulation(policy=policy, **options)
    if not retry_after:
        answer = simulation.api.call
        simulation.api.call = lambda now: (answer(now)[0], None)  # type: ignore[method-assign]
    return simulation.run(max_wall_s)


def panel(policy: str, rules: PoolRules = PoolRules()) -> dict[str, Any]:
    """bench.simulate.panel's 40 runs (4 instances, 10 QPS, 500 requests), with medians."""
    runs = [
        simulate(
            policy,
            rules=rules,
            instances=4,
            limit_qps=10,
            requests=500,
            latency_s=latency,
            first_push_s=first_push,
        )
        for latency in sim.PANEL_LATENCIES_S
        for first_push in sim.PANEL_FIRST_PUSHES_S
    ]
    ratios = sorted(run["ratio_to_limit"] for run in runs)
    p99s = [run["latency_p99_s"] for run in runs]
    return {
        "runs": len(runs),
        "ratio_median": statistics.median(ratios),
        "ratio_worst_tenth": ratios[(len(ratios) - 1) // 10],
        "ratio_at_least_0_98": sum(ratio >= 0.98 for ratio in ratios),
        "throttled_mean": round(statistics.mean(r["throttled_share"] for r in runs), 4),
        "latency_p99_s_median": statistics.median(p99s),
        "latency_p99_over_1_5_s": sum(p99 > 1.5 for p99 in p99s),
    }


def shared_quota(policy: str, rules: PoolRules = PoolRules()) -> dict[str, Any]:
    """bench.simulate.shared_quota's shape: another client sends 5 QPS into 10."""
    result = simulate(
        policy, rules=rules, instances=4, requests=2000, limit_qps=10, background_qps=5
    )
    result["share_of_leftover"] = round(result["created_per_s"] / 5, 3)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.simulate_tokens", description=__doc__)
    parser.add_argument("--policies", default=f"{POLICY},ours")
    parser.add_argument("--panel", action="store_true", help="the 40-run 4-instance panel")
    parser.add_argument("--shared-quota", action="store_true", help="another client at 5 of 10 QPS")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--limit-qps", type=float, default=10)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--throttle-probability", type=float, default=0.0)
    parser.add_argument("--no-retry-after", action="store_true", help="throttles without one")
    parser.add_argument("--probe", type=float, default=PoolRules.probe)
    parser.add_argument("--receive-ms", type=float, default=PoolRules.receive_s * 1000)
    parser.add_argument("--judge", action="store_true", help="PoolRules.judge")
    args = parser.parse_args(argv)
    rules = PoolRules(probe=args.probe, receive_s=args.receive_ms / 1000, judge=args.judge)
    for policy in args.policies.split(","):
        if args.panel:
            figures = panel(policy, rules)
        elif args.shared_quota:
            figures = shared_quota(policy, rules)
        else:
            figures = simulate(
                policy,
                120.0,
                rules,
                not args.no_retry_after,
                instances=args.instances,
                limit_qps=args.limit_qps or None,
                requests=args.requests,
                throttle_probability=args.throttle_probability,
            )
        print(policy, json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
