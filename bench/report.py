"""Tables and a chart from the measured rows."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.scenarios import Scenario

COLUMNS = (
    "scenario",
    "conc",
    "gateway",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "calls/req",
    "CPU s/1k req",
    "peak RSS MB",
    "vs ours",
)


def summarise(
    scenario: Scenario,
    target: str,
    connections: int,
    results: list[dict],
    per_target: dict[str, list[dict]],
) -> dict:
    ours = per_target.get("ours")
    ratio = None
    ratios: list[float] = []
    if ours is not None and target != "ours":
        # Ours relative to this target, round by round (same moment, same drift).
        ratios = [o["rps"] / t["rps"] for o, t in zip(ours, results, strict=True) if t["rps"]]
        ratio = statistics.median(ratios) if ratios else None
    calls = [r["calls_per_request"] for r in results if "calls_per_request" in r]
    return {
        "scenario": scenario.key,
        "title": scenario.title,
        "conc": connections,
        "gateway": target,
        "rps": statistics.median(r["rps"] for r in results),
        # The spread of the rounds: what one figure alone would hide.
        "rps_range": (min(r["rps"] for r in results), max(r["rps"] for r in results)),
        "ratio_range": (min(ratios), max(ratios)) if ratios else None,
        "p50": statistics.median(r["p50_ms"] for r in results),
        "p99": statistics.median(r["p99_ms"] for r in results),
        "errors": sum(r["bad"] + r["socket_errors"] for r in results),
        "calls": statistics.median(calls) if calls else None,
        "cpu": statistics.median(r["cpu_s_per_1k"] for r in results),
        "rss": max(r["peak_rss_mb"] for r in results),
        "ours_ratio": ratio,
    }


def _cells(row: dict) -> list[str]:
    return [
        row["scenario"],
        str(row["conc"]),
        row["gateway"],
        _spread(row["rps"], row.get("rps_range"), "{:.1f}"),
        f"{row['p50']:.2f}",
        f"{row['p99']:.2f}",
        str(row["errors"]),
        "—" if row["calls"] is None else f"{row['calls']:.2f}",
        f"{row['cpu']:.2f}",
        f"{row['rss']:.0f}",
        ""
        if row["ours_ratio"] is None
        else _spread(row["ours_ratio"], row.get("ratio_range"), "{:.2f}×"),
    ]


def _spread(median: float, extremes: tuple[float, float] | None, form: str) -> str:
    """The median, and the rounds' lowest and highest when they differ: `113.0 (110.2–116.9)`."""
    text = form.format(median)
    if extremes is not None and extremes[0] != extremes[1]:
        text += f" ({form.format(extremes[0]).rstrip('×')}–{form.format(extremes[1])})"
    return text


def markdown_rows(rows: list[dict]) -> str:
    return "\n".join("| " + " | ".join(_cells(row)) + " |" for row in rows)


def document(rows: list[dict], *, stamp: str, machine: str, args: dict) -> str:
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS)
    titles = sorted({(row["scenario"], row["title"]) for row in rows})
    legend = "\n".join(f"- {key}: {title}" for key, title in titles)
    settings = (
        f"{args['users']} users × {args['orders_per_user']} orders, "
        f"{args['rounds']} round(s) of {args['duration']:.0f} s after "
        f"{args['warmup']:.0f} s warm-up, concurrency {args['concurrency']}; "
        f"our gateway with {args['gateway_workers']} worker process(es), "
        f"the peers as their start scripts run them"
    )
    return (
        f"# Benchmark {stamp}\n\nMachine: {machine}. {settings}.\n\n{legend}\n\n"
        f"`vs ours` is our req/s divided by that gateway's, round by round (median).\n"
        f"`req/s` and `vs ours`: the median of the rounds, then (lowest–highest).\n"
        f"`calls/req` are downstream requests counted at the services.\n\n"
        f"{head}\n{markdown_rows(rows)}\n"
    )


def chart(rows: list[dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    top = max(row["conc"] for row in rows)
    rows = [row for row in rows if row["conc"] == top]
    scenarios = sorted({row["scenario"] for row in rows})
    gateways = sorted({row["gateway"] for row in rows}, key=lambda g: (g != "ours", g))
    width = 0.8 / max(len(gateways), 1)
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, gateway in enumerate(gateways):
        xs, ys = [], []
        for j, key in enumerate(scenarios):
            for row in rows:
                if row["scenario"] == key and row["gateway"] == gateway:
                    xs.append(j + i * width)
                    ys.append(row["rps"])
        ax.bar(xs, ys, width, label=gateway)
    ax.set_xticks([j + width * (len(gateways) - 1) / 2 for j in range(len(scenarios))], scenarios)
    ax.set_ylabel("requests/s")
    ax.set_yscale("log")
    ax.set_title(f"Throughput per scenario at concurrency {top}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
