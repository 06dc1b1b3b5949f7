"""Where a gateway request's CPU goes: py-spy flame graphs of our gateway under wrk.

    python -m bench.profile [--only S2 S3] [--seconds 20] [--connections 1 8]

Brings up the services and one gateway of ours (one worker, so one process to sample;
auth off, metrics on, as `make bench`'s `ours`), loads each scenario with wrk, and samples
the gateway and both services with py-spy (`pip install py-spy`) while it runs. Each
run writes `<scenario>-c<n>-<process>.svg` (a flame graph) and `.txt` (collapsed stacks)
to `bench/results/profile-<time>/`, and prints where the samples fall: by package (the
innermost frame's, "self") and the functions that hold the most samples.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench import wrk
from bench.environment import bring_up
from bench.processes import ROOT
from bench.scenarios import scenarios

# "function (path/to/file.py:123)" — one frame of py-spy's collapsed (raw) output.
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]+)(?::\d+)?\)$")


def _package(file: str) -> str:
    """The package of a frame's file: py-spy names files from their import root
    (`httpx/_client.py`, `graphql_gateway/app.py`; `asyncio/runners.py` for the stdlib)."""
    top, slash, _ = file.partition("/")
    return top.removesuffix(".py") if slash else "(top-level modules)"


def summarise(collapsed: Path, top: int = 15) -> str:
    """Self samples by package and the hottest functions, from py-spy's raw output."""
    by_package: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_FRAME.match(frame) for frame in stack.split(";")]
        parsed = [(m["function"], m["file"]) for m in frames if m is not None]
        if not parsed:
            continue
        total += count
        function, file = parsed[-1]
        by_package[_package(file)] += count
        by_function[f"{function} ({Path(file).name})"] += count
        for package in {_package(each_file) for _, each_file in parsed}:
            inclusive[package] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "package: self % / inclusive %"]
    for package, count in by_package.most_common():
        lines.append(
            f"  {package:24} {100 * count / total:5.1f} / {100 * inclusive[package] / total:5.1f}"
        )
    lines.append("hottest functions (self %)")
    for function, count in by_function.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}  {function}")
    return "\n".join(lines)


def _record(pid: int, seconds: float, out: Path, fmt: str) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: `pip install py-spy`.")
    command = [spy, "record", "--pid", str(pid), "--rate", "250", "--nonblocking"]
    command += ["--duration", f"{seconds:.0f}", "--format", fmt, "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["S2", "S3"], metavar="S2")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--orders-per-user", type=int, default=5)
    args = parser.parse_args()
    out = ROOT / "bench" / "results" / f"profile-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    out.mkdir(parents=True)
    logs = Path(tempfile.mkdtemp(prefix="bench-profile-logs-"))
    env = bring_up(
        logs=logs,
        users=args.users,
        orders_per_user=args.orders_per_user,
        peers=False,
        auth=False,
        bare=False,
    )
    try:
        assert env.users is not None  # bring_up starts both services
        assert env.orders is not None
        targets = {"gateway": env.gateways["ours"], "users": env.users, "orders": env.orders}
        for scenario in scenarios(env):
            if scenario.key not in args.only:
                continue
            request = scenario.targets["ours"]
            for connections in args.connections:
                wrk.run(request, connections=connections, seconds=3)  # warm-up
                name = f"{scenario.key}-c{connections}"
                spies = []
                for label, proc in targets.items():
                    pid = proc.tree()[-1].pid  # the worker (the process itself with one)
                    base = out / f"{name}-{label}"
                    spies.append(
                        (label, base, _record(pid, args.seconds, base.with_suffix(".txt"), "raw"))
                    )
                    spies.append(
                        (
                            label,
                            base,
                            _record(pid, args.seconds, base.with_suffix(".svg"), "flamegraph"),
                        )
                    )
                time.sleep(0.5)
                cpu_before = {label: proc.cpu_seconds() for label, proc in targets.items()}
                result = wrk.run(request, connections=connections, seconds=args.seconds - 1)
                cpu = {
                    label: proc.cpu_seconds() - cpu_before[label] for label, proc in targets.items()
                }
                for _, _, spy in spies:
                    spy.wait(args.seconds + 30)
                requests = max(result["requests"], 1)
                print(
                    f"\n## {name}: {result['rps']:.1f} req/s, p50 {result.get('p50_ms', 0):.2f} ms"
                )
                for label in targets:
                    per_request = 1000 * cpu[label] / requests
                    print(f"\n### {label}: {per_request:.2f} ms CPU per request")
                    print(summarise(out / f"{name}-{label}.txt"))
    finally:
        env.stack.close()
        shutil.rmtree(logs, ignore_errors=True)
    print(f"\nFlame graphs in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
