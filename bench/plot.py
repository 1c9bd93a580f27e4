"""bench/throughput.png: created/s and throttled/s over time for each policy, against the limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHIPPED = {  # what `ours` is, by the shipped RETRY_POLICY
    "share-limiter": "share limiter + retry-after + start gate",
    "fleet-tokens": "fleet tokens: one pool of send tokens in an MNS queue",
}
LABELS = {
    "fleet_tokens": "RetryPolicy fleet-tokens (beside the shipped default)",
    "fixed": "fixed 3 s then 5 s (terraform)",
    "full_jitter": "full jitter, base 1 s (botocore standard)",
    "adaptive": "botocore adaptive (CUBIC token bucket)",
}


def draw(results: dict[str, Any], path: Path) -> None:
    """One row per policy for each measured scenario (created/s and throttled/s over time),
    and one panel for the simulation (ratio to the limit by number of instances)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shipped = results.get("defaults", {}).get("RETRY_POLICY", "share-limiter")
    labels = {**LABELS, "ours": f"ours ({SHIPPED.get(shipped, shipped)})"}
    panels: list[tuple[str, dict[str, Any], float | None]] = []
    throughput = results["throughput"]
    for name, figures in throughput["policies"].items():
        panels.append(
            (
                f"R={throughput['limit_qps']:g}/s: {labels.get(name, name)}",
                figures,
                throughput["limit_qps"],
            )
        )
    random_throttling = results.get("scenarios", {}).get("random_throttling")
    if random_throttling:
        share = random_throttling["throttle_probability"]
        for name, figures in random_throttling["policies"].items():
            panels.append(
                (f"{share:.0%} random throttles: {labels.get(name, name)}", figures, None)
            )
    shared = results.get("scenarios", {}).get("shared_quota")
    if shared:
        left = shared["limit_qps"] - shared["background_qps"]
        for name, figures in shared["policies"].items():
            taken = f"{shared['background_qps']:g} QPS taken by another client"
            title = f"{taken}: {labels.get(name, name)}"
            panels.append((title, figures, left))
    simulation = results.get("simulation")
    rows = len(panels) + (2 if simulation else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(9, 2.1 * rows))
    axes = list(axes) if rows > 1 else [axes]
    for axis, (title, figures, limit) in zip(axes, panels, strict=False):
        timeline = figures["timeline"]
        seconds = range(len(timeline["created"]))
        axis.plot(seconds, timeline["created"], color="tab:green", label="created/s")
        axis.plot(seconds, timeline["throttled"], color="tab:red", label="throttled/s")
        if limit:
            axis.axhline(limit, color="black", linestyle="--", linewidth=1, label="limit")
        ratio = f"{figures['ratio_to_limit']:.2f} R, " if "ratio_to_limit" in figures else ""
        axis.set_title(
            f"{title}: {figures['created_per_s']:.1f}/s, {ratio}{figures['throttled_share']:.0%} "
            f"throttled, p99 {figures['latency_p99_s']:.2f} s",
            fontsize=8,
            loc="left",
        )
        axis.set_ylabel("calls/s", fontsize=8)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.set_xlabel("seconds since the first send", fontsize=7)
    axes[0].legend(loc="upper right", fontsize=7)
    if simulation:
        _simulation_panels(simulation, axes[-2], axes[-1])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _simulation_panels(simulation: dict, axis: Any, waste: Any) -> None:
    """Created / R by number of instances; and the share of calls throttled (solid) and of
    requests dead-lettered (dotted) beside it."""
    for limit, style in ((10, "-"), (100, "--")):
        runs = [r for r in simulation["runs"] if r["limit_qps"] == limit]
        for name in runs[0]["policies"] if runs else ():
            axis.plot(
                [r["instances"] for r in runs],
                [r["policies"][name]["ratio_to_limit"] for r in runs],
                style,
                marker="o",
                label=f"{name}, R={limit}",
            )
    axis.set_xscale("log")
    axis.set_ylim(0, 1.1)
    axis.set_xlabel("instances (simulated)", fontsize=7)
    axis.set_ylabel("created / R", fontsize=8)
    axis.set_title(
        "simulation: the shipped policy and the baselines on a virtual clock",
        fontsize=8,
        loc="left",
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=6, ncol=3)
    for limit, marker in ((10, "o"), (100, "s")):
        runs = [r for r in simulation["runs"] if r["limit_qps"] == limit]
        for name in runs[0]["policies"] if runs else ():
            sizes = [r["instances"] for r in runs]
            (line,) = waste.plot(
                sizes,
                [r["policies"][name]["throttled_share"] for r in runs],
                marker=marker,
                label=f"{name}, R={limit}: throttled",
            )
            waste.plot(
                sizes,
                [r["policies"][name].get("dead_lettered", 0) / r["requests"] for r in runs],
                ":",
                marker=marker,
                color=line.get_color(),
            )
    waste.set_xscale("log")
    waste.set_ylim(0, 1.05)
    waste.set_xlabel("instances (simulated)", fontsize=7)
    waste.set_ylabel("share", fontsize=8)
    waste.set_title(
        "simulation: calls throttled (solid), requests dead-lettered (dotted)",
        fontsize=8,
        loc="left",
    )
    waste.grid(alpha=0.3)
    waste.legend(fontsize=6, ncol=3)
