"""0005: deadlines and reports. Additive: orders keep everything; completed ones get a
completion time (their last change); down restores the old columns and indexes."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from apicore.db import create_database, downgrade, drop_database, libpq_url, upgrade
from service_orders.init_db import PACKAGE_DIR
from tests.support.pg import database_url

pytestmark = pytest.mark.slow  # an Alembic migration up and down on a fresh database

BEFORE = "0004_idempotency_keys"


@pytest.fixture
def url(pg_server: str) -> Iterator[str]:
    url = database_url(pg_server, "test_reports_migration")
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def indexes(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")
    return {name for (name,) in rows}


def test_completed_orders_get_their_completion_time_and_down_undoes_it(url: str) -> None:
    upgrade(PACKAGE_DIR, url, BEFORE)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            "INSERT INTO orders (user_id, items, total_amount, status, updated_at)"
            " SELECT gen_random_uuid(), '[]'::json, 1, s, now() - interval '3 days'"
            " FROM unnest(ARRAY['created', 'in_progress', 'completed', 'cancelled']) s"
        )
        before = conn.execute("SELECT id, status, updated_at FROM orders ORDER BY id").fetchall()
        old_indexes = indexes(conn)

    upgrade(PACKAGE_DIR, url)
    with psycopg.connect(libpq_url(url)) as conn:
        after = conn.execute(
            "SELECT id, status, updated_at, completed_at, due_date FROM orders ORDER BY id"
        ).fetchall()
        assert indexes(conn) >= {"ix_orders_overdue", "ix_orders_completed_at"}
    assert [row[:3] for row in after] == before
    for _, status, updated_at, completed_at, due_date in after:
        assert completed_at == (updated_at if status == "completed" else None)
        assert due_date is None

    downgrade(PACKAGE_DIR, url, BEFORE)
    with psycopg.connect(libpq_url(url)) as conn:
        columns = {
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'"
            )
        }
        assert indexes(conn) == old_indexes
    assert not {"due_date", "completed_at"} & columns
