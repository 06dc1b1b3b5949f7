"""What docs/development.md says `make run` does when it cannot start: the message, the exit code,
and that it touched nothing.

A taken port and a second run on the same data directory, through `make run` (exit 2,
make's own code for a failed recipe) and `python -m stack` (exit 1). The data directory
is neither created nor changed.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stack.preflight import InstanceLock
from tests.support.procs import ROOT, free_port

pytestmark = pytest.mark.slow  # `python -m stack`, per test

RUNNING = (Path(ROOT) / "docs" / "development.md").read_text(encoding="utf-8")
VENV = Path(sys.prefix)


def _env(ports: list[int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "USERS_"))}
    env = {k: v for k, v in env.items() if not k.startswith("ORDERS_")}
    env.update(GATEWAY_PORT=str(ports[0]), USERS_PORT=str(ports[1]), ORDERS_PORT=str(ports[2]))
    return env


Runner = Callable[[Path, list[int]], subprocess.CompletedProcess[str]]


def _make_run(data_dir: Path, ports: list[int]) -> subprocess.CompletedProcess[str]:
    # This interpreter's virtualenv, taken as installed (-o): nothing is reinstalled.
    command = ["make", "-s", "-o", str(VENV / ".installed-stamp"), f"VENV={VENV}", "run"]
    return subprocess.run(
        [*command, f"RUN_ARGS=--data-dir={data_dir}"],
        cwd=ROOT,
        env=_env(ports),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _stack(data_dir: Path, ports: list[int]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=_env(ports),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _snapshot(path: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*")
    }


@pytest.fixture
def taken_gateway_port() -> Iterator[list[int]]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield [holder.getsockname()[1], free_port(), free_port()]


def test_the_docs_state_the_exit_codes() -> None:
    assert "`python -m stack`, exits 1" in RUNNING
    assert "exits 2 (make's own code for a failed recipe)" in RUNNING
    assert "`make run RUN_ARGS=--data-dir=<dir>`" in RUNNING
    assert "prints one line" in RUNNING  # tests/stack/test_stop.py checks that line
    assert "and exits 0" in RUNNING


@pytest.mark.parametrize(("runner", "code"), [(_make_run, 2), (_stack, 1)], ids=["make", "stack"])
def test_a_taken_port_is_named_and_nothing_is_touched(
    tmp_path: Path, taken_gateway_port: list[int], runner: Runner, code: int
) -> None:
    data_dir = tmp_path / "data"
    done = runner(data_dir, taken_gateway_port)
    assert done.returncode == code, done.stderr
    port = taken_gateway_port[0]
    assert f"Port {port} (gateway) is already in use on 127.0.0.1" in done.stderr
    assert re.search(r"`GATEWAY_PORT=\d+ make run`", done.stderr), done.stderr
    assert "Traceback" not in done.stderr
    assert not data_dir.exists()  # not even created


@pytest.mark.parametrize(("runner", "code"), [(_make_run, 2), (_stack, 1)], ids=["make", "stack"])
def test_a_second_run_on_the_same_data_is_refused(
    tmp_path: Path, runner: Runner, code: int
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    first = InstanceLock.take(data_dir, "http://127.0.0.1:8000")  # as the first run holds it
    try:
        before = _snapshot(data_dir)
        done = runner(data_dir, [free_port(), free_port(), free_port()])
        assert done.returncode == code, done.stderr
        assert "Already running: `make run` (pid" in done.stderr
        assert f"uses the data directory {data_dir}" in done.stderr
        assert "`make run RUN_ARGS=--data-dir=<dir>`" in done.stderr
        assert "Traceback" not in done.stderr
        assert _snapshot(data_dir) == before
    finally:
        first.release()
