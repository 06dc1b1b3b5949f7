"""Run the whole system: PostgreSQL (embedded unless URLs are given), both services, the gateway.

    python -m stack            # what `make run` does
    python -m stack --seed     # and load demo data once everything is healthy

The environment reaches every process as it is (GATEWAY_AUTH, GATEWAY_JWT_SECRET, …).
With USERS_ADMIN_EMAIL and USERS_ADMIN_PASSWORD set, the users database gets its first
administrator (as `python -m service_users.init_db` does), and `--seed` logs in as it
when GATEWAY_AUTH=on.

Ctrl-C (or SIGTERM) stops everything, the embedded PostgreSQL included.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from apicore.db import init_database
from apicore.embedded import (
    forget_dead_handles,
    running_server_pid,
    server_url,
    start_embedded,
    stop_embedded,
)
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

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("stack")


# Ctrl-C, `kill`, and the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(Exception):
    """A signal asked us to stop."""


def _on_signal(signum: int, _: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _database_urls(data_dir: Path, output: Output) -> tuple[str, str, object | None]:
    users = os.environ.get("USERS_DATABASE_URL")
    orders = os.environ.get("ORDERS_DATABASE_URL")
    if users and orders:
        output.say("Using the databases of USERS_DATABASE_URL and ORDERS_DATABASE_URL")
        return users, orders, None
    pgdata = data_dir / "postgres"
    first = "" if (pgdata / "PG_VERSION").exists() else ": first run, creating it (~10 s)"
    output.say(f"Starting embedded PostgreSQL (data in {data_dir}){first}")
    # We hold the data directory's lock: no other `make run` uses this server.
    leftover = running_server_pid(pgdata)
    if leftover is not None:
        output.say(
            f"Found its server still running from an earlier run (pid {leftover}): reusing it"
        )
    forget_dead_handles(pgdata)
    handle = start_embedded(pgdata, keep_data=True)
    base = make_url(server_url(handle))
    return (
        base.set(database="users").render_as_string(hide_password=False),
        base.set(database="orders").render_as_string(hide_password=False),
        handle,
    )


def _children(users_db: str, orders_db: str, ports: list[Port], output: Output) -> list[Child]:
    env = os.environ
    port = {p.name: p for p in ports}
    users, orders, gateway = (local_url(p.host, p.number) for p in ports)
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
            {"ORDERS_DATABASE_URL": orders_db, "ORDERS_PORT": str(port["orders"].number)},
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
    """Check that nothing of ours runs already, then start everything (see `_serve`)."""
    try:
        ports = ports_from(os.environ)
        admin = _first_admin()
        if reset_admin and admin is None:
            raise Refused(f"{RESET_FLAG} needs {ADMIN_EMAIL_VAR} and {ADMIN_PASSWORD_VAR}")
        seed_login = _seed_login() if seed else None
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = InstanceLock(data_dir)
        gateway = next(port for port in ports if port.name == "gateway")
        lock.acquire(local_url(gateway.host, gateway.number))
    except Refused as refused:
        print(refused, file=sys.stderr, flush=True)
        return 1
    try:
        check_ports(ports)
    except Refused as refused:
        print(refused, file=sys.stderr, flush=True)
        lock.release()
        return 1
    output = Output(data_dir / "run.log")
    try:
        return _serve(
            output,
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
    *,
    data_dir: Path,
    ports: list[Port],
    admin: FirstAdmin | None,
    seed_login: AdminLogin | None,
    reset_admin: bool = False,
) -> int:
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)
    output.capture_logging()
    children: list[Child] = []
    handle = None
    try:
        users_db, orders_db, handle = _database_urls(data_dir, output)
        output.say("Migrating the users and orders databases")
        for package, url in (("service_users", users_db), ("service_orders", orders_db)):
            init_database(ROOT / package, url)
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
            child.start()
            wait_healthy(child, timeout=60)
        gateway = children[-1].health_url.removesuffix("/health")
        if seed_login is not None:
            from stack.seed import seed as load_demo_data

            load_demo_data(gateway, seed_login)
        output.say(_banner(gateway))
        while True:
            for child in children:
                code = child.exited()
                if code is not None:
                    output.say(f"\n{child.name} exited with code {code}; stopping.")
                    output.say(f"The whole log: {output.log_path}")
                    return 1
            time.sleep(0.5)
    except Stop as stop:
        output.say(f"\n{stop}: stopping…")
        return 0
    except ChildFailed as exc:  # its own output, just above, says why
        output.say(f"\nCould not start: {exc}. The whole log: {output.log_path}")
        return 1
    except SeedError as exc:
        output.say(f"\nCould not seed: {exc}")
        return 1
    except Exception as exc:
        logger.exception("Could not start")
        what = f"{exc.cmd[0]} failed" if isinstance(exc, subprocess.CalledProcessError) else exc
        output.say(f"\nCould not start: {what}")
        output.say(f"The whole log: {output.log_path}; its last lines:\n{output.tail()}")
        return 1
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        stop_all(children)
        if handle is not None:
            stopped = stop_embedded(handle)
            output.say(
                "Embedded PostgreSQL stopped."
                if stopped
                else "Embedded PostgreSQL left running: another process holds it."
            )


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
