"""What tracing costs: S2 (one user with its orders) through a traced stack and an untraced one.

    python -m bench.tracing_cost                      # 4 rounds of 10 s each way, 8 connections
    python -m bench.tracing_cost --rounds 2 --seconds 5

Two stacks on the same databases (the same rows): users, orders and the gateway untraced
(the default), and the same three with OTEL_EXPORTER_OTLP_ENDPOINT set, exporting every
span (always_on) to an OTLP/HTTP receiver in this process that decodes and counts them
(tests/support/otlp.py). wrk loads one gateway, then the other, alternating (off on off
on ...), so drift hits both alike. Per round: requests per second, latency, and CPU per
request of the gateway process and of the two services (psutil), and for the traced
stack the spans received per request (so none are being dropped: 10 expected, 6 from the
gateway and 2 from each service). PostgreSQL: BENCH_PG_URL or TEST_PG_URL when set, else
an embedded server for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench import wrk
from bench.environment import bench_database, bench_postgres, seed_bench_data
from bench.processes import Proc, free_port, python_module, start
from bench.scenarios import FRONT_OURS, Request, _graphql
from service_orders.init_db import main as init_orders_db
from service_users.init_db import main as init_users_db
from tests.support.otlp import OtlpReceiver


def _stack(
    stack: ExitStack, label: str, dbs: dict[str, str], logs: Path, otel: dict[str, str]
) -> dict[str, Proc]:
    procs: dict[str, Proc] = {}
    for name in ("users", "orders"):
        prefix, port = f"{name.upper()}_", free_port()
        procs[name] = start(
            f"{name}-{label}",
            python_module(f"service_{name}"),
            env={
                f"{prefix}DATABASE_URL": dbs[name],
                f"{prefix}PORT": str(port),
                f"{prefix}ACCESS_LOG": "false",
                **otel,
            },
            url=f"http://127.0.0.1:{port}",
            health_path="/health",
            logs=logs,
        )
        stack.callback(procs[name].stop)
    port = free_port()
    procs["gateway"] = start(
        f"gateway-{label}",
        python_module("graphql_gateway"),
        env={
            "GATEWAY_PORT": str(port),
            "GATEWAY_USERS_URL": procs["users"].url,
            "GATEWAY_ORDERS_URL": procs["orders"].url,
            "GATEWAY_ACCESS_LOG": "false",
            **otel,
        },
        url=f"http://127.0.0.1:{port}",
        health_path="/health",
        logs=logs,
    )
    stack.callback(procs["gateway"].stop)
    return procs


def _round(
    procs: dict[str, Proc], request: Request, connections: int, seconds: float
) -> dict[str, float]:
    before = {name: proc.cpu_seconds() for name, proc in procs.items()}
    result = wrk.run(request, connections=connections, seconds=seconds)
    requests = max(result["requests"], 1)
    cpu = {name: proc.cpu_seconds() - before[name] for name, proc in procs.items()}
    result["gateway_cpu_ms"] = cpu["gateway"] / requests * 1000
    result["services_cpu_ms"] = (cpu["users"] + cpu["orders"]) / requests * 1000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    wrk.require_wrk()

    with ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-tracing-")))
        receiver = stack.enter_context(OtlpReceiver(keep=False))
        server = bench_postgres(stack)
        dbs = {
            "users": bench_database(stack, server, "bench_users", init_users_db),
            "orders": bench_database(stack, server, "bench_orders", init_orders_db),
        }
        off = _stack(stack, "off", dbs, logs, {})
        on = _stack(
            stack,
            "on",
            dbs,
            logs,
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_TRACES_SAMPLER": "always_on",
                # Batches leave every 0.5 s (default 5 s): within the round that made them.
                "OTEL_BSP_SCHEDULE_DELAY": "500",
            },
        )
        print("Seeding 100 users × 5 orders…", flush=True)
        user_ids = asyncio.run(seed_bench_data(off["users"].url, off["orders"].url, 100, 5))
        query = FRONT_OURS % random.Random(7).choice(user_ids)
        requests = {
            "off": _graphql(off["gateway"].url, query, '"orders"'),
            "on": _graphql(on["gateway"].url, query, '"orders"'),
        }
        stacks = {"off": off, "on": on}
        traced_requests: float = 0  # wrk's counts (bench/wrk.py: floats)
        for label in ("off", "on"):  # warm-up: connections, caches, plans
            warm = wrk.run(requests[label], connections=args.connections, seconds=2)
            traced_requests += warm["requests"] if label == "on" else 0

        results: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
        print(
            f"S2 `{query}`, {args.connections} connections, {args.seconds:.0f} s a round\n"
            f"{'round':>5} {'tracing':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'gw CPU ms/req':>13} {'svc CPU ms/req':>14} {'spans/req':>9} {'errors':>6}",
            flush=True,
        )
        for n in range(1, args.rounds + 1):
            for label in ("off", "on"):
                spans_before = receiver.received
                result = _round(stacks[label], requests[label], args.connections, args.seconds)
                spans = (receiver.received - spans_before) / max(result["requests"], 1)
                result["spans"] = spans
                errors = result["bad"] + result["socket_errors"]
                results[label].append(result)
                traced_requests += result["requests"] if label == "on" else 0
                print(
                    f"{n:>5} {label:>7} {result['rps']:>8.1f} {result['p50_ms']:>7.2f} "
                    f"{result['p99_ms']:>7.2f} {result['gateway_cpu_ms']:>13.2f} "
                    f"{result['services_cpu_ms']:>14.2f} {spans:>9.1f} {errors:>6.0f}",
                    flush=True,
                )

        def median(label: str, key: str) -> float:
            return statistics.median(r[key] for r in results[label])

        ratios = [b["rps"] / a["rps"] for a, b in zip(results["off"], results["on"], strict=True)]
        print(
            f"\nmedian req/s: off {median('off', 'rps'):.1f}, on {median('on', 'rps'):.1f}"
            f" (on/off {statistics.median(ratios):.3f}, per-round ratios"
            f" {', '.join(f'{r:.3f}' for r in ratios)})\n"
            f"median gateway CPU per request: off {median('off', 'gateway_cpu_ms'):.2f} ms,"
            f" on {median('on', 'gateway_cpu_ms'):.2f} ms\n"
            f"median services CPU per request: off {median('off', 'services_cpu_ms'):.2f} ms,"
            f" on {median('on', 'services_cpu_ms'):.2f} ms\n"
            f"spans received: {receiver.received} ({receiver.bad_requests} bad exports),"
            f" {receiver.received / max(traced_requests, 1):.2f} per traced request"
            " (a last batch may still be on its way)"
        )


if __name__ == "__main__":
    main()
