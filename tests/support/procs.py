"""Run a process of ours as a real OS process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each socket stays bound until all are, so the system
    cannot hand the same port out twice (as `free_port()` called in a row can)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


@dataclass
class RunningProcess:
    process: subprocess.Popen[bytes]
    url: str
    port: int
    env: dict[str, str] = field(default_factory=dict)  # what it was started with, ours only

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before answering /health")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy in {timeout}s")


def launch(
    module: str, env: dict[str, str], *, log_path: str | None = None
) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", module]
    if not log_path:
        return subprocess.Popen(command, env=full_env, cwd=ROOT, stdin=subprocess.DEVNULL)
    with open(log_path, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            command, env=full_env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )


@contextmanager
def running(
    module: str,
    env_prefix: str,
    env: dict[str, str],
    *,
    port: int | None = None,
    log_path: str | None = None,
) -> Iterator[RunningProcess]:
    """`python -m module` with `{env_prefix}HOST/PORT` set; stopped (SIGTERM) on exit."""
    port = port or free_port()
    env = {**env, f"{env_prefix}HOST": "127.0.0.1", f"{env_prefix}PORT": str(port)}
    process = launch(module, env, log_path=log_path)
    running_process = RunningProcess(process, f"http://127.0.0.1:{port}", port, env)
    try:
        wait_healthy(running_process.url, process)
        yield running_process
    finally:
        running_process.stop()
