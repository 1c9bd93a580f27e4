"""bench/throughput.png: created/s and throttled/s over time for each policy, against the limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABELS = {
    "ours": "ours (share limiter + retry-after + start gate)",
    "fixed": "fixed 3 s then 5 s (terraform)",
    "full_jitter": "full jitter, base 1 s (botocore standard)",
    "adaptive": "botocore adaptive (CUBIC token bucket)",
}


def draw(throughput: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    policies = throughput["policies"]
    limit = throughput["limit_qps"]
    fig, axes = plt.subplots(len(policies), 1, figsize=(9, 2.3 * len(policies)), sharex=True)
    axes = axes if len(policies) > 1 else [axes]
    for axis, (name, figures) in zip(axes, policies.items(), strict=True):
        timeline = figures["timeline"]
        seconds = range(len(timeline["created"]))
        axis.plot(seconds, timeline["created"], color="tab:green", label="created/s")
        axis.plot(seconds, timeline["throttled"], color="tab:red", label="throttled/s")
        axis.axhline(limit, color="black", linestyle="--", linewidth=1, label=f"limit R={limit:g}")
        axis.set_title(
            f"{LABELS.get(name, name)}: {figures['ratio_to_limit']:.2f} R, "
            f"{figures['throttled_share']:.0%} throttled, p99 {figures['latency_p99_s']:.2f} s",
            fontsize=9,
            loc="left",
        )
        axis.set_ylabel("calls/s")
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("seconds since the first send")
    fig.suptitle(
        f"{throughput['requests']} requests, {throughput['instances']} instances, batches of "
        f"{throughput['batch']}, CreateCustomerGateway limited to R={limit:g}/s, "
        f"{throughput['latency_ms']} ms latency",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
