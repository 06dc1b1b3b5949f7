"""A data-only restore writes with an empty search_path (pg_dump and pg_restore set it so):
the summary triggers must still find their tables, and stay exact (docs/reports.md,
docs/totals.md)."""

from __future__ import annotations

import psycopg

from apicore.db import libpq_url

RESTORE_PREAMBLE = "SELECT pg_catalog.set_config('search_path', '', false)"


async def _restoring(url: str, *statements: str) -> None:
    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
        await conn.execute(RESTORE_PREAMBLE)
        for statement in statements:
            await conn.execute(statement)


async def _one(url: str, query: str) -> object:
    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
        row = await (await conn.execute(query)).fetchone()
        assert row is not None
        return row[0]


async def test_orders_loaded_with_an_empty_search_path_are_counted(orders_db_url: str) -> None:
    await _restoring(
        orders_db_url,
        "INSERT INTO public.orders (user_id, items, total_amount, status, due_date)"
        " SELECT gen_random_uuid(), '[]', n, 'created', current_date - 1"
        " FROM generate_series(1, 5) AS n",
        "UPDATE public.orders SET status = 'in_progress' WHERE total_amount = 1",
        "DELETE FROM public.orders WHERE total_amount = 2",
    )
    await _assert_orders_summed(orders_db_url)
    await _restoring(orders_db_url, "TRUNCATE public.orders")
    await _assert_orders_summed(orders_db_url)
    assert await _one(orders_db_url, "SELECT coalesce(sum(orders), 0) FROM order_created_days") == 0


async def _assert_orders_summed(url: str) -> None:
    """The summaries hold exactly the rows (whatever other tests left in this database)."""
    created = "SELECT coalesce(sum(orders), 0) FROM order_created_days"
    assert await _one(url, created) == await _one(url, "SELECT count(*) FROM orders")
    due = "SELECT coalesce(sum(orders), 0) FROM order_deadlines"
    active = (
        "SELECT count(*) FROM orders"
        " WHERE due_date IS NOT NULL AND status IN ('created', 'in_progress')"
    )
    assert await _one(url, due) == await _one(url, active)


async def test_users_loaded_with_an_empty_search_path_are_counted(users_db_url: str) -> None:
    await _restoring(
        users_db_url,
        "INSERT INTO public.users (email, name)"
        " SELECT 'restored' || n || '@example.com', 'R' FROM generate_series(1, 3) AS n",
    )
    summed = "SELECT coalesce(sum(users), 0) FROM user_days"
    assert await _one(users_db_url, summed) == await _one(
        users_db_url, "SELECT count(*) FROM users"
    )
    await _restoring(users_db_url, "TRUNCATE public.users CASCADE")
    assert await _one(users_db_url, summed) == 0
