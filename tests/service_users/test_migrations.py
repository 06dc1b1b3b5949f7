"""Each service's Alembic chain: up, down, up again, and init_db run twice, on a fresh database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import make_url

from apicore.db import (
    alembic_config,
    create_database,
    downgrade,
    drop_database,
    libpq_url,
    sqlalchemy_url,
    upgrade,
)
from service_orders import init_db as orders_init_db
from service_orders.models import Base as OrdersBase
from service_users import init_db as users_init_db
from service_users.models import Base as UsersBase
from tests.support.pg import database_url

pytestmark = pytest.mark.slow  # Alembic chains up, down and up on fresh databases


@dataclass(frozen=True)
class Service:
    init_db: ModuleType
    table: str
    indexes: frozenset[str]
    insert_one_row: str
    metadata: MetaData


SERVICES = {
    "users": Service(
        users_init_db,
        "users",
        frozenset({"pk_users", "uq_users_email_lower", "ix_users_created_at_id"}),
        "INSERT INTO users (email, name) VALUES ('keep@example.com', 'Keep')",
        UsersBase.metadata,
    ),
    "orders": Service(
        orders_init_db,
        "orders",
        frozenset(
            {
                "pk_orders",
                "ix_orders_user_id_created_at",
                "ix_orders_created_at_id",
                "ix_orders_overdue",
                "ix_orders_completed_at",
                "ix_orders_total_amount",
            }
        ),
        "INSERT INTO orders (user_id, items, total_amount)"
        " VALUES (gen_random_uuid(), '[]'::jsonb, 0)",
        OrdersBase.metadata,
    ),
}


@pytest.fixture
def fresh_url(pg_server: str) -> Iterator[Callable[[str], str]]:
    """Unique database names on the test server, every one dropped at the end."""
    urls: list[str] = []

    def make(prefix: str) -> str:
        url = database_url(pg_server, prefix)
        urls.append(url)
        return url

    try:
        yield make
    finally:
        for url in urls:
            drop_database(url)


def database_exists(url: str) -> bool:
    target = make_url(url)
    maintenance = libpq_url(target.set(database="postgres"))
    with psycopg.connect(maintenance) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)
        ).fetchone()
    return row is not None


def table_exists(url: str, table: str) -> bool:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()
    assert row is not None
    return row[0] is not None


def indexes(url: str, table: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,))
        return {row[0] for row in rows}


def revision(url: str) -> str | None:
    with psycopg.connect(libpq_url(url)) as conn:
        if conn.execute("SELECT to_regclass('public.alembic_version')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def row_count(url: str, table: str) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return row[0]


def head_of(package_dir: Path, url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(package_dir, url)).get_current_head()
    assert head is not None
    return head


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_upgrade_downgrade_upgrade(fresh_url, service):
    spec = SERVICES[service]
    table, expected_indexes = spec.table, spec.indexes
    package_dir: Path = spec.init_db.PACKAGE_DIR
    url = fresh_url(f"test_migrate_{service}")
    assert create_database(url) is True
    assert create_database(url) is False  # already there
    head = head_of(package_dir, url)

    assert not table_exists(url, table)
    upgrade(package_dir, url)
    assert table_exists(url, table)
    assert indexes(url, table) >= expected_indexes
    assert revision(url) == head

    downgrade(package_dir, url, "base")
    assert not table_exists(url, table)
    assert revision(url) is None

    upgrade(package_dir, url)
    assert table_exists(url, table)
    assert indexes(url, table) >= expected_indexes
    assert revision(url) == head


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_init_db_creates_the_database_and_is_idempotent(fresh_url, service):
    spec = SERVICES[service]
    module, table, expected_indexes = spec.init_db, spec.table, spec.indexes
    url = fresh_url(f"test_init_{service}")
    assert not database_exists(url)

    module.main(url)
    assert database_exists(url)
    assert table_exists(url, table)
    assert revision(url) == head_of(module.PACKAGE_DIR, url)

    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(spec.insert_one_row)
    assert row_count(url, table) == 1

    module.main(url)  # second run: nothing to do, nothing lost
    assert table_exists(url, table)
    assert indexes(url, table) >= expected_indexes
    assert revision(url) == head_of(module.PACKAGE_DIR, url)
    assert row_count(url, table) == 1


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_match_the_models(fresh_url, service):
    """Autogenerate finds nothing to do: the chain builds exactly what models.py declares."""
    spec = SERVICES[service]
    url = fresh_url(f"test_drift_{service}")
    spec.init_db.main(url)
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, spec.metadata) == []
    finally:
        engine.dispose()


def test_fresh_databases_are_dropped(pg_server):
    url = database_url(pg_server, "test_drop")
    create_database(url)
    try:
        assert database_exists(url)
    finally:
        drop_database(url)
    assert not database_exists(url)


# ------------------------------------------------------------------ 0003: canonical emails

USERS_DIR = Path(users_init_db.PACKAGE_DIR)


def _users_at_0002(url: str, emails: list[str]) -> None:
    create_database(url)
    upgrade(USERS_DIR, url, "0002_idempotency_keys")
    with psycopg.connect(libpq_url(url)) as conn:
        for email in emails:
            conn.execute("INSERT INTO users (email, name) VALUES (%s, 'N')", (email,))


def _emails(url: str) -> list[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        return [row[0] for row in conn.execute("SELECT email FROM users ORDER BY email")]


def test_0003_makes_every_email_canonical(fresh_url: Callable[[str], str]) -> None:
    url = fresh_url("test_mig_emails")
    _users_at_0002(url, ["Keep@Example.COM", "  spaced@example.com ", "plain@example.com"])
    upgrade(USERS_DIR, url)
    assert _emails(url) == ["keep@example.com", "plain@example.com", "spaced@example.com"]
    assert revision(url) == head_of(USERS_DIR, url)


def test_0003_names_every_collision_and_changes_nothing(
    fresh_url: Callable[[str], str],
) -> None:
    url = fresh_url("test_mig_collide")
    before = ["Boss@Example.com", " boss@example.com", "other@example.com", "Other@example.com "]
    _users_at_0002(url, before)
    with pytest.raises(Exception, match="belong to more than one user") as raised:
        upgrade(USERS_DIR, url)
    message = str(raised.value)
    assert "boss@example.com: " in message
    assert "other@example.com: " in message
    assert "'Boss@Example.com'" in message
    assert "' boss@example.com'" in message
    assert sorted(_emails(url)) == sorted(before)
    assert revision(url) == "0002_idempotency_keys"
    assert not table_exists(url, "sessions")
