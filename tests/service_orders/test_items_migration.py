"""0002: orders' items move from `jsonb` to `json` kept as written, existing rows included.

Existing items come out compact, each object's keys in the order the API serves them
(`product`, `quantity`, `price`) and the items in their order; and back to `jsonb` on the
way down, with nothing lost.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import psycopg
import pytest

from apicore.db import create_database, downgrade, drop_database, libpq_url, upgrade
from service_orders.init_db import PACKAGE_DIR
from tests.support.pg import database_url

pytestmark = pytest.mark.slow  # an Alembic migration up and down on a fresh database

BEFORE = "0001_create_orders"
# Awkward on purpose: what a text-level compaction of jsonb's output would break.
ITEMS = [
    {"product": 'Бетон: "М300", B22.5', "quantity": 12, "price": "5400.00"},
    {"product": "a, b", "quantity": 1, "price": "0.50"},
    {"product": "\\", "quantity": 3, "price": "1.00"},
]


@pytest.fixture
def url(pg_server: str) -> Iterator[str]:
    url = database_url(pg_server, "test_items_migration")
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def items_text(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(libpq_url(url)) as conn:
        query = "SELECT items::text, pg_typeof(items)::text FROM orders ORDER BY total_amount"
        return [(text, kind) for text, kind in conn.execute(query)]


def test_existing_items_become_compact_json_and_come_back(url: str) -> None:
    upgrade(PACKAGE_DIR, url, BEFORE)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            "INSERT INTO orders (user_id, items, total_amount) VALUES"
            " (gen_random_uuid(), %s::jsonb, 1), (gen_random_uuid(), '[]'::jsonb, 2)",
            (orjson.dumps(ITEMS).decode(),),
        )

    upgrade(PACKAGE_DIR, url)
    assert items_text(url) == [(orjson.dumps(ITEMS).decode(), "json"), ("[]", "json")]

    downgrade(PACKAGE_DIR, url, BEFORE)
    rows = items_text(url)
    assert [kind for _, kind in rows] == ["jsonb", "jsonb"]
    assert [orjson.loads(text) for text, _ in rows] == [ITEMS, []]
