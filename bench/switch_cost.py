"""What one of the gateway's switches saves: the same requests to two gateways, one switched.

    python -m bench.switch_cost --set GATEWAY_COALESCE_WRITES=false
    python -m bench.switch_cost --set GATEWAY_COALESCE_WRITES=false --syscalls 300 --rounds 0

One pair of services (one database, 200 users × 5 orders) and two gateways of ours on
them, one worker each (one process to measure): `on`, as configured by default, and
`off`, with the `--set` variables. wrk loads one, then the other, alternating (on off on
off ...), so the drift of a shared machine hits both alike. Per round and gateway:
requests per second, p50, and the gateway process's own CPU per request (psutil); at the
end the medians and the per-round ratio of CPU per request (off / on). Timings are only
printed, never asserted.

`--syscalls N` first counts, for each gateway, the system calls its process makes for N
requests sent one after another (`strace -f -c`, `apt-get install strace`): a measure
that a shared machine's load does not move, where a shortcut saves writes or loop passes.

PostgreSQL: BENCH_PG_URL or TEST_PG_URL when set, else an embedded server for the run.
"""

from __future__ import annotations

import argparse
import collections
import random
import signal
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench import wrk
from bench.environment import Environment, bring_up, start_ours
from bench.processes import Proc
from bench.scenarios import DASHBOARD_STATS_OURS, FRONT_OURS, Request, _graphql

_LOAD = {
    "S2": lambda base, user_id: _graphql(base, FRONT_OURS % user_id, '"orders"'),
    "S3": lambda base, user_id: Request(f"{base}/users/{user_id}"),
    "S7": lambda base, user_id: _graphql(base, DASHBOARD_STATS_OURS, '"orderStats"'),
}


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def syscalls(pid: int, request: Request, count: int) -> dict[str, float]:
    """System calls of process `pid` per request, for `count` requests one at a time."""
    out = Path(tempfile.mkdtemp(prefix="bench-strace-")) / "counts.txt"
    with httpx.Client(timeout=10) as client:

        def send() -> None:
            headers = dict(request.headers)
            if request.body is not None:
                headers["content-type"] = "application/json"
            response = client.request(
                request.method, request.url, content=request.body, headers=headers
            )
            assert response.status_code == request.status, response.text

        for _ in range(20):  # warm: the keep-alive connections exist before counting
            send()
        tracer = subprocess.Popen(
            ["strace", "-f", "-c", "-o", str(out), "-p", str(pid)],
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attached to every thread
        for _ in range(count):
            send()
        time.sleep(0.3)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(30)
    counts: collections.Counter[str] = collections.Counter()
    for line in out.read_text().splitlines():
        fields = line.split()
        # "% time  seconds  usecs/call  calls  [errors]  syscall"
        if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
            counts[fields[-1]] += int(fields[3])
    return {name: calls / count for name, calls in counts.items()}


def _print_syscalls(gateways: dict[str, Proc], requests: dict[str, Request], count: int) -> None:
    for label, gateway in gateways.items():
        per_request = syscalls(gateway.tree()[-1].pid, requests[label], count)
        common = sorted(
            (n for n, v in per_request.items() if v >= 0.05), key=lambda name: per_request[name]
        )
        print(
            f"  {label:>3} system calls per request: {sum(per_request.values()):.1f} ("
            + ", ".join(f"{name} {per_request[name]:.2f}" for name in reversed(common))
            + ")",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=_setting, action="append", required=True, metavar="V=X")
    parser.add_argument("--only", nargs="+", default=["S2", "S3"], choices=sorted(_LOAD))
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--syscalls", type=int, default=0, metavar="N")
    args = parser.parse_args()
    wrk.require_wrk()
    switched = dict(args.set)

    with ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-switch-")))
        env: Environment = bring_up(
            logs=logs, users=200, orders_per_user=5, peers=False, auth=False, bare=False
        )
        stack.callback(env.stack.close)
        assert env.users is not None
        assert env.orders is not None
        gateways = {
            "on": env.gateways["ours"],
            "off": start_ours(env, "ours-off", env.users.url, env.orders.url, **switched),
        }
        user_id = random.Random(7).choice(env.user_ids)
        print(f"off: {' '.join(f'{k}={v}' for k, v in switched.items())}", flush=True)
        for key in args.only:
            if args.syscalls:
                print(f"\n{key}, {args.syscalls} requests one at a time (strace -c)", flush=True)
                requests = {label: _LOAD[key](gw.url, user_id) for label, gw in gateways.items()}
                _print_syscalls(gateways, requests, args.syscalls)
            for connections in args.connections if args.rounds > 0 else ():
                requests = {label: _LOAD[key](gw.url, user_id) for label, gw in gateways.items()}
                for label in gateways:  # warm-up: connections, caches, plans
                    wrk.run(requests[label], connections=connections, seconds=2)
                results: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
                print(f"\n{key} c={connections}: round, gateway, req/s, p50 ms, CPU ms/req")
                for n in range(1, args.rounds + 1):
                    for label, gateway in gateways.items():
                        before = gateway.cpu_seconds()
                        result = wrk.run(
                            requests[label], connections=connections, seconds=args.seconds
                        )
                        cpu = gateway.cpu_seconds() - before
                        result["cpu_ms"] = 1000 * cpu / max(result["requests"], 1)
                        results[label].append(result)
                        bad = result["bad"] + result["socket_errors"]
                        print(
                            f"  {n} {label:>3} {result['rps']:8.1f} {result['p50_ms']:7.2f}"
                            f" {result['cpu_ms']:6.3f}" + (f"  ({bad:.0f} errors)" if bad else ""),
                            flush=True,
                        )
                ratios = [
                    off["cpu_ms"] / on["cpu_ms"]
                    for on, off in zip(results["on"], results["off"], strict=True)
                ]
                medians = {
                    label: statistics.median(r["cpu_ms"] for r in rows)
                    for label, rows in results.items()
                }
                print(
                    f"  median CPU ms/req: on {medians['on']:.3f}, off {medians['off']:.3f};"
                    f" off/on per round {', '.join(f'{r:.2f}' for r in ratios)}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
