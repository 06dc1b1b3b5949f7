"""0009: the summary tables are filled from the orders already there, the triggers keep
them from then on, and down removes tables, functions and triggers (writes still work)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from apicore.db import create_database, create_engine, downgrade, drop_database, libpq_url, upgrade
from service_orders import reports
from service_orders.init_db import PACKAGE_DIR
from service_orders.summaries import TABLES
from tests.service_orders.test_summaries import (
    assert_counts_match,
    plain_daily,
    plain_stats,
)
from tests.support.pg import database_url

pytestmark = pytest.mark.slow  # migrations up and down

BEFORE = "0008_total_amount_index"

# Every status, due yesterday, today, tomorrow, none and at the edges, created over days
# (the first and last instants PostgreSQL's dates allow among them), completed or not.
EXISTING = """
INSERT INTO orders (user_id, items, status, total_amount, due_date, created_at, completed_at)
SELECT gen_random_uuid(), '[]'::json, s, n * 3.07,
       (ARRAY[NULL, today - 1, today, today + 1, '0001-01-01', '9999-12-31']::date[])[1 + n % 6],
       created,
       CASE WHEN s = 'completed' THEN created + (n % 3) * interval '1 day' END
FROM generate_series(1, 400) AS n,
     LATERAL (SELECT (now() AT TIME ZONE 'UTC')::date AS today) AS d,
     LATERAL (SELECT (ARRAY['created', 'in_progress', 'completed', 'cancelled'])[1 + n % 4],
                     CASE n % 50 WHEN 0 THEN '0001-01-01 00:00+00'::timestamptz
                                 WHEN 1 THEN '9999-12-30 12:00+00'::timestamptz
                                 ELSE now() - (n % 9) * interval '1 day' END) AS t(s, created)
"""


@pytest.fixture
async def url(pg_server: str) -> AsyncIterator[str]:
    url = database_url(pg_server, "test_summaries_migration")
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {name for (name,) in rows}


def summary_objects(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'order_summaries%'"
        " UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'order_summaries%'"
    )
    return [name for (name,) in rows]


async def assert_summaries_equal_the_rows(engine: AsyncEngine) -> None:
    today = datetime.now(UTC).date()
    for first, last in [(None, None), (date.min, date.max), (today, today), (None, date.min)]:
        served = await reports.order_stats(engine, period=reports.Period(first, last))
        assert served == await plain_stats(engine, first, last), (first, last)
    for first, last in [(today - timedelta(days=12), today), (date(9999, 1, 1), date.max)]:
        daily = await reports.orders_by_day(engine, first=first, last=last)
        assert daily == await plain_daily(engine, first, last)
    await assert_counts_match(engine, [today, date.min, date(9999, 12, 30)])


async def test_the_migration_fills_the_summaries_from_the_rows_and_down_removes_them(
    url: str,
) -> None:
    upgrade(PACKAGE_DIR, url, BEFORE)
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(EXISTING)
        before = tables(conn)
    upgrade(PACKAGE_DIR, url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            filled = await conn.exec_driver_sql("SELECT count(*) FROM order_created_days")
            assert filled.scalar_one() > 0
        await assert_summaries_equal_the_rows(engine)
        async with engine.begin() as conn:  # and the triggers keep them from then on
            await conn.exec_driver_sql(EXISTING.replace("%", "%%"))
            await conn.exec_driver_sql("DELETE FROM orders WHERE total_amount < 100")
            await conn.exec_driver_sql(
                "UPDATE orders SET status = 'in_progress' WHERE status = 'created'"
            )
        await assert_summaries_equal_the_rows(engine)
    finally:
        await engine.dispose()

    downgrade(PACKAGE_DIR, url, BEFORE)
    with psycopg.connect(libpq_url(url)) as conn:
        assert tables(conn) == before
        assert not set(TABLES) & tables(conn)
        assert summary_objects(conn) == []
        conn.execute(EXISTING)  # writes need nothing the migration made
        conn.execute("UPDATE orders SET status = 'cancelled' WHERE status = 'created'")
        conn.execute("DELETE FROM orders WHERE total_amount < 100")
        conn.execute("TRUNCATE orders")
