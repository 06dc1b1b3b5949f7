"""Child processes with name-prefixed output, started and stopped as a group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from stack.output import Output

COLORS = {"users": "\033[36m", "orders": "\033[35m", "gateway": "\033[32m"}
RESET = "\033[0m"


class ChildFailed(RuntimeError):
    """A child exited or never became healthy while starting (its output says why)."""


@dataclass
class Child:
    name: str
    module: str
    env: dict[str, str]
    health_url: str
    output: Output
    process: subprocess.Popen[bytes] | None = None
    _pump: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Our own group: the terminal's Ctrl-C reaches us, and we stop children in order.
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._prefix_output, daemon=True)
        self._pump.start()

    def _prefix_output(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        color = COLORS.get(self.name, "") if sys.stdout.isatty() else ""
        reset = RESET if color else ""
        prefix = f"{color}{self.name:>8} |{reset} ".encode()
        plain = f"{self.name:>8} | ".encode()
        for line in self.process.stdout:
            self.output.relay(prefix, plain, line)

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._pump is not None:
            self._pump.join(timeout=1)


def wait_healthy(
    child: Child, timeout: float, should_stop: Callable[[], None] = lambda: None
) -> None:
    """Until `child` answers its health URL; `should_stop` raises to give up sooner."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        should_stop()
        code = child.exited()
        if code is not None:
            raise ChildFailed(f"{child.name} exited with code {code} while starting")
        try:
            if httpx.get(child.health_url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise ChildFailed(f"{child.name} did not answer {child.health_url} within {timeout:.0f}s")


def stop_all(children: Iterable[Child], grace: float = 8.0) -> None:
    children = list(children)
    for child in reversed(children):
        child.terminate()
    deadline = time.monotonic() + grace
    for child in reversed(children):
        child.wait(deadline)
