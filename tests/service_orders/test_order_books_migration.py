"""0003: order books. Every user who has orders gets an open book; down drops the table."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from apicore.db import create_database, downgrade, drop_database, libpq_url, upgrade
from service_orders.init_db import PACKAGE_DIR
from tests.support.pg import database_url

pytestmark = pytest.mark.slow  # an Alembic migration up and down on a fresh database

BEFORE = "0002_items_as_written"


@pytest.fixture
def url(pg_server: str) -> Iterator[str]:
    url = database_url(pg_server, "test_books_migration")
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def test_users_with_orders_get_open_books_and_down_drops_them(url: str) -> None:
    upgrade(PACKAGE_DIR, url, BEFORE)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            "INSERT INTO orders (user_id, items, total_amount)"
            " SELECT u, '[]'::json, 1 FROM (VALUES (gen_random_uuid()), (gen_random_uuid())) v(u),"
            " generate_series(1, 2)"
        )
        owners = {row[0] for row in conn.execute("SELECT user_id FROM orders")}

    upgrade(PACKAGE_DIR, url)
    with psycopg.connect(libpq_url(url)) as conn:
        books = conn.execute("SELECT user_id, closed_at FROM order_books").fetchall()
    assert {user_id for user_id, _ in books} == owners
    assert all(closed_at is None for _, closed_at in books)

    downgrade(PACKAGE_DIR, url, BEFORE)
    with psycopg.connect(libpq_url(url)) as conn:
        exists = conn.execute("SELECT to_regclass('order_books')").fetchone()
    assert exists == (None,)
