"""Run wrk with our Lua script and read its one-line JSON result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.scenarios import Request

LUA = Path(__file__).resolve().parent / "lua" / "request.lua"


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (Debian/Ubuntu).")
    return path


def run(request: Request, *, connections: int, seconds: float) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as body:
        body.write(request.body or "")
    try:
        env = {
            **os.environ,
            "BENCH_METHOD": request.method,
            "BENCH_BODY_FILE": body.name if request.body else "",
            "BENCH_STATUS": str(request.status),
            "BENCH_EXPECT": request.expect,
            "BENCH_REJECT": request.reject,
            "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in request.headers),
        }
        command = [
            require_wrk(),
            "-t",
            str(min(connections, 2)),
            "-c",
            str(connections),
            "-d",
            f"{max(seconds, 1):.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            request.url,
        ]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(body.name)
    for line in output.splitlines():
        if line.startswith("bench_result "):
            result = json.loads(line.removeprefix("bench_result "))
            result["rps"] = result["requests"] / result["duration_s"] if result["duration_s"] else 0
            return result
    raise RuntimeError(f"wrk printed no result:\n{output}")
