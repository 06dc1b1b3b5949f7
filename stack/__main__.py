"""Run the whole system: PostgreSQL (embedded unless URLs are given), both services, the gateway.

    python -m stack            # what `make run` does
    python -m stack --seed     # and load demo data once everything is healthy

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

from sqlalchemy.engine import make_url

from apicore.db import init_database
from apicore.embedded import server_url, start_embedded, stop_embedded
from stack.processes import Child, stop_all, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("stack")


# Ctrl-C, `kill`, and the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(Exception):
    """A signal asked us to stop."""


def _on_signal(signum: int, _: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _database_urls(data_dir: Path) -> tuple[str, str, object | None]:
    users = os.environ.get("USERS_DATABASE_URL")
    orders = os.environ.get("ORDERS_DATABASE_URL")
    if users and orders:
        return users, orders, None
    print(f"Starting embedded PostgreSQL (data in {data_dir})", flush=True)
    handle = start_embedded(data_dir / "postgres", keep_data=True)
    base = make_url(server_url(handle))
    return (
        base.set(database="users").render_as_string(hide_password=False),
        base.set(database="orders").render_as_string(hide_password=False),
        handle,
    )


def _children(users_db: str, orders_db: str) -> list[Child]:
    env = os.environ
    users_port = env.get("USERS_PORT", "8001")
    orders_port = env.get("ORDERS_PORT", "8002")
    gateway_port = env.get("GATEWAY_PORT", "8000")
    users_url = f"http://127.0.0.1:{users_port}"
    orders_url = f"http://127.0.0.1:{orders_port}"
    return [
        Child(
            "users",
            "service_users",
            {"USERS_DATABASE_URL": users_db, "USERS_PORT": users_port},
            f"{users_url}/health",
        ),
        Child(
            "orders",
            "service_orders",
            {"ORDERS_DATABASE_URL": orders_db, "ORDERS_PORT": orders_port},
            f"{orders_url}/health",
        ),
        Child(
            "gateway",
            "graphql_gateway",
            {
                "GATEWAY_PORT": gateway_port,
                "GATEWAY_USERS_URL": env.get("GATEWAY_USERS_URL", users_url),
                "GATEWAY_ORDERS_URL": env.get("GATEWAY_ORDERS_URL", orders_url),
            },
            f"http://127.0.0.1:{gateway_port}/health",
        ),
    ]


def _banner(gateway_port: str) -> str:
    base = f"http://127.0.0.1:{gateway_port}"
    return (
        "\nAll up. Try:\n"
        f"  GraphiQL      {base}/graphql   (open in a browser)\n"
        f"  REST          {base}/users   {base}/orders\n"
        f"  Health        {base}/health\n"
        "Ctrl-C stops everything.\n"
    )


def run(*, data_dir: Path, seed: bool) -> int:
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)
    children: list[Child] = []
    handle = None
    try:
        users_db, orders_db, handle = _database_urls(data_dir)
        for package, url in (("service_users", users_db), ("service_orders", orders_db)):
            init_database(ROOT / package, url)
        children = _children(users_db, orders_db)
        for child in children:
            child.start()
            wait_healthy(child, timeout=60)
        gateway = children[-1]
        if seed:
            from stack.seed import seed as load_demo_data

            load_demo_data(gateway.health_url.removesuffix("/health"))
        print(_banner(gateway.env["GATEWAY_PORT"]), flush=True)
        while True:
            for child in children:
                code = child.exited()
                if code is not None:
                    print(f"\n{child.name} exited with code {code}; stopping.", flush=True)
                    return 1
            time.sleep(0.5)
    except Stop as stop:
        print(f"\n{stop}: stopping…", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"\nCould not start: {exc}", flush=True)
        return 1
    except subprocess.CalledProcessError as exc:
        log = data_dir / "postgres" / "log"
        print(f"\nCould not start PostgreSQL ({exc.cmd[0]} failed); see {log}", flush=True)
        return 1
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        stop_all(children)
        if handle is not None:
            stop_embedded(handle)
            print("Embedded PostgreSQL stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", action="store_true", help="load demo data once healthy")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return run(data_dir=args.data_dir.resolve(), seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
