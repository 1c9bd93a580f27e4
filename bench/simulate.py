"""A discrete-event simulation of N function instances against a token-bucket API.

What runs is the function's own decision code on a virtual clock, not a copy of it:
`cgw_provisioner.pacing.SharePacer` (when a send may go, how many messages are in progress),
`retry.retry_delay` / the baselines' `delay` (how long a retry waits) and `retry.give_up` (is it
worth another try). What is modelled here is only what the threads and the network do:

- the trigger: every request queued at t=0, handed out in batches of `batch` to whichever of
  the `instances` is idle (one invocation at a time per instance, as FC runs them by default);
  messages handed back (budget or deadline spent) are queued again `redeliver_s` later (15 s:
  EventBridge's back-off retry waits 10-20 s between pushes), and a message handed back after
  its `max_retries` + 1-th push goes to the dead-letter queue (template.yml: 3 retries);
- an instance: `BATCH_CONCURRENCY` workers behind the start gate (the pacer's `in_flight`),
  sends leaving the limiter's line head first at the pacer's `turn`, messages whose turn would
  come after the invocation's deadline leaving the line (handed back);
- the API: a token bucket of `limit_qps` (burst = one second of it) answering a throttle with
  the retry-after of the next token, as localcloud does; optionally a share of calls throttled
  at random whatever the rate (no retry-after), and a background client sending at a fixed rate
  into the same bucket; every call takes `latency_s`, publishing an outcome `publish_s`.

python -m bench.simulate --instances 1000 --limit-qps 10 --requests 100000
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import bench  # noqa: F401  (the function's directory on sys.path)
from cgw_provisioner.pacing import SharePacer
from cgw_provisioner.retry import (
    MIN_CALL_SECONDS,
    ApiCallError,
    ErrorClass,
    FixedWaitPolicy,
    FullJitterPolicy,
    give_up,
    retry_delay,
)

POLICIES = ("ours", "fixed", "full_jitter")  # (botocore's adaptive: measured only, see docs)
FLEET_TOKENS = "fleet_tokens"  # RETRY_POLICY=fleet-tokens, modelled in bench/simulate_tokens.py

Run = Callable[..., dict[str, Any]]  # simulate(policy, max_wall_s, **options), or another model's
FC_TIMEOUT_S, DEADLINE_MARGIN_S = 60.0, 3.0  # template.yml's timeout, the function's default
# The measured run's trigger (tools/stack.py, batch window 1 s) pushes its first batches about a
# second after the requests are queued; its created/s counts from the queueing.
TRIGGER_FIRST_PUSH_S = 1.0


@dataclass
class Api:
    """A token bucket (burst = one second of the limit), plus random throttling."""

    limit_qps: float | None
    throttle_probability: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    tokens: float = 0.0
    last: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.limit_qps or 0.0

    def call(self, now: float) -> tuple[bool, float | None]:
        """(granted, retry-after seconds) for a call arriving at `now`."""
        if self.throttle_probability and self.rng.random() < self.throttle_probability:
            return False, None
        if self.limit_qps is None:
            return True, None
        self.tokens = min(self.limit_qps, self.tokens + (now - self.last) * self.limit_qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, None
        return False, max(0.001, (1.0 - self.tokens) / self.limit_qps)


@dataclass
class Message:
    index: int
    began: float = 0.0  # when its operation began (its place in the line)
    started: float = 0.0  # when an instance first took it
    attempt: int = 0
    pushes: int = 0  # how many times the trigger pushed it


@dataclass
class Batch:
    messages: list[Message]
    deadline: float  # no call may start after deadline - MIN_CALL_SECONDS
    left: int
    handed_back: list[Message] = field(default_factory=list)


class Instance:
    """One FC instance: the start gate, the limiter's line and the policy's state."""

    def __init__(self, sim: Simulation, policy: str, workers: int, seed: int) -> None:
        self.sim, self.policy, self.workers = sim, policy, workers
        rng = random.Random(seed)
        self.rand = rng.random
        self.pacer = SharePacer(rand=random.Random(seed + 1).random) if policy == "ours" else None
        self.baseline = {
            "fixed": FixedWaitPolicy(),
            "full_jitter": FullJitterPolicy(rand=rng.random),
        }.get(policy)
        self.batch: Batch | None = None
        self.waiting: deque[Message] = deque()  # at the start gate
        self.in_progress = 0
        self.line: list[tuple[float, int, Message]] = []
        self.try_at = math.inf  # when the head of the line is due to be looked at

    @property
    def current(self) -> Batch:
        """The batch in progress: every message event happens while the instance holds one."""
        assert self.batch is not None, "a message event on an idle instance"
        return self.batch

    # -- the trigger hands over a batch ------------------------------------------------
    def take(self, now: float, messages: list[Message]) -> None:
        self.batch = Batch(messages, now + FC_TIMEOUT_S - DEADLINE_MARGIN_S, len(messages))
        for message in messages:
            message.pushes += 1
        self.waiting.extend(messages)
        self.workers_now = max(1, min(self.workers, len(messages)))
        self.step(now)

    def step(self, now: float) -> None:
        """Start what the gate allows, send what the line allows, until nothing changes."""
        while self.batch is not None:
            started = self.admit(now)
            handed_back = self.look(now) if self.pacer is not None else 0
            if not (started or handed_back):
                return

    def admit(self, now: float) -> int:
        """The start gate: start messages while fewer are in progress than allowed."""
        if not self.waiting:
            return 0
        if self.pacer is None:
            allowed = self.workers_now
        else:
            allowed = self.pacer.in_flight(self.workers_now, now)
            deadline = self.current.deadline
            start = self.pacer.start_at(now)
            hopeless = len(self.waiting) if now >= deadline else self._hopeless(now, deadline)
            if hopeless:  # the gate lets them go at once (the limiter hands them back)
                allowed = max(allowed, self.in_progress + hopeless)
            elif self.in_progress >= allowed and start > now:  # (the real gate polls: its
                self.schedule_look(min(start, deadline))  # next look is at the start)
        started = 0
        while self.waiting and self.in_progress < allowed:
            message = self.waiting.popleft()
            self.in_progress += 1
            started += 1
            message.began, message.attempt = now, 0
            message.started = message.started or now  # (as the bench: past the start gate)
            self.join(message, now)
        return started

    def _hopeless(self, now: float, deadline: float) -> int:
        """Waiting messages that could not start before the deadline, whatever comes."""
        assert self.pacer is not None, "only ours has a gate that paces"
        waiting = len(self.waiting)
        for place in range(waiting):
            if self.pacer.start_at(now, place) > deadline:
                return waiting - place
        return 0

    # -- the limiter's line ----------------------------------------------------------------
    def join(self, message: Message, now: float) -> None:
        if self.pacer is None:
            self.send(now, message)
        else:
            bisect.insort(self.line, (message.began, message.index, message))

    def look(self, now: float) -> int:
        """Send the head when its turn has come; hand back those whose turn is past the
        deadline (as ShareLimiter.acquire does). The number handed back."""
        pacer, handed_back = self.pacer, 0
        assert pacer is not None, "only ours has a line"
        latest = self.current.deadline - MIN_CALL_SECONDS
        while self.line and pacer.turn(now, len(self.line) - 1) > latest:
            handed_back += 1
            if self.hand_back(now, self.line.pop()[2]):
                return handed_back
        if not self.line:
            return handed_back
        turn = pacer.turn(now, 0)
        if turn <= now:
            message = self.line.pop(0)[2]
            pacer.sent(now)
            self.send(now, message)
            if self.line:
                self.schedule_look(pacer.turn(now, 0))
        else:
            self.schedule_look(turn)
        return handed_back

    def schedule_look(self, at: float) -> None:
        if at < self.try_at:
            self.try_at = at
            self.sim.at(at, self.on_look)

    def on_look(self, now: float) -> None:
        if now >= self.try_at:
            self.try_at = math.inf
            self.step(now)

    # -- a call and its answer -------------------------------------------------------------
    def send(self, now: float, message: Message) -> None:
        message.attempt += 1
        granted, retry_after = self.sim.api_call(now, mine=True)
        self.sim.at(now + self.sim.latency_s, self.on_answer, message, granted, retry_after)

    def on_answer(self, now: float, message: Message, granted: bool, retry_after: float | None):
        call_s = self.sim.latency_s
        if granted:
            if self.pacer is not None:
                self.pacer.granted(now, call_s)
            self.sim.created(message)
            self.sim.at(now + self.sim.publish_s, self.on_published, message)
            self.step(now)
            return
        if self.pacer is not None:
            self.pacer.throttled(now, retry_after, call_s)
        error = ApiCallError("Throttling.User", "", http_status=400, retry_after_s=retry_after)
        if self.baseline is None:
            delay = retry_delay(message.attempt, ErrorClass.THROTTLING, retry_after, self.rand)
        else:
            delay = self.baseline.delay(message.attempt, error, ErrorClass.THROTTLING)
        stop = give_up(message.attempt, self.sim.max_attempts, delay, self.current.deadline - now)
        if stop is None:
            self.sim.at(now + delay, self.on_retry, message)
        elif self.hand_back(now, message):
            return
        self.step(now)

    def on_retry(self, now: float, message: Message) -> None:
        latest = self.current.deadline - MIN_CALL_SECONDS
        if self.pacer is None and now > latest:
            if self.hand_back(now, message):
                return
        else:
            self.join(message, now)
        self.step(now)

    def on_published(self, now: float, message: Message) -> None:
        self.sim.published(now, message)
        if not self.finish_one(now):
            self.step(now)

    def hand_back(self, now: float, message: Message) -> bool:
        """The message leaves unfinished; True when that ended the invocation."""
        self.current.handed_back.append(message)
        return self.finish_one(now)

    def finish_one(self, now: float) -> bool:
        """One message less in progress; True when the invocation is over."""
        self.in_progress -= 1
        batch = self.current
        batch.left -= 1
        if batch.left:
            return False
        back, self.batch = batch.handed_back, None
        self.line.clear()
        self.sim.invocation_done(now, self, back)
        return True


class Simulation:
    def __init__(
        self,
        *,
        policy: str,
        instances: int,
        requests: int,
        limit_qps: float | None,
        latency_s: float = 0.02,
        publish_s: float = 0.01,
        invoke_s: float = 0.005,
        redeliver_s: float = 15.0,
        max_retries: int = 3,
        first_push_s: float = 0.0,
        batch: int = 10,
        batch_concurrency: int = 10,
        max_attempts: int = 8,
        throttle_probability: float = 0.0,
        background_qps: float = 0.0,
        seed: int = 1,
    ) -> None:
        self.latency_s, self.publish_s, self.invoke_s = latency_s, publish_s, invoke_s
        self.redeliver_s, self.redeliveries = redeliver_s, 0
        self.max_retries, self.dead_lettered = max_retries, 0
        self.first_push_s = first_push_s  # when the trigger pushes its first batches
        self.batch_size, self.max_attempts = batch, max_attempts
        self.api = Api(limit_qps, throttle_probability, random.Random(seed))
        self.background_qps = background_qps
        self._events: list[tuple[float, int, Any, tuple]] = []
        self._seq = count()
        self.queue: deque[list[Message]] = deque()
        messages = [Message(i) for i in range(requests)]
        for i in range(0, requests, batch):
            self.queue.append(messages[i : i + batch])
        self.idle = [
            Instance(self, policy, batch_concurrency, seed * 100_003 + i) for i in range(instances)
        ]
        self.requests = requests
        self.calls = self.throttled_calls = self.created_count = 0
        self.background_calls = self.background_throttled = 0
        self.latencies: list[float] = []
        self.attempts: dict[int, int] = {}
        self.last_published = 0.0
        self.done = 0

    def at(self, when: float, handler: Any, *args: Any) -> None:
        heapq.heappush(self._events, (when, next(self._seq), handler, args))

    def api_call(self, now: float, mine: bool) -> tuple[bool, float | None]:
        granted, retry_after = self.api.call(now)
        if mine:
            self.calls += 1
            self.throttled_calls += not granted
        else:
            self.background_calls += 1
            self.background_throttled += not granted
        return granted, retry_after

    def created(self, message: Message) -> None:
        self.created_count += 1

    def published(self, now: float, message: Message) -> None:
        self.latencies.append(now - message.started)
        self.last_published = now
        self.done += 1

    def invocation_done(self, now: float, instance: Instance, back: list[Message]) -> None:
        dead = [m for m in back if m.pushes > self.max_retries]
        if dead:  # pushed and handed back 1 + max_retries times: the dead-letter queue
            self.dead_lettered += len(dead)
            self.done += len(dead)
            back = [m for m in back if m.pushes <= self.max_retries]
        if back:  # the trigger pushes the batch again after a back-off
            self.at(now + self.redeliver_s, self.on_redeliver, back)
        self.idle.append(instance)
        self.at(now, self.on_dispatch)

    def on_redeliver(self, now: float, back: list[Message]) -> None:
        self.queue.append(back)
        self.redeliveries += 1
        self.on_dispatch(now)

    def on_dispatch(self, now: float) -> None:
        while self.idle and self.queue:
            instance = self.idle.pop()
            self.at(now + self.invoke_s, instance.take, self.queue.popleft())

    def on_background(self, now: float) -> None:
        if self.done < self.requests:
            self.api_call(now, mine=False)
            self.at(now + 1.0 / self.background_qps, self.on_background)

    def run(self, max_wall_s: float = math.inf) -> dict[str, Any]:
        """Run until every request's outcome is published, or `max_wall_s` of real time."""
        self.at(self.first_push_s, self.on_dispatch)
        if self.background_qps:
            self.at(0.0, self.on_background)
        events, wall_end, handled = self._events, time.perf_counter() + max_wall_s, 0
        while events and self.done < self.requests:
            when, _, handler, args = heapq.heappop(events)
            handler(when, *args)
            handled += 1
            if handled % 10_000 == 0 and time.perf_counter() > wall_end:
                break
        elapsed = self.last_published or 1e-9
        rate = self.created_count / elapsed
        limit = self.api.limit_qps
        out = {
            "created_per_s": round(rate, 3),
            "ratio_to_limit": round(rate / limit, 3) if limit else None,
            "throttled_share": round(self.throttled_calls / max(1, self.calls), 4),
            "latency_p50_s": round(_percentile(self.latencies, 50), 3),
            "latency_p99_s": round(_percentile(self.latencies, 99), 3),
            "calls": self.calls,
            "created": self.created_count,
            "published": len(self.latencies),
            "virtual_s": round(elapsed, 2),
            "redeliveries": self.redeliveries,
            "dead_lettered": self.dead_lettered,
            "complete": self.done == self.requests,  # (published or dead-lettered; False:
            # stopped at max_wall_s)
        }
        if self.background_qps:
            out["background_throttled_share"] = round(
                self.background_throttled / max(1, self.background_calls), 4
            )
        return out


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def simulate(policy: str, max_wall_s: float = math.inf, **options: Any) -> dict[str, Any]:
    """One run (`ours`: RETRY_POLICY=share-limiter; bench.simulate_tokens.simulate also
    models fleet tokens)."""
    return Simulation(policy=policy, **options).run(max_wall_s)


def grid(
    sizes: tuple[int, ...] = (4, 64, 1000),
    limits: tuple[float, ...] = (10, 100),
    requests: int = 100_000,
    policies: tuple[str, ...] = POLICIES,
    max_wall_s: float = 60.0,
    run: Run = simulate,
    **options: Any,
) -> list[dict[str, Any]]:
    """One run per size, limit and policy (each stopped after `max_wall_s` of real time)."""
    runs = []
    for instances in sizes:
        for limit in limits:
            figures = {
                policy: run(
                    policy,
                    max_wall_s,
                    instances=instances,
                    requests=requests,
                    limit_qps=limit,
                    **options,
                )
                for policy in policies
            }
            runs.append(
                {
                    "instances": instances,
                    "limit_qps": limit,
                    "requests": requests,
                    "policies": figures,
                }
            )
    return runs


def crosscheck(measured: dict[str, Any], run: Run = simulate, **options: Any) -> dict[str, Any]:
    """The simulation of the measured run (same instances, limit, load, latency) beside it:
    created/s within 10%, throttled share within 5 points."""
    simulated = run("ours", **options)
    ok = (
        abs(simulated["created_per_s"] - measured["created_per_s"])
        <= 0.10 * measured["created_per_s"]
        and abs(simulated["throttled_share"] - measured["throttled_share"]) <= 0.05
    )
    keys = ("created_per_s", "throttled_share", "latency_p99_s")
    return {
        "instances": options["instances"],
        "measured": {k: measured[k] for k in keys},
        "simulated": {k: simulated[k] for k in keys},
        "within_tolerance": ok,
    }


def measure(
    *,
    quick: bool = False,
    measured: dict[str, Any] | None = None,
    batch_concurrency: int = 10,
    max_attempts: int = 8,
    policies: tuple[str, ...] = POLICIES,
    run: Run = simulate,
) -> dict[str, Any]:
    """The `simulation` section of bench/results.json; `measured`: the throughput section of
    the same run, simulated beside it (the cross-check). `run`: the model of each run."""
    began = time.perf_counter()
    options: dict[str, Any] = {"batch_concurrency": batch_concurrency, "max_attempts": max_attempts}
    runs = grid(
        sizes=(4, 64) if quick else (4, 64, 1000),
        requests=10_000 if quick else 100_000,
        max_wall_s=20.0 if quick else 60.0,
        policies=policies,
        run=run,
        **options,
    )
    out: dict[str, Any] = {"runs": runs}
    if measured:
        out["crosscheck"] = crosscheck(
            measured["policies"]["ours"],
            instances=measured["instances"],
            requests=measured["requests"],
            limit_qps=measured["limit_qps"],
            latency_s=measured["latency_ms"] / 1000,
            batch=measured["batch"],
            first_push_s=TRIGGER_FIRST_PUSH_S,
            run=run,
            **options,
        )
    out["wall_s"] = round(time.perf_counter() - began, 1)
    return out


def shared_quota(
    limit_qps: float = 10,
    background_qps: float = 5,
    requests: int = 2000,
    instances: int = 4,
    policies: tuple[str, ...] = POLICIES,
    run: Run = simulate,
    **options: Any,
) -> dict[str, Any]:
    """Another client sends `background_qps` into the same limit (no retries): how much of
    what is left we get, and how much of the other client's calls are throttled because of us."""
    figures = {}
    for policy in policies:
        result = run(
            policy,
            instances=instances,
            requests=requests,
            limit_qps=limit_qps,
            background_qps=background_qps,
            **options,
        )
        result["share_of_leftover"] = round(
            result["created_per_s"] / (limit_qps - background_qps), 3
        )
        figures[policy] = result
    return {
        "limit_qps": limit_qps,
        "background_qps": background_qps,
        "requests": requests,
        "instances": instances,
        "simulated": True,
        "policies": figures,
    }


PANEL_LATENCIES_S = (0.015, 0.018, 0.02, 0.021, 0.023, 0.025, 0.027, 0.03)
PANEL_FIRST_PUSHES_S = (0.7, 0.9, 1.0, 1.1, 1.3)


def panel(
    policy: str = "ours",
    latencies_s: tuple[float, ...] = PANEL_LATENCIES_S,
    first_pushes_s: tuple[float, ...] = PANEL_FIRST_PUSHES_S,
    **options: Any,
) -> dict[str, Any]:
    """The measured run's shape (4 instances, 10 QPS, 500 requests by default) over a grid of
    call latencies and first-push delays. One 500-request run's rate is decided mostly by
    which instance holds the last batch at what share, so a rule is judged on the spread of
    the grid's runs, not on one run."""
    options = {"instances": 4, "limit_qps": 10, "requests": 500, **options}
    runs = [
        simulate(policy, latency_s=latency, first_push_s=first_push, **options)
        for latency in latencies_s
        for first_push in first_pushes_s
    ]
    ratios = sorted(run["ratio_to_limit"] for run in runs)
    throttled = [run["throttled_share"] for run in runs]
    return {
        "runs": len(runs),
        "ratio_mean": round(sum(ratios) / len(ratios), 3),
        "ratio_worst_tenth": ratios[(len(ratios) - 1) // 10],
        "ratio_at_least_0_98": sum(ratio >= 0.98 for ratio in ratios),
        "throttled_mean": round(sum(throttled) / len(throttled), 4),
        "throttled_at_most_5pct": sum(share <= 0.05 for share in throttled),
        "latency_p99_s_max": max(run["latency_p99_s"] for run in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.simulate", description=__doc__)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--limit-qps", type=float, default=10)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--throttle-probability", type=float, default=0.0)
    parser.add_argument("--background-qps", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--batch-concurrency", type=int, default=10)
    parser.add_argument(
        "--panel",
        action="store_true",
        help="the measured run's shape over 40 latencies and first-push delays: mean and worst",
    )
    args = parser.parse_args(argv)
    if args.panel:
        for policy in args.policies.split(","):
            print(policy, json.dumps(panel(policy, batch_concurrency=args.batch_concurrency)))
        return 0
    for policy in args.policies.split(","):
        began = time.perf_counter()
        result = simulate(
            policy,
            instances=args.instances,
            requests=args.requests,
            limit_qps=args.limit_qps or None,
            throttle_probability=args.throttle_probability,
            background_qps=args.background_qps,
            latency_s=args.latency_ms / 1000,
            batch_concurrency=args.batch_concurrency,
        )
        result["wall_s"] = round(time.perf_counter() - began, 2)
        print(policy, json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
