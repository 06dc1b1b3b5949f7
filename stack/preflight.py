"""Before anything starts: is this data directory, or one of our ports, already in use?

A second `make run` must not start half a system whose health probes reach the first
one, nor stop a PostgreSQL it did not start: it finds out first and says so.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import fasteners

DEFAULT_HOST = "127.0.0.1"


class Refused(Exception):
    """The system cannot start here as it is; the message says why and what to do."""


@dataclass(frozen=True)
class Port:
    name: str  # the process: users, orders, gateway
    variable: str  # the setting that moves it: USERS_PORT, …
    host: str
    number: int


def ports_from(env: Mapping[str, str]) -> list[Port]:
    """Where the three processes will listen (as their settings read it), in start order."""
    defaults = {"users": 8001, "orders": 8002, "gateway": 8000}  # the order they start in
    ports = []
    for name, default in defaults.items():
        prefix = name.upper()
        variable = f"{prefix}_PORT"
        raw = env.get(variable, str(default))
        try:
            number = int(raw)
        except ValueError:
            raise Refused(f"{variable}={raw!r} is not a port number.") from None
        ports.append(Port(name, variable, env.get(f"{prefix}_HOST", DEFAULT_HOST), number))
    return ports


def is_taken(host: str, number: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn binds: a port whose last connections are in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, number))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise Refused(f"Cannot listen on {host}:{number}: {exc.strerror}.") from None
    return False


def _free_neighbour(port: Port, avoid: set[int]) -> int | None:
    for number in range(port.number + 10, port.number + 110, 10):
        if number not in avoid and number < 65536 and not is_taken(port.host, number):
            return number
    return None


def check_ports(ports: list[Port]) -> None:
    """Refuse, naming each port that is taken and the variable that moves it."""
    numbers = [port.number for port in ports]
    for port in ports:
        if numbers.count(port.number) > 1:
            same = ", ".join(p.variable for p in ports if p.number == port.number)
            raise Refused(f"{same} are all {port.number}: each process needs its own port.")
    problems = []
    for port in ports:
        if is_taken(port.host, port.number):
            instead = _free_neighbour(port, set(numbers))
            example = f", e.g. `{port.variable}={instead} make run`" if instead else ""
            problems.append(
                f"Port {port.number} ({port.name}) is already in use on {port.host}: "
                f"stop what listens there, or set {port.variable} to another port{example}."
            )
    if problems:
        raise Refused("\n".join(problems))


class InstanceLock:
    """One `make run` per data directory, held for as long as it runs.

    An OS file lock (fasteners): it goes away with the process that holds it, however
    that process ends, so a killed run never leaves a stale lock behind. Next to it, a
    small file says who holds it, for the message the next run prints.
    """

    @staticmethod
    def exists(data_dir: Path) -> bool:
        """Whether a run has used `data_dir` (only then can one be running there now)."""
        return (data_dir / "run.lock").exists()

    @classmethod
    def take(cls, data_dir: Path, gateway_url: str) -> InstanceLock:
        """The lock, held; or Refused, saying who holds it."""
        lock = cls(data_dir)
        lock.acquire(gateway_url)
        return lock

    def __init__(self, data_dir: Path) -> None:
        self._lock = fasteners.InterProcessLock(str(data_dir / "run.lock"))
        self._owner = data_dir / "run.owner.json"

    def acquire(self, gateway_url: str) -> None:
        if not self._lock.acquire(blocking=False):
            raise Refused(f"Already running: {self._describe_owner()}")
        self._owner.write_text(json.dumps({"pid": os.getpid(), "gateway": gateway_url}))

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self._owner.unlink()
        self._lock.release()

    def _describe_owner(self) -> str:
        try:
            owner = json.loads(self._owner.read_text())
            who = f"`make run` (pid {owner['pid']}, gateway {owner['gateway']})"
        except (OSError, ValueError, KeyError, TypeError):
            who = "another `make run`"
        return (
            f"{who} uses the data directory {self._owner.parent}. "
            "Stop it first (Ctrl-C in its terminal), or give this one another data directory:"
            " `make run RUN_ARGS=--data-dir=<dir>` (`python -m stack --data-dir <dir>`)."
        )
