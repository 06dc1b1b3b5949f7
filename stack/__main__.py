"""Run the whole system: PostgreSQL (embedded unless URLs are given), both services, the gateway.

    python -m stack            # what `make run` does
    python -m stack --seed     # and load demo data once everything is healthy

The environment reaches every process as it is (GATEWAY_AUTH, GATEWAY_JWT_SECRET, …).
With USERS_ADMIN_EMAIL and USERS_ADMIN_PASSWORD set, the users database gets its first
administrator (as `python -m service_users.init_db` does), and `--seed` logs in as it
when GATEWAY_AUTH=on.

Ctrl-C (or SIGTERM, SIGHUP; once or many times, at any moment) stops everything, the
embedded PostgreSQL included, prints one line and exits 0. Refused to start (a port in
use, another run on the data directory, bad settings) or failed: exit 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from apicore.db import init_database
from service_users.config import Settings as UsersSettings
from service_users.init_db import (
    RESET_FLAG,
    AdminSettingsError,
    FirstAdmin,
    admin_report,
    ensure_admin,
    first_admin,
    reset_admin_password,
)
from stack.output import Output
from stack.preflight import InstanceLock, Port, Refused, check_ports, ports_from
from stack.processes import Child, ChildFailed, stop_all, wait_healthy
from stack.seed import ADMIN_EMAIL_VAR, ADMIN_PASSWORD_VAR, AdminLogin, SeedError, local_url
from tools.embedded import (
    forget_dead_handles,
    running_server_pid,
    server_url,
    start_embedded,
    stop_embedded,
    stop_server,
)

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("stack")


# Ctrl-C, `kill`, and the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_SECONDS = 0.2


class Stop(Exception):
    """A signal asked us to stop (raised by `Stopper.check`, never by a signal handler)."""


class Stopper:
    """What the stop signals do: note the first one, and nothing else.

    The handler never raises: an exception thrown from a signal handler lands wherever
    the main thread happens to be, between a `Popen` and the line that keeps its pid, or
    inside the `finally` that stops everything (a second SIGTERM, as `make` forwards the
    one it gets, did exactly that and left the children running). Instead every wait of
    start-up and serving polls `check()`, which raises `Stop` at a point where nothing is
    half done; a blocking step (initdb, the migrations) finishes first (they are killed
    with us when the signal goes to the whole process group, as from a terminal).
    """

    def __init__(self) -> None:
        self.signal: str | None = None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._note)

    def _note(self, signum: int, _: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def check(self) -> None:
        if self.signal is not None:
            raise Stop(self.signal)

    def sleep(self, seconds: float) -> None:
        """Wait, but no longer than until a stop is asked for (then raise Stop)."""
        deadline = time.monotonic() + seconds
        while True:
            self.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, POLL_SECONDS))


class EmbeddedServer:
    """This run's embedded PostgreSQL: stopped at the end, even if its start was cut short."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.handle: object | None = None
        self.started = False  # from the moment we start it, a server on pgdata is ours

    def start(self) -> str:
        self.started = True
        forget_dead_handles(self.pgdata)
        self.handle = start_embedded(self.pgdata, keep_data=True)
        return server_url(self.handle)

    def stop(self) -> bool:
        """True once no server runs on pgdata; False if another process holds it."""
        if self.handle is not None:
            try:
                return stop_embedded(self.handle)
            except Exception:  # pg_ctl failed (the server went with the group's signal?)
                logger.exception("Stopping the embedded PostgreSQL")
        return stop_server(self.pgdata)


def _database_urls(data_dir: Path, output: Output, embedded: EmbeddedServer) -> tuple[str, str]:
    users = os.environ.get("USERS_DATABASE_URL")
    orders = os.environ.get("ORDERS_DATABASE_URL")
    if users and orders:
        output.say("Using the databases of USERS_DATABASE_URL and ORDERS_DATABASE_URL")
        return users, orders
    pgdata = embedded.pgdata
    first = "" if (pgdata / "PG_VERSION").exists() else ": first run, creating it (~10 s)"
    output.say(f"Starting embedded PostgreSQL (data in {data_dir}){first}")
    # We hold the data directory's lock: no other `make run` uses this server.
    leftover = running_server_pid(pgdata)
    if leftover is not None:
        output.say(
            f"Found its server still running from an earlier run (pid {leftover}): reusing it"
        )
    base = make_url(embedded.start())
    return (
        base.set(database="users").render_as_string(hide_password=False),
        base.set(database="orders").render_as_string(hide_password=False),
    )


def _children(users_db: str, orders_db: str, ports: list[Port], output: Output) -> list[Child]:
    env = os.environ
    port = {p.name: p for p in ports}
    users, orders, gateway = (local_url(p.host, p.number) for p in ports)
    # The gateway names the acting user to the orders service with a token they share
    # (service_orders/acting.py): one of the environment's, else a fresh one per run.
    token = env.get("GATEWAY_SERVICE_TOKEN") or secrets.token_urlsafe(32)
    return [
        Child(
            "users",
            "service_users",
            {"USERS_DATABASE_URL": users_db, "USERS_PORT": str(port["users"].number)},
            f"{users}/health",
            output,
        ),
        Child(
            "orders",
            "service_orders",
            {
                "ORDERS_DATABASE_URL": orders_db,
                "ORDERS_PORT": str(port["orders"].number),
                "ORDERS_GATEWAY_TOKEN": token,
            },
            f"{orders}/health",
            output,
        ),
        Child(
            "gateway",
            "graphql_gateway",
            {
                "GATEWAY_PORT": str(port["gateway"].number),
                "GATEWAY_USERS_URL": env.get("GATEWAY_USERS_URL", users),
                "GATEWAY_ORDERS_URL": env.get("GATEWAY_ORDERS_URL", orders),
                "GATEWAY_SERVICE_TOKEN": token,
            },
            f"{gateway}/health",
            output,
        ),
    ]


def _auth_on() -> bool:
    return os.environ.get("GATEWAY_AUTH", "off") == "on"


def _banner(base: str) -> str:
    login = (
        f"  Log in        POST {base}/auth/login (or the `login` mutation); then send\n"
        "                Authorization: Bearer <access_token>\n"
        if _auth_on()
        else ""
    )
    return (
        "\nAll up. Try:\n"
        f"  GraphiQL      {base}/graphql   (open in a browser)\n"
        f"  REST          {base}/users   {base}/orders\n"
        f"  Health        {base}/health\n"
        f"{login}"
        "Ctrl-C stops everything."
    )


def _first_admin() -> FirstAdmin | None:
    """The administrator USERS_ADMIN_* ask for (checked before anything starts)."""
    try:
        return first_admin(UsersSettings())
    except AdminSettingsError as exc:
        raise Refused(f"{exc}.") from None
    except ValidationError as exc:  # names and reasons only: values may be secrets
        problems = "; ".join(
            f"USERS_{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise Refused(f"Invalid users settings: {problems}.") from None


def _seed_login() -> AdminLogin:
    """With auth on, `--seed` logs in as the administrator: refuse early if it cannot."""
    login = AdminLogin.from_env(os.environ)
    if _auth_on() and not login.complete:
        raise Refused(
            f"--seed with GATEWAY_AUTH=on needs {ADMIN_EMAIL_VAR} and {ADMIN_PASSWORD_VAR}:"
            " the first administrator, whom the seed logs in as to create the demo accounts."
        )
    return login


def run(*, data_dir: Path, seed: bool, reset_admin: bool = False) -> int:
    """Check that nothing of ours runs already, then start everything (see `_serve`).

    The checks touch nothing: the data directory and its lock are made only once the
    ports are known to be free. Exit codes: 0 after a stop by signal, 1 when refused or
    when something failed (`make run` reports that 1 as make's own 2).
    """
    stopper = Stopper()
    stopper.install()
    lock: InstanceLock | None = None
    try:
        ports = ports_from(os.environ)
        admin = _first_admin()
        if reset_admin and admin is None:
            raise Refused(f"{RESET_FLAG} needs {ADMIN_EMAIL_VAR} and {ADMIN_PASSWORD_VAR}")
        seed_login = _seed_login() if seed else None
        gateway = next(port for port in ports if port.name == "gateway")
        owner = local_url(gateway.host, gateway.number)
        if InstanceLock.exists(data_dir):  # a run here before: is it still running?
            lock = InstanceLock.take(data_dir, owner)
        check_ports(ports)
        stopper.check()
        if lock is None:
            data_dir.mkdir(parents=True, exist_ok=True)
            lock = InstanceLock.take(data_dir, owner)
    except Refused as refused:
        if lock is not None:
            lock.release()
        print(refused, file=sys.stderr, flush=True)
        return 1
    except Stop as stop:  # before anything started: nothing to stop
        if lock is not None:
            lock.release()
        print(f"{stop}: stopped before anything started.", flush=True)
        return 0
    output = Output(data_dir / "run.log")
    try:
        return _serve(
            output,
            stopper,
            data_dir=data_dir,
            ports=ports,
            admin=admin,
            seed_login=seed_login,
            reset_admin=reset_admin,
        )
    finally:
        output.close()
        lock.release()


def _serve(
    output: Output,
    stopper: Stopper,
    *,
    data_dir: Path,
    ports: list[Port],
    admin: FirstAdmin | None,
    seed_login: AdminLogin | None,
    reset_admin: bool = False,
) -> int:
    output.capture_logging()
    children: list[Child] = []
    embedded = EmbeddedServer(data_dir / "postgres")
    outcome: str | None = None  # the line a stop by signal ends with
    code = 1
    try:
        stopper.check()
        users_db, orders_db = _database_urls(data_dir, output, embedded)
        stopper.check()
        output.say("Migrating the users and orders databases")
        for package, url in (("service_users", users_db), ("service_orders", orders_db)):
            init_database(ROOT / package, url)
            stopper.check()
        if admin is not None and reset_admin:
            output.say(reset_admin_password(users_db, admin))
        elif admin is not None:
            created = ensure_admin(users_db, admin)
            report = None if created else admin_report(users_db, admin)
            state = (
                "created"
                if created
                else f"exists, its password is {ADMIN_PASSWORD_VAR}; left unchanged"
                if report is None
                else f"exists, left unchanged.\n{report}"
            )
            output.say(f"First administrator {admin.email} ({ADMIN_EMAIL_VAR}): {state}")
        elif _auth_on():
            output.say(
                f"GATEWAY_AUTH=on and no {ADMIN_EMAIL_VAR}/{ADMIN_PASSWORD_VAR}: only accounts"
                " that already have a password can log in"
            )
        children = _children(users_db, orders_db, ports, output)
        output.say("Starting users, orders and the gateway; each line of theirs is prefixed")
        for child in children:
            stopper.check()
            child.start()
            wait_healthy(child, timeout=60, should_stop=stopper.check)
        gateway = children[-1].health_url.removesuffix("/health")
        if seed_login is not None:
            from stack.seed import seed as load_demo_data

            load_demo_data(gateway, seed_login)
            stopper.check()
        output.say(_banner(gateway))
        while True:
            for child in children:
                exit_code = child.exited()
                if exit_code is not None:
                    stopper.check()  # it may have gone because of the same Ctrl-C
                    output.say(f"\n{child.name} exited with code {exit_code}; stopping.")
                    output.say(f"The whole log: {output.log_path}")
                    return 1
            stopper.sleep(0.5)
    except Stop as stop:
        outcome, code = str(stop), 0
    except Exception as exc:
        if stopper.requested:  # a step killed by the same signal (sent to our whole group)
            logger.info("Stopping: %s", exc)
            outcome, code = str(stopper.signal), 0
        elif isinstance(exc, ChildFailed):  # its own output, just above, says why
            output.say(f"\nCould not start: {exc}. The whole log: {output.log_path}")
        elif isinstance(exc, SeedError):
            output.say(f"\nCould not seed: {exc}")
        else:
            logger.exception("Could not start")
            what = f"{exc.cmd[0]} failed" if isinstance(exc, subprocess.CalledProcessError) else exc
            output.say(f"\nCould not start: {what}")
            output.say(f"The whole log: {output.log_path}; its last lines:\n{output.tail()}")
        return code
    finally:
        # No signal can interrupt this: the handler only notes it (Stopper).
        output.quiet_children = outcome is not None
        stopped = _stop_everything(children, embedded)
        if outcome is not None:
            output.say(f"\n{outcome}: {stopped}")
    return code


def _stop_everything(children: list[Child], embedded: EmbeddedServer) -> str:
    """Stop the children, then our PostgreSQL; what was stopped, as the last line says it."""
    started = [child.name for child in children if child.process is not None]
    stop_all(children)
    names = {"users": "users", "orders": "orders", "gateway": "the gateway"}
    parts = [names.get(name, name) for name in started]
    if embedded.started:
        if embedded.stop():
            parts.append("the embedded PostgreSQL")
        else:
            return (
                f"stopped {_listed(parts) or 'nothing else'}; the embedded PostgreSQL is left"
                " running: another process holds it."
            )
    return f"stopped {_listed(parts)}." if parts else "stopped; nothing had started yet."


def _listed(parts: list[str]) -> str:
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", action="store_true", help="load demo data once healthy")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data")
    parser.add_argument(
        RESET_FLAG,
        action="store_true",
        help=f"give the existing administrator {ADMIN_PASSWORD_VAR} (its sessions end)",
    )
    args = parser.parse_args(argv)
    return run(
        data_dir=args.data_dir.resolve(), seed=args.seed, reset_admin=args.reset_admin_password
    )


if __name__ == "__main__":
    sys.exit(main())
