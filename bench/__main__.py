"""Benchmark our gateway against the peer gateways on the same services and machine.

    python -m bench            # full run (about 15 min): peers too, 1,000 users × 5 orders
    python -m bench --smoke    # seconds, no peers: keeps the harness from rotting (CI)

Everything runs on 127.0.0.1. Gateways are measured in alternation, and in the opposite
order every other round (A B C, C B A, ...): drift hits all alike, and no gateway always
follows the same one (a Node peer's own collection and compilation can still be running
when the next gateway's round starts). Figures are medians of the rounds, ratios are
medians of per-round ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import threading

import psutil

from bench import environment, report, wrk
from bench.processes import ROOT, Proc
from bench.scenarios import Request, Scenario, scenarios

RESULTS = ROOT / "bench" / "results"


def _measure(
    env: environment.Environment,
    proc: Proc,
    request: Request,
    *,
    connections: int,
    seconds: float,
    count_calls: bool,
) -> dict[str, float]:
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):  # walking /proc costs CPU the measured processes need
            proc.sample_rss()

    sampler = threading.Thread(target=sample, daemon=True)
    calls_before = env.service_requests() if count_calls else 0
    cpu_before = proc.cpu_seconds()
    sampler.start()
    try:
        result = wrk.run(request, connections=connections, seconds=seconds)
    finally:
        stop.set()
        sampler.join()
    cpu = proc.cpu_seconds() - cpu_before
    requests = max(result["requests"], 1)
    result["cpu_s_per_1k"] = cpu / requests * 1000
    proc.sample_rss()
    result["peak_rss_mb"] = proc.peak_rss / 2**20
    if count_calls:
        # Both /health reads of the second snapshot count themselves: 2 requests.
        result["calls_per_request"] = (env.service_requests() - calls_before - 2) / requests
    return result


def _proc_for(env: environment.Environment, scenario: Scenario, target: str) -> Proc:
    if target == "direct":
        assert env.users is not None
        return env.users
    if target == "ours+auth":
        assert env.auth_gateway is not None
        return env.auth_gateway
    if target == "ours-metrics":
        assert env.bare_gateway is not None
        return env.bare_gateway
    if scenario.key == "S6":
        assert env.open_circuit_gateway is not None
        return env.open_circuit_gateway
    return env.gateways[target]


def run_scenario(
    env: environment.Environment, scenario: Scenario, args: argparse.Namespace
) -> list[dict]:
    rows = []
    for connections in args.concurrency:
        per_target: dict[str, list[dict]] = {target: [] for target in scenario.targets}
        for round_index in range(args.rounds):
            order = list(scenario.targets.items())
            if round_index % 2:
                order.reverse()
            for target, request in order:
                proc = _proc_for(env, scenario, target)
                wrk.run(request, connections=connections, seconds=args.warmup)
                per_target[target].append(
                    _measure(
                        env,
                        proc,
                        request,
                        connections=connections,
                        seconds=args.duration,
                        count_calls=target != "direct",
                    )
                )
        for target, results in per_target.items():
            rows.append(report.summarise(scenario, target, connections, results, per_target))
        print(report.markdown_rows(rows[-len(per_target) :]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="seconds, small data, no peers")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--orders-per-user", type=int, default=5)
    parser.add_argument("--duration", type=float, default=15, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5, help="warm-up seconds per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument(
        "--gateway-workers", type=int, default=2, help="our gateway's processes (one per core)"
    )
    parser.add_argument("--only", nargs="+", metavar="S1", help="run only these scenarios")
    parser.add_argument(
        "--no-auth", action="store_true", help="skip our gateway with GATEWAY_AUTH=on"
    )
    parser.add_argument(
        "--no-bare", action="store_true", help="skip our gateway with GATEWAY_METRICS=false"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.orders_per_user, args.duration, args.warmup = 120, 5, 1, 1
        args.rounds, args.concurrency, args.no_peers = 1, [1, 4], True
    wrk.require_wrk()

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = RESULTS / stamp
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = environment.bring_up(
        logs=out_dir / "logs",
        users=args.users,
        orders_per_user=args.orders_per_user,
        peers=not args.no_peers,
        gateway_workers=args.gateway_workers,
        auth=not args.no_auth,
        bare=not args.no_bare,
    )
    rows: list[dict] = []
    try:
        for scenario in scenarios(env):
            if args.only and scenario.key not in args.only:
                continue
            print(f"\n## {scenario.key} {scenario.title}", flush=True)
            rows.extend(run_scenario(env, scenario, args))
    finally:
        env.stack.close()
    machine = (
        f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    text = report.document(rows, stamp=stamp, machine=machine, args=vars(args))
    (out_dir / "results.md").write_text(text)
    chart = report.chart(rows, out_dir / "throughput.png")
    print("\n" + text)
    print(f"Results in {out_dir.relative_to(ROOT)}/" + (" (with chart)" if chart else ""))
    bad = sum(row["errors"] for row in rows)
    return 1 if bad and args.smoke else 0


if __name__ == "__main__":
    raise SystemExit(main())
