"""Both services as real processes over databases of their own (no other test truncates them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service_orders import init_db as orders_init_db
from service_users import init_db as users_init_db
from tests.support.pg import migrated_database
from tests.support.procs import RunningProcess, running


@contextmanager
def own_services(
    pg_server: str,
    logs_dir: Path,
    name: str,
    *,
    pool: int = 3,
    access_log: bool = True,
    gateway_token: str | None = None,
) -> Iterator[tuple[RunningProcess, RunningProcess]]:
    """(users, orders) on fresh `test_<name>_*` databases, dropped afterwards.

    `gateway_token`: the orders service trusts the acting user of requests carrying it."""
    acting = {"ORDERS_GATEWAY_TOKEN": gateway_token} if gateway_token else {}
    quiet = {} if access_log else {"ACCESS_LOG": "0"}
    with (
        migrated_database(pg_server, f"test_{name}_users", users_init_db.main) as users_db,
        migrated_database(pg_server, f"test_{name}_orders", orders_init_db.main) as orders_db,
        running(
            "service_users",
            "USERS_",
            {
                "USERS_DATABASE_URL": users_db,
                "USERS_DB_POOL_SIZE": str(pool),
                **{f"USERS_{k}": v for k, v in quiet.items()},
            },
            log_path=str(logs_dir / f"{name}-users.log"),
        ) as users,
        running(
            "service_orders",
            "ORDERS_",
            {
                "ORDERS_DATABASE_URL": orders_db,
                "ORDERS_DB_POOL_SIZE": str(pool),
                **{f"ORDERS_{k}": v for k, v in quiet.items()},
                **acting,
            },
            log_path=str(logs_dir / f"{name}-orders.log"),
        ) as orders,
    ):
        yield users, orders


@contextmanager
def own_gateway(
    pg_server: str, logs_dir: Path, name: str, **env: str
) -> Iterator[tuple[RunningProcess, RunningProcess, RunningProcess]]:
    """(gateway, users, orders): a gateway process over services of its own (`env` on top)."""
    with own_services(pg_server, logs_dir, name) as (users, orders):
        settings = {"GATEWAY_USERS_URL": users.url, "GATEWAY_ORDERS_URL": orders.url, **env}
        log = str(logs_dir / f"{name}-gateway.log")
        with running("graphql_gateway", "GATEWAY_", settings, log_path=log) as gateway:
            yield gateway, users, orders
