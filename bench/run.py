"""`make bench`: every benchmark, bench/results.json, a table, and bench/throughput.png.

python -m bench.run                      # everything (about 10 minutes on 2 cores)
python -m bench.run --only core,cold     # a subset (results.json keeps the other sections)
python -m bench.run --requests 100       # a smaller throughput load
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import ROOT

RESULTS = ROOT / "bench" / "results.json"
PLOT = ROOT / "bench" / "throughput.png"
SECTIONS = ("core", "cold", "throughput", "batch")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import hashlib
    import subprocess

    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    retry = ROOT / "functions" / "create_customer_gateway" / "cgw_provisioner" / "retry.py"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", str(retry)], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "commit": head,
        "retry_py_sha256": hashlib.sha256(retry.read_bytes()).hexdigest()[:16],
        "retry_py_uncommitted_changes": bool(dirty),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _load() -> dict[str, Any]:
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"any of {', '.join(SECTIONS)}")
    parser.add_argument("--requests", type=int, default=500, help="throughput load (N)")
    parser.add_argument("--limit-qps", type=float, default=10, help="throughput limit (R)")
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--policies", default="ours,fixed,full_jitter,adaptive")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    chosen = set(args.only.split(","))
    unknown = chosen - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}")

    results = _load() if args.output == RESULTS else {}
    results["machine"] = machine()
    started = time.monotonic()
    if "core" in chosen:
        from bench import core

        print("core: 10,000 messages ...", flush=True)
        figures = core.measure()
        results["core_us_per_message"] = figures["us_per_message"]
        results["core"] = figures
    if "cold" in chosen:
        from bench import cold_start

        print(f"cold start: {args.cold_runs} runs of each command ...", flush=True)
        results["cold_start"] = cold_start.measure(runs=args.cold_runs)
    if "batch" in chosen:
        from bench import batch_latency

        print("batch latency ...", flush=True)
        figures = batch_latency.measure()
        results["batch_latency_ratio"] = figures["ratio_default"]
        results["batch_latency"] = figures
    if "throughput" in chosen:
        from bench import plot, throughput

        policies = tuple(args.policies.split(","))
        print(f"throughput: {args.requests} requests x {len(policies)} policies ...", flush=True)
        results["throughput"] = throughput.measure(
            n=args.requests, limit_qps=args.limit_qps, policies=policies
        )
        plot.draw(results["throughput"], PLOT)
        print(f"plot: {PLOT.relative_to(ROOT)}")
    for section, key in (
        ("core", "core"),
        ("cold", "cold_start"),
        ("batch", "batch_latency"),
        ("throughput", "throughput"),
    ):
        if section in chosen:
            results[key]["measured_at"] = results["machine"]["date"]
    results["machine"]["bench_seconds"] = round(time.monotonic() - started, 1)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"results: {args.output}")
    return 0


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def table(results: dict[str, Any]) -> str:
    lines = [f"machine: {results['machine']['cores']} cores, {results['machine']['cpu']}"]
    if "cold_start" in results:
        c = results["cold_start"]
        lines.append(
            f"cold start        ours {c['ours_s']:.3f} s / baseline {c['baseline_s']:.3f} s = "
            f"{c['ratio']:.2f} (goal <= 1.5: {_verdict(c['ratio'] <= 1.5)}); "
            f"Tea reference {c['tea_s']:.3f} s = {c['tea_ratio']:.2f}"
        )
    if "core_us_per_message" in results:
        us = results["core_us_per_message"]
        lines.append(f"core cost         {us:.1f} us/message (goal <= 100: {_verdict(us <= 100)})")
    if "batch_latency_ratio" in results:
        b = results["batch_latency"]
        parts = ", ".join(
            f"BATCH_CONCURRENCY={k.split('_')[1]}: {v['ratio']:.2f}"
            for k, v in b.items()
            if k.startswith("concurrency_")
        )
        lines.append(
            f"batch of 10       {parts} x one request (goal <= 1.5 at the default: "
            f"{_verdict(results['batch_latency_ratio'] <= 1.5)})"
        )
    if "throughput" in results:
        t = results["throughput"]
        lines.append(
            f"throughput        R={t['limit_qps']:g}/s, {t['requests']} requests, "
            f"{t['instances']} instances, batches of {t['batch']}"
        )
        header = (
            f"  {'policy':<12}{'created/s':>10}{'/R':>7}{'throttled':>10}{'att p50':>8}"
            f"{'p99':>5}{'max':>5}{'lat p50':>9}{'p99':>8}{'dups':>6}{'wall':>8}"
        )
        lines.append(header)
        for name, p in t["policies"].items():
            lines.append(
                f"  {name:<12}{p['created_per_s']:>10.2f}{p['ratio_to_limit']:>7.2f}"
                f"{p['throttled_share']:>10.1%}{p['attempts_p50']:>8}{p['attempts_p99']:>5}"
                f"{p['attempts_max']:>5}{p['latency_p50_s']:>8.2f}s{p['latency_p99_s']:>7.2f}s"
                f"{p['duplicates']:>6}{p['wall_s']:>7.1f}s"
            )
        ours = t["policies"].get("ours")
        if ours:
            ok = (
                ours["ratio_to_limit"] >= 0.95
                and ours["throttled_share"] <= 0.10
                and ours["latency_p99_s"] <= 2
                and ours["duplicates"] == 0
            )
            lines.append(
                f"  goal (ours >= 0.95 R, <= 10% throttled, p99 <= 2 s, 0 duplicates): "
                f"{_verdict(ok)}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
