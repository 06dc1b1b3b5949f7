"""Processes under measurement: start, wait for health, read CPU time and peak memory."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path
    peak_rss: int = field(default=0)

    def tree(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.popen.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def sample_rss(self) -> int:
        rss = 0
        for proc in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                rss += proc.memory_info().rss
        self.peak_rss = max(self.peak_rss, rss)
        return rss

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


def start(
    name: str,
    command: list[str],
    *,
    env: dict[str, str],
    url: str,
    health_path: str,
    logs: Path,
    cwd: Path = ROOT,
    timeout: float = 120.0,
) -> Proc:
    log = logs / f"{name}.log"
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            command,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own group: stopping it stops its workers too
        )
    proc = Proc(name, url, popen, log)
    try:
        _wait_healthy(proc, health_path, timeout)
    except BaseException:
        # Not yet the caller's to stop (a timeout, Ctrl-C while it starts): stopped here.
        proc.stop()
        raise
    return proc


def _wait_healthy(proc: Proc, health_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log}")
        try:
            if httpx.get(proc.url + health_path, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise TimeoutError(
        f"{proc.name} did not answer {proc.url}{health_path} in {timeout}s; see {proc.log}"
    )


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]
