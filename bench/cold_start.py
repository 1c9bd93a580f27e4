"""Cold start: a fresh interpreter, from process start to the first outcome of a direct invocation.

localcloud runs in its own process at zero latency. Each run starts `python -c CHILD`, which
imports index, runs the initializer and invokes the handler with one request (a new IP each
time, so every run really creates a gateway and publishes its outcome), then prints a line.
The clock runs from just before the process is spawned to that line. The baseline is the same
clock around `import fc2, jsonschema, structlog` (the mandated libraries alone). Runs of the
three commands are interleaved so that drift on the machine hits all of them alike.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

from bench import FUNCTION_DIR, ROOT
from bench.localcloud_process import FUNCTION, SERVICE, BenchCloud

GOAL_RATIO = 1.5
TEA_DIR = ROOT / "bench" / "tea_function"

CHILD = r"""
import os, sys
from types import SimpleNamespace as NS
import index
e = os.environ
ctx = NS(
    request_id="cold-start", region=e["BENCH_REGION"], account_id=e["BENCH_ACCOUNT"],
    credentials=NS(access_key_id=e["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                   access_key_secret=e["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], security_token=""),
    function=NS(name=e["BENCH_FUNCTION"], handler="index.handler", memory=256, timeout=30,
                initializer="index.initializer", initialization_timeout=30),
    service=NS(name=e["BENCH_SERVICE"], log_project="", log_store="", qualifier="LATEST",
               version_id=""),
    retry_count=0,
)
index.initializer(ctx)
outcome = index.handler(e["BENCH_EVENT"].encode(), ctx)
sys.stdout.write(outcome["type"] + "\n")
sys.stdout.flush()
"""
BASELINE = (
    "import sys, fc2, jsonschema, structlog\nsys.stdout.write('ready\\n')\nsys.stdout.flush()"
)


def _timed(code: str, env: dict[str, str]) -> tuple[float, str]:
    """Seconds from spawning `python -c code` to its first line of output, and that line."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None  # (stdout=PIPE)
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    _, err = process.communicate(timeout=60)
    if process.returncode != 0 or not line.strip():
        raise RuntimeError(f"cold start child failed ({process.returncode}): {err[-2000:]}")
    return elapsed, line.strip()


def _event(i: int, kind: str) -> str:
    return json.dumps(
        {
            "RegionId": "cn-shanghai",
            "IpAddress": f"198.{18 + (kind == 'tea')}.{i // 250}.{i % 250 + 1}",
            "Name": f"cold-start-{kind}-{i}",
            "ClientToken": f"cold-start-{kind}-{i}-{time.time_ns()}",
        }
    )


def importtime(code: str, env: dict[str, str], top: int = 12) -> list[dict[str, Any]]:
    """The biggest imports of one run (`python -X importtime`): cumulative ms of each module
    imported at top level (not inside another import), and self time summed per package."""
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
    by_package: dict[str, int] = defaultdict(int)
    top_level = []
    for match in line.finditer(process.stderr):
        self_us, cumulative_us, indent, name = match.groups()
        by_package[name.split(".")[0]] += int(self_us)
        if not indent:
            top_level.append((int(cumulative_us), name))
    top_level.sort(reverse=True)
    packages = sorted(by_package.items(), key=lambda item: -item[1])
    return [
        {"module": name, "cumulative_ms": round(us / 1000, 1)} for us, name in top_level[:top]
    ] + [{"package": name, "self_ms_total": round(us / 1000, 1)} for name, us in packages[:top]]


def measure(runs: int = 15, retry_policy: str = "share-limiter") -> dict[str, Any]:
    """`retry_policy`: the shipped RETRY_POLICY (fleet-tokens: each run's first call seeds or
    takes a token from the token queue, as a fresh instance does)."""
    with BenchCloud() as cloud:
        cloud.create_result_topic()
        base_env = cloud.function_env(
            BENCH_REGION=cloud.info["region"],
            BENCH_ACCOUNT=cloud.info["account_id"],
            BENCH_FUNCTION=FUNCTION,
            BENCH_SERVICE=SERVICE,
            PYTHONDONTWRITEBYTECODE="0",
        )
        ours_env = {
            **base_env,
            **cloud.retry_policy_env(retry_policy),
            "PYTHONPATH": str(FUNCTION_DIR),
        }
        tea_env = {**base_env, "PYTHONPATH": f"{TEA_DIR}:{FUNCTION_DIR}"}
        # one warm-up each: .pyc files written, the OS file cache filled (FC's image is warm too)
        _timed(CHILD, {**ours_env, "BENCH_EVENT": _event(0, "ours")})
        _timed(CHILD, {**tea_env, "BENCH_EVENT": _event(0, "tea")})
        _timed(BASELINE, base_env)
        times: dict[str, list[float]] = {"ours": [], "tea": [], "baseline": []}
        for i in range(1, runs + 1):
            seconds, line = _timed(CHILD, {**ours_env, "BENCH_EVENT": _event(i, "ours")})
            assert line == "vpc.customergateway.created", line
            times["ours"].append(seconds)
            seconds, line = _timed(CHILD, {**tea_env, "BENCH_EVENT": _event(i, "tea")})
            assert line == "vpc.customergateway.created", line
            times["tea"].append(seconds)
            times["baseline"].append(_timed(BASELINE, base_env)[0])
        created = [c for c in cloud.calls("CreateCustomerGateway") if c.get("created")]
        assert len(created) == 2 * (runs + 1), f"{len(created)} gateways for {2 * (runs + 1)} runs"
        imports_ours = importtime(CHILD, {**ours_env, "BENCH_EVENT": _event(runs + 1, "ours")})
        imports_tea = importtime(CHILD, {**tea_env, "BENCH_EVENT": _event(runs + 1, "tea")})
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "ours_s": round(medians["ours"], 4),
        "baseline_s": round(medians["baseline"], 4),
        "ratio": round(medians["ours"] / medians["baseline"], 3),
        "tea_s": round(medians["tea"], 4),
        "tea_ratio": round(medians["tea"] / medians["baseline"], 3),
        "runs": runs,
        "retry_policy": retry_policy,
        "goal_ratio": GOAL_RATIO,
        "all_s": {name: [round(v, 4) for v in values] for name, values in times.items()},
        "top_imports_ours": imports_ours,
        "top_imports_tea": imports_tea,
    }


if __name__ == "__main__":
    print(json.dumps(measure(runs=int(sys.argv[1]) if len(sys.argv) > 1 else 15), indent=2))
