"""Fixtures shared by every test: a real PostgreSQL, migrated databases, the services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from graphql_gateway.app import create_app as create_gateway_app
from graphql_gateway.config import Settings as GatewaySettings
from service_orders import init_db as orders_init_db
from service_orders.app import create_app as create_orders_app
from service_orders.config import Settings as OrdersSettings
from service_users import init_db as users_init_db
from service_users.app import create_app as create_users_app
from service_users.config import Settings as UsersSettings
from tests.support.pg import migrated_database, postgres_server
from tests.support.procs import RunningProcess, running


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def users_db_url(pg_server: str) -> Iterator[str]:
    with migrated_database(pg_server, "test_users", users_init_db.main) as url:
        yield url


@pytest.fixture(scope="session")
def orders_db_url(pg_server: str) -> Iterator[str]:
    with migrated_database(pg_server, "test_orders", orders_init_db.main) as url:
        yield url


async def _truncate(app: FastAPI, table: str) -> None:
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")


@pytest.fixture(scope="session")
async def users_app(users_db_url: str) -> AsyncIterator[FastAPI]:
    app = create_users_app(UsersSettings(database_url=users_db_url, db_pool_size=5))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def orders_app(orders_db_url: str) -> AsyncIterator[FastAPI]:
    app = create_orders_app(OrdersSettings(database_url=orders_db_url, db_pool_size=5))
    async with app.router.lifespan_context(app):
        yield app


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def users_client(users_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The users service in process, on an empty users table."""
    await _truncate(users_app, "users")
    async with asgi_client(users_app) as client:
        yield client


@pytest.fixture
async def orders_client(orders_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The orders service in process, on an empty orders table."""
    await _truncate(orders_app, "orders")
    async with asgi_client(orders_app) as client:
        yield client


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def users_process(users_db_url: str, logs_dir: Path) -> Iterator[RunningProcess]:
    """The users service as a real process (`python -m service_users`)."""
    env = {"USERS_DATABASE_URL": users_db_url, "USERS_DB_POOL_SIZE": "5"}
    with running("service_users", "USERS_", env, log_path=str(logs_dir / "users.log")) as proc:
        yield proc


@pytest.fixture(scope="session")
def orders_process(orders_db_url: str, logs_dir: Path) -> Iterator[RunningProcess]:
    """The orders service as a real process (`python -m service_orders`)."""
    env = {"ORDERS_DATABASE_URL": orders_db_url, "ORDERS_DB_POOL_SIZE": "5"}
    with running("service_orders", "ORDERS_", env, log_path=str(logs_dir / "orders.log")) as proc:
        yield proc


@pytest.fixture(scope="module")
def gateway_process(
    users_process: RunningProcess,
    orders_process: RunningProcess,
    logs_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[RunningProcess]:
    """`python -m graphql_gateway` over both services, fresh (fresh breakers) per module."""
    env = {"GATEWAY_USERS_URL": users_process.url, "GATEWAY_ORDERS_URL": orders_process.url}
    module = request.module.__name__.rsplit(".", 1)[-1]
    log = str(logs_dir / f"gateway-{module}.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as proc:
        yield proc


@asynccontextmanager
async def gateway_for(
    users_url: str, orders_url: str, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """A fresh gateway in process (fresh breakers) over the given service URLs; `overrides`:
    any other GatewaySettings field (validated by it, as from the environment)."""
    settings = GatewaySettings(users_url=users_url, orders_url=orders_url, **overrides)
    app = create_gateway_app(settings)
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        yield client, app


@pytest.fixture
async def gateway(
    users_process: RunningProcess,
    orders_process: RunningProcess,
    users_app: FastAPI,
    orders_app: FastAPI,
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in process over both services as real processes, on empty tables."""
    await _truncate(users_app, "users")
    await _truncate(orders_app, "orders")
    async with gateway_for(users_process.url, orders_process.url) as (client, _):
        yield client


@pytest.fixture
async def gateway_app(
    users_process: RunningProcess,
    orders_process: RunningProcess,
    users_app: FastAPI,
    orders_app: FastAPI,
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """Like `gateway`, with the app too (its `state.clients` count downstream calls)."""
    await _truncate(users_app, "users")
    await _truncate(orders_app, "orders")
    async with gateway_for(users_process.url, orders_process.url) as pair:
        yield pair
