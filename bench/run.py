"""`make bench`: every benchmark, bench/results.json, a table, and bench/throughput.png.

python -m bench.run                      # everything, at the shipped defaults
python -m bench.run --quick              # a quick pass for development (small loads, 1 run)
python -m bench.run --only core,cold     # a subset (results.json keeps the other sections)
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
SECTIONS = ("core", "cold", "throughput", "batch", "scenarios", "simulation")


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


def defaults() -> dict[str, Any]:
    """The settings the run uses: the shipped ones. BATCH_CONCURRENCY and MAX_ATTEMPTS are the
    function's defaults, which template.yml ships too; RETRY_POLICY is the template's (a policy
    may need what only the stack has, as fleet-tokens needs its token queue)."""
    import re

    import bench  # noqa: F401
    from cgw_provisioner.config import RETRY_POLICIES, SETTINGS

    table = dict(SETTINGS)
    template = (ROOT / "template.yml").read_text()

    def template_default(parameter: str) -> str:
        found = re.search(rf"\n  {parameter}:\n(?:    .*\n)*?    Default: '?([^'\n]+)'?", template)
        if not found:
            raise SystemExit(f"template.yml has no {parameter} default")
        return found.group(1)

    shipped = {name: table[name] for name in ("BATCH_CONCURRENCY", "MAX_ATTEMPTS")}
    for parameter, name in (
        ("BatchConcurrency", "BATCH_CONCURRENCY"),
        ("MaxAttempts", "MAX_ATTEMPTS"),
    ):
        if template_default(parameter) != table[name]:
            raise SystemExit(f"template.yml's {parameter} default differs from {name}'s")
    shipped["RETRY_POLICY"] = template_default("RetryPolicy")
    if shipped["RETRY_POLICY"] not in RETRY_POLICIES:
        raise SystemExit(f"template.yml's RetryPolicy default {shipped['RETRY_POLICY']} is unknown")
    return shipped


def _load() -> dict[str, Any]:
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"any of {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="small loads, one run each")
    parser.add_argument("--requests", type=int, default=500, help="throughput load (N)")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs per policy")
    parser.add_argument("--limit-qps", type=float, default=10, help="throughput limit (R)")
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--policies", default="ours,fixed,full_jitter,adaptive")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    chosen = set(args.only.split(","))
    unknown = chosen - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}")

    if args.quick:
        args.requests, args.runs, args.cold_runs = min(args.requests, 100), 1, 5
    results = _load() if args.output == RESULTS else {}
    results["machine"] = machine()
    results["defaults"] = defaults()
    results["quick"] = args.quick
    started = time.monotonic()

    def save(section: str) -> None:
        """Write what is measured so far: a long run stopped later keeps its finished sections."""
        if section in results:  # (a run with --only keeps older sections: each says its own)
            results[section]["measured_at"] = results["machine"]["date"]
            results[section]["commit"] = results["machine"]["commit"]
        args.output.write_text(json.dumps(results, indent=2) + "\n")

    if "core" in chosen:
        from bench import core

        print("core: 10,000 messages ...", flush=True)
        figures = core.measure()
        results["core_us_per_message"] = figures["us_per_message"]
        results["core"] = figures
        save("core")
    if "cold" in chosen:
        from bench import cold_start

        print(f"cold start: {args.cold_runs} runs of each command ...", flush=True)
        results["cold_start"] = cold_start.measure(
            runs=args.cold_runs, retry_policy=results["defaults"]["RETRY_POLICY"]
        )
        save("cold_start")
    if "batch" in chosen:
        from bench import batch_latency

        print("batch latency ...", flush=True)
        runs = 3 if args.quick else 7
        shipped = results["defaults"]["RETRY_POLICY"]
        figures = batch_latency.measure(runs=runs, retry_policy=shipped)
        if "fleet_tokens" in args.policies.split(",") and shipped != "fleet-tokens":
            print("batch latency, fleet tokens ...", flush=True)
            beside = batch_latency.measure(runs=runs, retry_policy="fleet-tokens")
            figures["fleet_tokens"] = {
                k: beside[k] for k in ("ratio_default", "one_overhead_ms", "default_concurrency")
            } | {"concurrency_default": beside[f"concurrency_{beside['default_concurrency']}"]}
        results["batch_latency_ratio"] = figures["ratio_default"]
        results["batch_latency"] = figures
        save("batch_latency")
    if "throughput" in chosen:
        from bench import plot, throughput

        policies = tuple(args.policies.split(","))
        print(f"throughput: {args.requests} requests x {len(policies)} policies ...", flush=True)
        results["throughput"] = throughput.measure(
            n=args.requests, limit_qps=args.limit_qps, policies=policies, runs=args.runs
        )
        save("throughput")
    if "scenarios" in chosen:
        from bench import throughput

        policies = tuple(args.policies.split(","))
        print(f"random throttling: {args.requests} requests x {len(policies)} policies ...")
        scenarios = results.setdefault("scenarios", {})
        scenarios["random_throttling"] = throughput.measure_random_throttling(
            n=args.requests, policies=policies, runs=args.runs
        )
        save("scenarios")
        print(f"shared quota: {args.requests} requests x {len(policies)} policies ...")
        scenarios["shared_quota"] = throughput.measure_shared_quota(
            n=args.requests, limit_qps=args.limit_qps, policies=policies, runs=args.runs
        )
        save("scenarios")
    if "simulation" in chosen:
        from functools import partial

        from bench import simulate, simulate_tokens

        print("simulation: 4, 64, 1000 instances ...", flush=True)
        simulated = tuple(
            p for p in args.policies.split(",") if p in (*simulate.POLICIES, simulate.FLEET_TOKENS)
        )
        # each run on the model of its policy (`ours`: the shipped RETRY_POLICY's)
        run = partial(simulate_tokens.simulate, retry_policy=results["defaults"]["RETRY_POLICY"])
        results["simulation"] = simulate.measure(
            quick=args.quick,
            measured=results.get("throughput"),
            batch_concurrency=int(results["defaults"]["BATCH_CONCURRENCY"]),
            max_attempts=int(results["defaults"]["MAX_ATTEMPTS"]),
            policies=simulated,
            run=run,
        )
        results["simulation"]["shared_quota"] = simulate.shared_quota(
            batch_concurrency=int(results["defaults"]["BATCH_CONCURRENCY"]),
            policies=simulated,
            run=run,
        )
        save("simulation")
    if chosen & {"throughput", "scenarios", "simulation"} and "throughput" in results:
        from bench import plot

        plot.draw(results, PLOT)
        print(f"plot: {PLOT.relative_to(ROOT)}")
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
        default = b.get("default_concurrency", 4)
        lines.append(
            f"batch of 10       {parts} x one request (goal <= 1.3 at the default, "
            f"{default}: {_verdict(results['batch_latency_ratio'] <= 1.3)})"
        )
        if "one_overhead_ms" in b:
            lines.append(
                f"one request       {b['one_overhead_ms']:.0f} ms of our own beyond the API's "
                f"100 ms (goal <= 20: {_verdict(b['one_overhead_ms'] <= 20)})"
            )
        beside = b.get("fleet_tokens")
        if beside:
            lines.append(
                f"  fleet tokens (beside): batch of 10 {beside['ratio_default']:.2f} x one "
                f"request, {beside['one_overhead_ms']:.0f} ms of our own"
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
            from bench.throughput import VARIANTS

            best = max(
                p["created_per_s"]
                for n, p in t["policies"].items()
                if n != "ours" and n not in VARIANTS  # (baselines only)
            )
            ok = (
                ours["ratio_to_limit"] >= 0.98
                and ours["throttled_share"] <= 0.05
                and ours["latency_p99_s"] <= 1.5
                and ours["duplicates"] == 0
                and ours["created_per_s"] >= 0.99 * best
            )
            worst = ours.get("worst", {})
            lines.append(
                f"  goal (ours >= 0.98 R, <= 5% throttled, p99 <= 1.5 s, 0 duplicates, >= 0.99 x"
                f" the best baseline; median of {t.get('runs', 1)}): {_verdict(ok)}; worst run "
                f"{worst.get('ratio_to_limit', 0):.2f} R, {worst.get('throttled_share', 0):.1%}"
            )
    random_throttling = results.get("scenarios", {}).get("random_throttling")
    if random_throttling:
        p = random_throttling["policies"]
        lines.append(
            f"random throttling {random_throttling['throttle_probability']:.0%} of calls: "
            + ", ".join(
                f"{n} {f['created_per_s']:.1f}/s p99 {f['latency_p99_s']:.2f} s"
                for n, f in p.items()
            )
        )
        if "ours" in p and "full_jitter" in p:
            ok = (
                p["ours"]["created_per_s"] >= 0.9 * p["full_jitter"]["created_per_s"]
                and p["ours"]["latency_p99_s"] <= p["full_jitter"]["latency_p99_s"]
            )
            lines.append(f"  goal (>= 0.9 x full jitter's created/s, p99 <= its): {_verdict(ok)}")
    shared = results.get("scenarios", {}).get("shared_quota")
    if shared:
        p = shared["policies"]
        lines.append(
            f"shared quota      another client sends {shared['background_qps']:g} of "
            f"{shared['limit_qps']:g} QPS: "
            + ", ".join(
                f"{n} {f['share_of_leftover']:.2f} of the rest, {f['throttled_share']:.0%} "
                f"/ other {f['background_throttled_share']:.0%} throttled"
                for n, f in p.items()
            )
        )
        if "ours" in p:
            o = p["ours"]
            ok = (
                o["share_of_leftover"] >= 0.9
                and o["throttled_share"] <= 0.10
                and o["background_throttled_share"] <= 0.10
            )
            lines.append(
                "  goal (ours >= 0.9 of the rest, <= 10% throttled, the other <= 10%): "
                + _verdict(ok)
            )
    simulation = results.get("simulation")
    if simulation:
        lines.append(f"simulation        ({simulation['wall_s']:.0f} s of real time)")
        for run in simulation["runs"]:
            parts = ", ".join(
                f"{n} {f['ratio_to_limit']:.2f} R {f['throttled_share']:.0%}"
                + _dead_lettered(f, run["requests"])
                + ("" if f.get("complete", True) else " (cut short)")
                for n, f in run["policies"].items()
            )
            lines.append(f"  {run['instances']:>5} instances, R={run['limit_qps']:g}: {parts}")
        check = simulation.get("crosscheck")
        if check:
            lines.append(
                f"  cross-check at {check['instances']} instances: measured "
                f"{check['measured']['created_per_s']:.2f}/s "
                f"{check['measured']['throttled_share']:.1%}, simulated "
                f"{check['simulated']['created_per_s']:.2f}/s "
                f"{check['simulated']['throttled_share']:.1%}: "
                + ("within tolerance" if check["within_tolerance"] else "NOT within tolerance")
            )
        shared = simulation.get("shared_quota")
        if shared:
            lines.append(
                f"  shared quota (simulated, {shared['background_qps']:g} of "
                f"{shared['limit_qps']:g} QPS taken by another client): "
                + ", ".join(
                    f"{n} {f['share_of_leftover']:.2f} of the rest, {f['throttled_share']:.0%} "
                    f"/ other {f['background_throttled_share']:.0%} throttled"
                    for n, f in shared["policies"].items()
                )
            )
    return "\n".join(lines)


def _dead_lettered(figures: dict[str, Any], requests: int) -> str:
    dead = figures.get("dead_lettered", 0)
    return f" {dead / requests:.0%} dead-lettered" if dead else ""


if __name__ == "__main__":
    raise SystemExit(main())
