"""Database bootstrap shared by both services: URLs, engines, create + migrate."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger("apicore.db")

# Constraint names that migrations can rely on.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def sqlalchemy_url(url: str) -> URL:
    """Accept `postgresql://…` and `postgresql+psycopg://…` alike."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg"}:
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"Unsupported database URL scheme: {parsed.drivername}")


def libpq_url(url: str | URL) -> str:
    """The same URL as psycopg's own connect() understands it."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def compact_json(value: object) -> str:
    return orjson.dumps(value).decode()


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads, in autocommit: a read is then one round trip to the
    database, where a transaction makes it three (psycopg sends BEGIN on its own before
    the first statement, and the pool sends ROLLBACK when the connection comes back).
    Nothing is lost: under READ COMMITTED (PostgreSQL's default, which the services keep)
    each statement has its own snapshot anyway. A server whose default were REPEATABLE
    READ would have seen a page and its count in one snapshot, and no longer would.
    The pool puts the connection back out of autocommit (no round trip either)."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        # Timestamps leave the database in UTC, so their offset is always +00:00.
        connect_args={"options": "-c timezone=UTC"},
        # `json` columns keep their text and are served as it is (apicore.sqljson).
        json_serializer=compact_json,
    )


def wait_for_server(url: str, *, timeout: float = 60.0) -> None:
    """Retry with backoff until PostgreSQL accepts connections (containers start first)."""
    maintenance = libpq_url(make_url(url).set(database="postgres"))
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            with psycopg.connect(maintenance, connect_timeout=5):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"PostgreSQL did not accept connections in {timeout}s") from exc
            logger.info("Waiting for PostgreSQL (%s); retrying in %.1fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def create_database(url: str) -> bool:
    """Create the URL's database if it is missing. True when it was created."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ValueError("The database URL names no database")
    maintenance = libpq_url(target.set(database="postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False  # created concurrently by another process
    logger.info("Created database %s", name)
    return True


def drop_database(url: str) -> None:
    target = make_url(url)
    maintenance = libpq_url(target.set(database="postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(target.database or "")
            )
        )


# Alembic is imported only where it migrates: a serving process never needs it (importing
# it costs ~0.1 s and logs a line per plugin it sets up).
def alembic_config(package_dir: Path, url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(package_dir / "alembic"))
    config.attributes["database_url"] = url
    return config


def upgrade(package_dir: Path, url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(package_dir, url), revision)


def downgrade(package_dir: Path, url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(package_dir, url), revision)


def init_database(package_dir: Path, url: str, *, timeout: float = 60.0) -> None:
    """Wait for the server, create the database if missing, migrate to head. Idempotent."""
    wait_for_server(url, timeout=timeout)
    create_database(url)
    upgrade(package_dir, url)
