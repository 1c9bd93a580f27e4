"""Throughput against a rate-limited API: ours and three baselines under the same load.

localcloud limits CreateCustomerGateway to R calls per second per account (a token bucket,
burst R, answering Throttling.User with x-acs-retry-after) and adds 20 ms of latency to every
VPC call. N requests (default 500) are queued at once and pushed in batches of 10 to 4 warm
function instances (bench/instances.py). Figures, per policy:

- created_per_s: gateways created / (last outcome published - first batch handed out);
  ratio_to_limit = created_per_s / R;
- throttled_share: throttled CreateCustomerGateway calls / all of them (localcloud's call log);
- attempts per request (p50, p99, max): CreateCustomerGateway calls per ClientToken;
- latency (p50, p99): from the moment an instance starts on a message to its outcome published;
  e2e_*: from the first send (every request is queued at t0) to its outcome published;
- duplicates: gateways beyond one per IP address, plus outcome events repeated with a new id.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench.instances import Message, PoolResult
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

POLICIES = ("ours", "fixed", "full_jitter", "adaptive")
LATENCY_MS = 20
BATCH = 10
WORKERS = 4


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def messages(n: int, run: str, first: int = 0) -> list[Message]:
    """n requests, IP addresses from the `first`-th on (a new address: a create, not an
    adoption of an existing gateway, which costs a DescribeCustomerGateways call more)."""
    out = []
    for i in range(first, first + n):
        token = f"bench-{run}-{i}"
        body = {
            "RegionId": "cn-shanghai",
            "IpAddress": f"203.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            "Name": f"bench-{i}",
            "ClientToken": token,
        }
        out.append(Message(f"{run}-{i:08d}".upper(), json.dumps(body), token))
    return out


def faults(limit_qps: float, latency_ms: float) -> list[dict[str, Any]]:
    return [
        {"service": "vpc", "latency_ms": latency_ms},
        {"service": "vpc", "action": "CreateCustomerGateway", "rate_limit_qps": limit_qps},
    ]


def _gateway_ips(state: Any) -> list[str]:
    """Every gateway's IpAddress in localcloud's VPC state, whatever its nesting."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "CustomerGatewayId" in node and "IpAddress" in node:
                found.append(node["IpAddress"])
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(state)
    return found


def summarize(result, calls, state, load, limit_qps) -> dict[str, Any]:
    tokens = {m.client_token for m in load}
    ours = [c for c in calls if c["parameters"].get("ClientToken") in tokens]
    attempts = Counter(c["parameters"]["ClientToken"] for c in ours)
    throttled = [c for c in ours if str(c.get("code") or "").startswith("Throttling")]
    created = [c for c in ours if c.get("created")]
    ips = Counter(_gateway_ips(state))
    duplicate_gateways = sum(count - 1 for count in ips.values() if count > 1)
    duplicate_events = sum(len(set(ids)) - 1 for ids in result.outcomes.values() if ids)
    missing = sorted(tokens - set(result.published))
    elapsed = result.finished - result.started
    latencies = [result.published[t] - result.starts[t] for t in tokens if t in result.published]
    e2e = [result.published[t] - result.started for t in tokens if t in result.published]
    per_request = [attempts.get(t, 0) for t in tokens]
    created_per_s = len(created) / elapsed if elapsed > 0 else 0.0
    return {
        "created_per_s": round(created_per_s, 3),
        "ratio_to_limit": round(created_per_s / limit_qps, 3),
        "throttled_share": round(len(throttled) / max(1, len(ours)), 3),
        "attempts_p50": percentile(per_request, 50),
        "attempts_p99": percentile(per_request, 99),
        "attempts_max": max(per_request, default=0),
        "latency_p50_s": round(percentile(latencies, 50), 3),
        "latency_p99_s": round(percentile(latencies, 99), 3),
        "duplicates": duplicate_gateways + duplicate_events,
        # more detail
        "e2e_p50_s": round(percentile(e2e, 50), 3),
        "e2e_p99_s": round(percentile(e2e, 99), 3),
        "wall_s": round(elapsed, 3),
        "requests": len(tokens),
        "created": len(created),
        "calls": len(ours),
        "throttled_calls": len(throttled),
        "missing_outcomes": len(missing),
        "invocations": result.invocations,
        "redeliveries": result.redeliveries,
        "errors": result.errors[:5],
        "mean_attempts": round(statistics.fmean(per_request), 3) if per_request else 0,
        "timeline": _timeline(ours, result.started),
    }


def _timeline(calls: list[dict[str, Any]], started: float) -> dict[str, list[int]]:
    """Created and throttled calls per whole second since the first send (for the plot)."""
    created: Counter[int] = Counter()
    throttled: Counter[int] = Counter()
    for call in calls:
        second = int(call["time"] - started)
        if call.get("created"):
            created[second] += 1
        elif str(call.get("code") or "").startswith("Throttling"):
            throttled[second] += 1
    end = max([*created, *throttled], default=-1) + 1
    return {
        "created": [created.get(s, 0) for s in range(end)],
        "throttled": [throttled.get(s, 0) for s in range(end)],
    }


class BackgroundClient:
    """Another client of the same account: CreateCustomerGateway at a fixed rate, no retries
    (it shares the limit with the function), through the function's own VPC adapter."""

    def __init__(self, vpc_url: str, qps: float) -> None:
        import threading

        import bench  # noqa: F401
        from cgw_provisioner.config import parse_endpoint
        from cgw_provisioner.credentials import Credentials
        from cgw_provisioner.vpc import VpcClient

        credentials = Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, None)
        self._vpc = VpcClient(credentials, "cn-shanghai", parse_endpoint(vpc_url))
        self.qps, self.calls, self.throttled = qps, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackgroundClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        from cgw_provisioner.retry import ApiCallError, ErrorClass

        began = time.monotonic()
        while not self._stop.wait(max(0.0, began + self.calls / self.qps - time.monotonic())):
            i = self.calls
            params = {
                "RegionId": "cn-shanghai",
                "IpAddress": f"198.18.{i // 256 % 256}.{i % 256}",
                "ClientToken": f"background-{began:.0f}-{i}",
            }
            self.calls += 1
            try:
                self._vpc.create_customer_gateway(params, timeout=5)
            except ApiCallError as error:
                self.throttled += error.error_class is ErrorClass.THROTTLING

    @property
    def throttled_share(self) -> float:
        return round(self.throttled / max(1, self.calls), 3)


# Our function under template parameters other than the shipped defaults, measured beside.
VARIANTS = {"fleet_tokens": {"RetryPolicy": "fleet-tokens"}}


def run_policy_through_trigger(
    policy: str,
    *,
    n: int,
    limit_qps: float,
    latency_ms: float = LATENCY_MS,
    workers: int = WORKERS,
    batch: int = BATCH,
    rules: list[dict[str, Any]] | None = None,
    background_qps: float = 0.0,
    parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The same load through the whole path: queue -> EventBridge trigger (batches of `batch`,
    `workers` pushes at once: the instance limit) -> FC instances on localcloud -> result topic
    (tools/stack.py)."""
    from tools.stack import Stack

    load = messages(n, policy)
    tokens = {m.client_token for m in load}
    variant = VARIANTS.get(policy, {})
    with Stack(
        policy="ours" if variant else policy,
        policies_module="bench.baselines",
        batch_size=batch,
        max_instances=workers,
        extra_parameters={**variant, **(parameters or {})} or None,
    ) as stack:
        stack.cloud.faults(rules if rules is not None else faults(limit_qps, latency_ms))
        background = (
            BackgroundClient(stack.cloud.info["vpc"], background_qps) if background_qps else None
        )
        started = time.time()
        if background:
            background.__enter__()
        stack.send([m.body for m in load])
        stack.wait_published(tokens, timeout=900)
        if background:
            background.__exit__()
        time.sleep(1)  # late duplicates, if any, still arrive
        timing = stack.timing()
        outcomes: dict[str, list[str]] = {}
        for note in stack.drain_inbox():
            outcomes.setdefault(note["event"]["subject"], []).append(note["event"]["id"])
        result = PoolResult(
            started=started,
            finished=max(timing.published.values(), default=time.time()),
            starts=timing.starts,
            published=timing.published,
            outcomes=outcomes,
            invocations=stack.invocations(),
        )
        calls = stack.cloud.calls("CreateCustomerGateway")
        state = stack.cloud.state()["vpc"]
        left = stack.queue_counts("cgw-requests")
    figures = summarize(result, calls, state, load, limit_qps)
    figures["left_in_queue"] = sum(left.values())
    if background:
        figures["background_calls"] = background.calls
        figures["background_throttled_share"] = background.throttled_share
        figures["share_of_leftover"] = round(
            figures["created_per_s"] / (limit_qps - background_qps), 3
        )
    figures["instances_seen"] = len(timing.instances)
    return figures | {"policy": policy}


RUN_KEYS = (
    "created_per_s",
    "ratio_to_limit",
    "throttled_share",
    "latency_p99_s",
    "duplicates",
    "share_of_leftover",
    "background_throttled_share",
)


def median_of_runs(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median created/s, plus `runs` (every run's headline figures) and
    `worst` (the run with the fewest created/s)."""
    ordered = sorted(results, key=lambda r: r["created_per_s"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["runs"] = [{k: r[k] for k in RUN_KEYS if k in r} for r in results]
    median["worst"] = {k: ordered[0][k] for k in RUN_KEYS if k in ordered[0]}
    return median


def measure(
    n: int = 500,
    limit_qps: float = 10,
    policies: tuple[str, ...] = POLICIES,
    workers: int = WORKERS,
    runs: int = 3,
    rules: list[dict[str, Any]] | None = None,
    background_qps: float = 0.0,
) -> dict[str, Any]:
    """Each policy `runs` times through the whole path (the shipped template's settings)."""
    figures = {}
    for policy in policies:
        results = [
            run_policy_through_trigger(
                policy,
                n=n,
                limit_qps=limit_qps,
                workers=workers,
                rules=rules,
                background_qps=background_qps,
            )
            for _ in range(runs)
        ]
        figures[policy] = median_of_runs(results)
    return {
        "limit_qps": limit_qps,
        "latency_ms": LATENCY_MS,
        "requests": n,
        "batch": BATCH,
        "instances": workers,
        "runs": runs,
        "path": "trigger: MNS queue -> EventBridge trigger -> FC instances on localcloud",
        "policies": figures,
    }


def measure_random_throttling(
    n: int = 500,
    probability: float = 0.3,
    policies: tuple[str, ...] = POLICIES,
    workers: int = WORKERS,
    runs: int = 3,
) -> dict[str, Any]:
    """30% of CreateCustomerGateway calls throttled whatever the rate (no retry-after), no
    rate limit: slowing down does not help here, and must not be what we do."""
    rules = [
        {"service": "vpc", "latency_ms": LATENCY_MS},
        {
            "service": "vpc",
            "action": "CreateCustomerGateway",
            "probability": probability,
            "error": {
                "code": "Throttling.User",
                "status": 400,
                "message": "Request was denied due to user flow control.",
            },
        },
    ]
    out = measure(n=n, limit_qps=1.0, policies=policies, workers=workers, runs=runs, rules=rules)
    for figures in out["policies"].values():
        figures.pop("ratio_to_limit", None)
        for run in figures["runs"] + [figures["worst"]]:
            run.pop("ratio_to_limit", None)
    return {
        "throttle_probability": probability,
        "requests": n,
        "instances": workers,
        "runs": runs,
        "policies": out["policies"],
    }


def measure_shared_quota(
    n: int = 500,
    limit_qps: float = 10,
    background_qps: float = 5,
    policies: tuple[str, ...] = POLICIES,
    workers: int = WORKERS,
    runs: int = 3,
) -> dict[str, Any]:
    """Another client sends `background_qps` into the same limit: the share of what is left
    each policy gets, and how much of the other client's calls are throttled beside it."""
    out = measure(
        n=n,
        limit_qps=limit_qps,
        policies=policies,
        workers=workers,
        runs=runs,
        background_qps=background_qps,
    )
    return {
        "limit_qps": limit_qps,
        "background_qps": background_qps,
        "requests": n,
        "instances": workers,
        "runs": runs,
        "policies": out["policies"],
    }


if __name__ == "__main__":
    import sys

    chosen = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else POLICIES
    out = measure(n=int(sys.argv[1]) if len(sys.argv) > 1 else 500, policies=chosen, runs=1)
    for policy in out["policies"].values():
        policy.pop("timeline")
    print(json.dumps(out, indent=2))
