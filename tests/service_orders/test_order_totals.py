"""The orders list's `meta.total` and deep pages (docs/totals.md), against plain SQL.

Orders are written in SQL behind the service, so the summaries' triggers (migration 0009)
are what keeps the figures; every total and page is compared with a plain count or a
plain `OFFSET` over the rows.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from apicore import paging
from apicore.db import libpq_url
from apicore.params import MAX_LIMIT, MAX_OFFSET
from tests.support.envelope import error_of

START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ("created", "in_progress", "completed", "cancelled")
OWNERS = [uuid.UUID(int=n + 1) for n in range(4)]


async def _sql(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
        cursor = await conn.execute(statement, params)
        return await cursor.fetchall() if cursor.description else []


def _rows(count: int, seed: int) -> list[tuple[Any, ...]]:
    """Orders over ~30 days: crowded and empty days, shared moments (ties), every status,
    deadlines past and ahead, a few amounts, owners and assignees."""
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    rows = []
    for _ in range(count):
        day = rng.choice([0, 0, 0, 1, 3, 4, 4, 10, 11, 29])
        created = START + timedelta(days=day, seconds=rng.choice([0, 0, 5, 86399, 3600]))
        status = rng.choice(STATUSES)
        due = rng.choice([None, today - timedelta(days=3), today, today + timedelta(days=9)])
        rows.append(
            (
                rng.choice(OWNERS),
                rng.choice([None, *OWNERS[:2]]),
                rng.choice(["Бетон М300", "Кирпич", "Цемент"]),
                rng.choice(["0.00", "10.00", "250.50"]),
                status,
                due,
                created,
                created + timedelta(hours=1) if status == "completed" else None,
            )
        )
    return rows


async def _insert(url: str, rows: list[tuple[Any, ...]]) -> None:
    """One statement for all (the statement-level triggers see them at once)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    await _sql(
        url,
        "INSERT INTO orders (user_id, assignee_id, items, total_amount, status, due_date,"
        " created_at, updated_at, completed_at)"
        " SELECT u, a, json_build_array(json_build_object('product', p, 'quantity', 1,"
        " 'price', t::text)), t, s, d, c, c, f"
        " FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::numeric[], %s::text[],"
        " %s::date[], %s::timestamptz[], %s::timestamptz[]) AS r(u, a, p, t, s, d, c, f)",
        [list(column) for column in columns],
    )


async def _count(url: str, where: str, params: Any = None) -> int:
    return (await _sql(url, f"SELECT count(*) FROM orders WHERE {where}", params))[0][0]


def _meta(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["meta"]


OVERDUE = "due_date < (now() AT TIME ZONE 'UTC')::date AND status IN ('created', 'in_progress')"
NOT_OVERDUE = f"NOT coalesce({OVERDUE}, false)"

# (query, SQL condition, whether the total is free without ?total=true)
FILTERS: list[tuple[dict[str, str], str, bool]] = [
    ({}, "true", True),
    ({"status": "created"}, "status = 'created'", True),
    ({"statuses": "created,completed"}, "status IN ('created', 'completed')", True),
    ({"status": "created", "statuses": "completed"}, "false", True),
    ({"status": "created", "statuses": "created,cancelled"}, "status = 'created'", True),
    (
        {"createdFrom": "2026-01-02", "createdTo": "2026-01-11"},
        "created_at >= '2026-01-02' AND created_at < '2026-01-12'",
        True,
    ),
    ({"createdTo": "2026-01-01"}, "created_at < '2026-01-02'", True),
    ({"createdFrom": "9999-12-31"}, "false", True),
    ({"createdTo": "0001-01-01"}, "false", True),
    ({"overdue": "true"}, OVERDUE, True),
    ({"overdue": "false"}, NOT_OVERDUE, True),
    (
        {"overdue": "true", "statuses": "in_progress,completed"},
        f"{OVERDUE} AND status IN ('in_progress', 'completed')",
        True,
    ),
    (
        {"overdue": "false", "status": "created", "createdFrom": "2026-01-04"},
        f"{NOT_OVERDUE} AND status = 'created' AND created_at >= '2026-01-04'",
        True,
    ),
    ({"userId": str(OWNERS[0])}, f"user_id = '{OWNERS[0]}'", True),
    (
        {"userIds": f"{OWNERS[0]},{OWNERS[1]}", "limit": "5"},
        f"user_id IN ('{OWNERS[0]}', '{OWNERS[1]}')",
        True,
    ),
    (
        {"assigneeId": str(OWNERS[1]), "status": "created"},
        f"assignee_id = '{OWNERS[1]}' AND status = 'created'",
        True,
    ),
    ({"assigneeIds": str(OWNERS[0]), "limit": "3"}, f"assignee_id = '{OWNERS[0]}'", True),
    ({"q": "бетон"}, "order_products(items) ILIKE '%бетон%'", False),
    ({"minAmount": "10"}, "total_amount >= 10", False),
    ({"maxAmount": "10", "status": "created"}, "total_amount <= 10 AND status = 'created'", False),
    ({"dueFrom": "2020-01-01"}, "due_date >= '2020-01-01'", False),
    ({"dueTo": "2020-01-01", "overdue": "true"}, f"due_date <= '2020-01-01' AND {OVERDUE}", False),
]


@pytest.mark.parametrize(("query", "where", "free"), FILTERS)
async def test_every_total_equals_a_plain_count(orders_client, orders_db_url, query, where, free):
    await _insert(orders_db_url, _rows(120, seed=1))
    expected = await _count(orders_db_url, where)
    meta = _meta(
        await orders_client.get("/orders", params={**query, "limit": query.get("limit", "2")})
    )
    assert meta["total"] == (expected if free else None)
    asked = _meta(await orders_client.get("/orders", params={**query, "total": "true"}))
    assert asked["total"] == expected
    told_not = _meta(await orders_client.get("/orders", params={**query, "total": "false"}))
    assert told_not["total"] == (expected if free else None)


async def test_totals_follow_writes_through_the_api(orders_client, orders_db_url):
    """Creates, status moves and deletes through the service: every free total still exact."""
    user = str(uuid.uuid4())
    made = []
    for n in range(6):
        body = {
            "user_id": user,
            "items": [{"product": "Бетон", "quantity": n + 1, "price": "1.00"}],
        }
        response = await orders_client.post("/orders", json=body)
        assert response.status_code == 201, response.text
        made.append(response.json()["data"]["id"])
    await orders_client.put(f"/orders/{made[0]}", json={"status": "in_progress"})
    await orders_client.put(f"/orders/{made[1]}", json={"status": "cancelled"})
    await orders_client.delete(f"/orders/{made[2]}")
    for query, where, free in FILTERS:
        if free:
            meta = _meta(await orders_client.get("/orders", params={**query, "limit": "1"}))
            assert meta["total"] == await _count(orders_db_url, where), query


async def test_concurrent_writes_keep_totals_exact(orders_client, orders_db_url):
    url = orders_db_url

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(8):
            await _insert(url, _rows(rng.randint(1, 5), seed=rng.randrange(10**6)))
            if rng.random() < 0.5:
                await _sql(
                    url,
                    "UPDATE orders SET status = 'cancelled', updated_at = clock_timestamp()"
                    " WHERE id = (SELECT id FROM orders WHERE status = 'created' LIMIT 1)",
                )
            if rng.random() < 0.3:
                await _sql(url, "DELETE FROM orders WHERE id = (SELECT id FROM orders LIMIT 1)")

    await asyncio.gather(*(writer(seed) for seed in range(6)))
    for query, where, free in FILTERS:
        if free:
            meta = _meta(await orders_client.get("/orders", params={**query, "limit": "1"}))
            assert meta["total"] == await _count(url, where), query


# ------------------------------------------------------------------ deep pages


@pytest.fixture
def jump_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every offset jumps (the service in process reads paging.JUMP_FROM at each request)."""
    monkeypatch.setattr(paging, "JUMP_FROM", 0)


PAGED: list[tuple[dict[str, str], str, str]] = [
    ({}, "true", "created_at, id"),
    ({"sort": "-created_at"}, "true", "created_at DESC, id DESC"),
    ({"status": "completed"}, "status = 'completed'", "created_at, id"),
    (
        {"statuses": "created,in_progress", "sort": "-created_at"},
        "status IN ('created', 'in_progress')",
        "created_at DESC, id DESC",
    ),
    (
        {"createdFrom": "2026-01-02", "createdTo": "2026-01-12", "status": "created"},
        "created_at >= '2026-01-02' AND created_at < '2026-01-13' AND status = 'created'",
        "created_at, id",
    ),
    # Not jumped (no per-day figure): plain offsets, the same pages.
    ({"overdue": "true"}, OVERDUE, "created_at, id"),
    ({"sort": "total_amount"}, "true", "total_amount, id"),
]


async def _offsets(url: str, where: str, descending: bool) -> list[int]:
    """0, 1, the edges of every day, the last row, past the end, far past it."""
    per_day = await _sql(
        url,
        f"SELECT count(*) FROM orders WHERE {where}"
        " GROUP BY (created_at AT TIME ZONE 'UTC')::date"
        f" ORDER BY (created_at AT TIME ZONE 'UTC')::date {'DESC' if descending else ''}",
    )
    offsets, running = {0, 1, 10**6, MAX_OFFSET}, 0
    for (n,) in per_day:
        offsets |= {running - 1, running, running + 1}
        running += n
    offsets |= {running - 1, running, running + 1}
    return sorted(o for o in offsets if o >= 0)


@pytest.mark.parametrize(("query", "where", "order"), PAGED)
async def test_jumped_pages_equal_plain_offset_pages(
    orders_client, orders_db_url, jump_always, query, where, order
):
    url = orders_db_url
    await _insert(url, _rows(150, seed=3))
    await _sql(url, "DELETE FROM orders WHERE created_at < %s", (START + timedelta(hours=2),))
    total = await _count(url, where)
    for limit in (1, 6):
        for offset in await _offsets(url, where, "DESC" in order):
            params = {**query, "limit": str(limit), "offset": str(offset)}
            response = await orders_client.get("/orders", params=params)
            got = [order["id"] for order in response.json()["data"]]
            plain = await _sql(
                url,
                f"SELECT id::text FROM orders WHERE {where} ORDER BY {order} OFFSET %s LIMIT %s",
                (offset, limit),
            )
            assert got == [row[0] for row in plain], (query, limit, offset)
            assert _meta(response)["total"] == total


async def test_paging_deep_while_orders_are_inserted(orders_client, orders_db_url, jump_always):
    url = orders_db_url
    await _insert(url, _rows(80, seed=5))
    stop = asyncio.Event()

    async def inserting() -> None:
        while not stop.is_set():
            await _insert(url, _rows(3, seed=random.randrange(10**6)))

    task = asyncio.create_task(inserting())
    try:
        for offset in range(0, 100, 9):
            for query in ({}, {"sort": "-created_at"}, {"statuses": "created,completed"}):
                params = {**query, "limit": "4", "offset": str(offset)}
                response = await orders_client.get("/orders", params=params)
                assert response.status_code == 200, response.text
                assert len(response.json()["data"]) <= 4
    finally:
        stop.set()
        await task


# ------------------------------------------------------------------ hostile parameters


@pytest.mark.parametrize(
    "query",
    [
        "total=1",
        "total=0",
        "total=on",
        "total=True",
        "total=",
        "total=true%00",
        "total=%F0%9F%98%80",
        "total=" + "x" * 3000,
        "total=true&total=true",
        "total=false&total=true",
    ],
)
async def test_total_accepts_true_or_false_only(orders_client, query):
    error = error_of(await orders_client.get(f"/orders?q=a&{query}"), 400, "VALIDATION_ERROR")
    assert "total" in {detail["field"] for detail in error["details"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("offset=-1", "offset"),
        (f"offset={MAX_OFFSET + 1}", "offset"),
        ("offset=" + "9" * 60, "offset"),
        ("offset=1e3", "offset"),
        ("offset=%EF%BC%91", "offset"),  # a full-width digit
        ("offset=", "offset"),
        ("limit=-1", "limit"),
        (f"limit={MAX_LIMIT + 1}", "limit"),
        ("limit=abc&offset=5000", "limit"),
    ],
)
async def test_hostile_offsets_are_400(orders_client, query, field):
    error = error_of(
        await orders_client.get(f"/orders?status=created&{query}"), 400, "VALIDATION_ERROR"
    )
    assert field in {detail["field"] for detail in error["details"]}


@pytest.mark.parametrize("limit", [0, 1, MAX_LIMIT])
async def test_the_largest_offset_and_the_limits_at_their_bounds(
    orders_client, orders_db_url, jump_always, limit
):
    await _insert(orders_db_url, _rows(5, seed=8))
    for query in (
        {},
        {"sort": "-created_at"},
        {"status": "created"},
        {"q": "бетон", "total": "true"},
    ):
        params = {**query, "limit": str(limit), "offset": str(MAX_OFFSET)}
        response = await orders_client.get("/orders", params=params)
        assert response.json()["data"] == []
        meta = _meta(response)
        assert meta["limit"] == limit
        assert meta["offset"] == MAX_OFFSET
        assert isinstance(meta["total"], int)


async def test_an_empty_list_jumps_to_an_empty_page(orders_client, jump_always):
    for query in ({}, {"sort": "-created_at"}, {"statuses": "cancelled"}):
        response = await orders_client.get("/orders", params={**query, "offset": "3"})
        assert response.json()["data"] == []
        assert _meta(response)["total"] == 0
