"""Batch latency: a batch of 10 against a VPC API answering in 100 ms, divided by one request.

One warm function instance (a worker process, bench/instances.py). Each run hands it one batch
and times from the hand-out to the last outcome published; the median of several runs is taken
for a batch of 1 and a batch of 10, at the default BATCH_CONCURRENCY and at a concurrency equal to
the batch size (what the goal needs: with 4 workers, 10 calls take three rounds of 100 ms).
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from bench.instances import FunctionPool
from bench.localcloud_process import BenchCloud
from bench.throughput import messages

GOAL_RATIO = 1.3
GOAL_OVERHEAD_MS = 20
API_LATENCY_MS = 100


_next_ip = iter(range(0, 1 << 24, 10))  # every request of the benchmark gets its own address


def _median_seconds(pool: FunctionPool, size: int, runs: int, tag: str) -> float:
    times = []
    for run in range(runs):
        first = next(_next_ip)
        for _ in range(size // 10):
            next(_next_ip)
        batch = messages(size, f"{tag}-{size}-{run}", first)
        result = pool.run([batch])
        assert len(result.published) == size, result
        times.append(result.finished - result.started)
    return statistics.median(times)


def shipped_concurrency() -> int:
    """BATCH_CONCURRENCY's default (the function's; template.yml ships the same)."""
    import bench  # noqa: F401  (the function's directory on sys.path)
    from cgw_provisioner.config import SETTINGS

    return int(str(dict(SETTINGS)["BATCH_CONCURRENCY"]))


def measure(
    runs: int = 7,
    concurrencies: tuple[int, ...] = (4, 10),
    retry_policy: str = "share-limiter",
) -> dict[str, Any]:
    """`retry_policy`: RETRY_POLICY of the instance (the shipped one, or one measured beside)."""
    default = shipped_concurrency()
    concurrencies = tuple(sorted({*concurrencies, default}))
    out: dict[str, Any] = {
        "api_latency_ms": API_LATENCY_MS,
        "runs": runs,
        "goal_ratio": GOAL_RATIO,
        "goal_overhead_ms": GOAL_OVERHEAD_MS,
        "default_concurrency": default,
        "retry_policy": retry_policy,
    }
    with BenchCloud() as cloud:
        cloud.create_result_topic()
        cloud.faults([{"service": "vpc", "latency_ms": API_LATENCY_MS}])
        policy_env = cloud.retry_policy_env(retry_policy)
        for concurrency in concurrencies:
            env = cloud.function_env(
                BENCH_REGION=cloud.info["region"],
                BENCH_ACCOUNT=cloud.info["account_id"],
                BATCH_CONCURRENCY=str(concurrency),
                **policy_env,
            )
            with FunctionPool(env, "ours", workers=1) as pool:
                _median_seconds(pool, 1, 1, f"warm{concurrency}")  # connections, first log line
                one = _median_seconds(pool, 1, runs, f"c{concurrency}")
                ten = _median_seconds(pool, 10, runs, f"c{concurrency}")
            out[f"concurrency_{concurrency}"] = {
                "one_s": round(one, 4),
                "batch_of_10_s": round(ten, 4),
                "ratio": round(ten / one, 3),
            }
    shipped = out[f"concurrency_{default}"]
    out["ratio_default"] = shipped["ratio"]
    # our own time for one request: to its outcome published, minus the API's 100 ms
    out["one_overhead_ms"] = round(shipped["one_s"] * 1000 - API_LATENCY_MS, 1)
    best = min(concurrencies, key=lambda c: out[f"concurrency_{c}"]["ratio"])
    out["ratio_best"] = out[f"concurrency_{best}"]["ratio"]
    out["best_concurrency"] = best
    return out


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
