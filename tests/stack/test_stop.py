"""`make run` stops whatever the signal and whenever it comes, and leaves nothing behind.

The runner (`python -m stack`) runs for real: the embedded PostgreSQL on a data directory
of this module's, the three processes on free ports. SIGTERM or SIGINT goes to it once,
or twice in a row (as `make` forwards the SIGTERM its process group got), at each step
of start-up and while serving; then nothing may be left: no process it started, no
PostgreSQL on its data directory, no listener on its ports, no lock on its data
directory. It exits 0 and says so in one line. Through `make run` the whole process group
gets the signal, as from a terminal.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from stack.preflight import InstanceLock, is_taken
from tests.support.procs import ROOT, free_port
from tools.embedded import running_server_pid

pytestmark = pytest.mark.slow  # `python -m stack` with its embedded PostgreSQL, per test

# The lines that mark each step, in the order they come.
STEPS = {
    "postgres": "Starting embedded PostgreSQL",
    "migrations": "Migrating the users and orders databases",
    "children": "Starting users, orders and the gateway",
    "first child up": "   users | ",
    "serving": "All up.",
}
START_TIMEOUT = 120
STOP_TIMEOUT = 60
STOPPED_LINE = re.compile(r"^SIG(TERM|INT): stopped")
CHILD_LINE = re.compile(r"^ *(users|orders|gateway) \| ")


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    ports: list[int]
    lines: list[str] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)  # every process that descended from it
    reader: threading.Thread | None = None

    def finish(self) -> None:
        """Once it exited: its last lines read, its pipe closed."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.reader is not None:
            self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def note_descendants(self) -> None:
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        self.seen.update(child.pid for child in children)

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not any(text in line for line in self.lines):
            self.note_descendants()
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "\n".join(self.lines)
            time.sleep(0.01)
        self.note_descendants()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("stack-stop") / "data"
    yield path
    # Whatever a failed case left, stopped here (not in a test: each case checks its own).
    pid = running_server_pid(path / "postgres")
    if pid is not None:
        os.kill(pid, signal.SIGINT)


def _start(command: list[str], data_dir: Path) -> Run:
    ports = [free_port() for _ in range(3)]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GATEWAY_", "USERS_", "ORDERS_"))
    }
    env.update(
        GATEWAY_PORT=str(ports[0]),
        USERS_PORT=str(ports[1]),
        ORDERS_PORT=str(ports[2]),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: `make`'s case signals the whole group
    )
    run = Run(process, ports)
    run.reader = threading.Thread(target=run.read, daemon=True)
    run.reader.start()
    return run


def _alive(pids: set[int]) -> list[str]:
    """Those of `pids` still running (a zombie has stopped: only its parent has not looked)."""
    alive = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(process.cmdline())}")
        except psutil.NoSuchProcess:
            pass
    return alive


def _nothing_left(run: Run, data_dir: Path) -> None:
    assert _alive(run.seen) == [], "processes left running"
    assert running_server_pid(data_dir / "postgres") is None, "PostgreSQL left running"
    assert [port for port in run.ports if is_taken("127.0.0.1", port)] == []
    assert not (data_dir / "run.owner.json").exists()
    lock = InstanceLock.take(data_dir, "http://check")  # Refused if anyone holds it
    lock.release()


def _signal(run: Run, signum: int, times: int, group: bool) -> None:
    for _ in range(times):
        if group:
            os.killpg(run.process.pid, signum)
        else:
            run.process.send_signal(signum)
        time.sleep(0.05)


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize(
    ("signum", "times"),
    [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2), (signal.SIGINT, 2)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-twice", "SIGINT-twice"],
)
def test_a_signal_at_any_step_stops_everything(
    data_dir: Path, step: str, signum: int, times: int
) -> None:
    run = _start([sys.executable, "-m", "stack", "--data-dir", str(data_dir)], data_dir)
    try:
        run.wait_for(STEPS[step])
        _signal(run, signum, times, group=False)
        code = run.process.wait(STOP_TIMEOUT)
    finally:
        run.finish()
    output = "\n".join(run.lines)
    assert code == 0, output
    assert "Traceback" not in output
    final = [line for line in run.lines if STOPPED_LINE.match(line)]
    assert len(final) == 1, output
    assert run.lines[-1] == final[0]
    name = signal.Signals(signum).name
    assert final[0].startswith(f"{name}: stopped"), output
    if step == "serving":  # after the banner, the one line is all it prints
        banner = max(i for i, line in enumerate(run.lines) if line.startswith("Ctrl-C stops"))
        # A child's line may still come (the gateway's access line of the last probe).
        runners = [line for line in run.lines[banner + 1 :] if not CHILD_LINE.match(line)]
        assert runners == ["", final[0]], output
        assert final[0] == (
            f"{name}: stopped users, orders, the gateway and the embedded PostgreSQL."
        )
    _nothing_left(run, data_dir)


@pytest.mark.parametrize("step", ["migrations", "serving"])
def test_make_run_stops_when_its_group_gets_sigterm(data_dir: Path, step: str) -> None:
    """As `setsid make run &` then `kill -TERM -- -<pgid>`: make and the runner both get it,
    and make forwards its own: two for the runner, and its steps' processes get one."""
    venv = Path(sys.prefix)
    stamp = venv / ".installed-stamp"
    command = ["make", "-s", "-o", str(stamp), f"VENV={venv}", "run"]
    run = _start([*command, f"RUN_ARGS=--data-dir={data_dir}"], data_dir)
    try:
        run.wait_for(STEPS[step])
        _signal(run, signal.SIGTERM, 1, group=True)
        run.process.wait(STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT  # make may go first: wait for the runner
        while _alive(run.seen) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        run.finish()
    output = "\n".join(run.lines)
    assert "Traceback" not in output
    assert [line for line in run.lines if STOPPED_LINE.match(line)] != [], output
    _nothing_left(run, data_dir)
