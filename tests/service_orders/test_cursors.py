"""Cursor pagination of the orders list (apicore/keyset.py): every sort, both directions,
equal keys and NULL deadlines, rows inserted during a walk, hostile cursors."""

from __future__ import annotations

import asyncio
import base64
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from apicore.keyset import _digest, encode
from tests.service_orders.test_orders_api import assert_validation

SORTS = [
    f"{sign}{key}"
    for key in ("created_at", "updated_at", "due_date", "total_amount")
    for sign in ("", "-")
]
BASE = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
ITEMS = '[{"product":"Щебень","quantity":1,"price":"1.00"}]'


def _row(rng: random.Random) -> dict[str, Any]:
    """An order whose keys repeat on purpose: ties must be broken by the id alone."""
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "user_id": uuid.UUID(int=rng.getrandbits(128), version=4),
        # Microseconds apart: a cursor that kept milliseconds only would skip or repeat.
        "created_at": BASE + timedelta(microseconds=rng.randrange(12)),
        "updated_at": BASE + timedelta(seconds=rng.randrange(3), microseconds=rng.randrange(3)),
        "due_date": rng.choice([None, None, date(2026, 12, 1), date(2027, 1, 15), date.max]),
        "total_amount": rng.choice([Decimal("0.00"), Decimal("10.50"), Decimal("99999999.99")]),
    }


async def insert(app: FastAPI, rows: list[dict[str, Any]]) -> None:
    """Rows written straight into the table: exact keys, ties and all (one statement)."""
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO orders (id, user_id, items, status, total_amount, due_date,"
            " created_at, updated_at) VALUES (%(id)s, %(user_id)s, %(items)s, 'created',"
            " %(total_amount)s, %(due_date)s, %(created_at)s, %(updated_at)s)",
            [{**row, "items": ITEMS} for row in rows],
        )


def expected(rows: list[dict[str, Any]], sort: str) -> list[str]:
    """The list's order worked out here: NULLs after every value going up, ties by id
    (PostgreSQL compares uuids as their bytes, which is their lower-case text's order)."""
    key = sort.removeprefix("-")
    valued = sorted((r for r in rows if r[key] is not None), key=lambda r: (r[key], str(r["id"])))
    nulls = sorted((r for r in rows if r[key] is None), key=lambda r: str(r["id"]))
    up = [str(r["id"]) for r in valued + nulls]
    return up[::-1] if sort.startswith("-") else up


async def page(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/orders", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def walk(client: httpx.AsyncClient, limit: int, **params: Any) -> list[str]:
    """Every page by `meta.next`, until it is null."""
    seen: list[str] = []
    body = await page(client, limit=limit, **params)
    while True:
        seen += [order["id"] for order in body["data"]]
        assert len(body["data"]) <= limit
        if body["meta"]["next"] is None:
            return seen
        assert len(body["data"]) == limit  # a cursor is only given for a full page
        body = await page(client, limit=limit, after=body["meta"]["next"], **params)


@pytest.mark.slow
@pytest.mark.parametrize("sort", SORTS)
async def test_walk_every_sort_equals_the_sorted_list(
    orders_client: httpx.AsyncClient, orders_app: FastAPI, sort: str
) -> None:
    rows = [_row(random.Random(f"{sort}-{n}")) for n in range(300)]
    await insert(orders_app, rows)
    want = expected(rows, sort)
    assert await walk(orders_client, 7, sort=sort) == want
    assert await walk(orders_client, 1, sort=sort) == want  # a cursor after every row
    # The offset list agrees, and an offset page's cursor goes on where it ends.
    first = await page(orders_client, limit=50, offset=100, sort=sort)
    assert [o["id"] for o in first["data"]] == want[100:150]
    rest = await page(orders_client, limit=1000, after=first["meta"]["next"], sort=sort)
    assert [o["id"] for o in rest["data"]] == want[150:]
    assert rest["meta"] == {"total": 300, "limit": 1000, "offset": 0, "next": None}


async def test_filters_combine_with_cursors(
    orders_client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    rows = [_row(random.Random(n)) for n in range(200)]
    await insert(orders_app, rows)
    due = [r for r in rows if r["due_date"] is not None and r["due_date"] <= date(2027, 1, 15)]
    for sort in ("due_date", "-due_date", "-total_amount"):
        got = await walk(orders_client, 6, sort=sort, dueTo="2027-01-15")
        assert got == expected(due, sort)
    rich = [r for r in rows if r["total_amount"] >= Decimal("10.50")]
    got = await walk(orders_client, 9, sort="-created_at", minAmount="10.50")
    assert got == expected(rich, "-created_at")
    one = rows[0]["user_id"]
    assert await walk(orders_client, 1, userId=str(one)) == [str(rows[0]["id"])]


async def test_meta_next_on_every_page_null_on_the_last(
    orders_client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    rows = [_row(random.Random(n)) for n in range(10)]
    await insert(orders_app, rows)
    assert (await page(orders_client, limit=10))["meta"]["next"] is None  # exactly all
    assert (await page(orders_client, limit=9))["meta"]["next"] is not None
    assert (await page(orders_client, limit=5, offset=5))["meta"]["next"] is None
    assert (await page(orders_client, limit=0))["meta"]["next"] is None  # no row to follow
    assert (await page(orders_client, userIds=str(rows[0]["user_id"])))["meta"]["next"] is None
    empty = await page(orders_client, q="нет-такого")
    assert empty["meta"] == {"total": None, "limit": 100, "offset": 0, "next": None}  # a search


@pytest.mark.parametrize("sort", ["created_at", "-due_date", "due_date", "-total_amount"])
async def test_rows_inserted_during_a_walk_never_shift_it(
    orders_client: httpx.AsyncClient, orders_app: FastAPI, sort: str
) -> None:
    rng = random.Random(sort)
    rows = [_row(rng) for _ in range(150)]
    await insert(orders_app, rows)
    original = expected(rows, sort)
    seen: list[str] = []
    body = await page(orders_client, limit=10, sort=sort)
    while True:
        seen += [o["id"] for o in body["data"]]
        # Other writers insert meanwhile, before, at and after the cursor, concurrently.
        batches = [[_row(rng) for _ in range(4)] for _ in range(3)]
        await asyncio.gather(*(insert(orders_app, batch) for batch in batches))
        if body["meta"]["next"] is None:
            break
        body = await page(orders_client, limit=10, sort=sort, after=body["meta"]["next"])
    assert len(seen) == len(set(seen))  # nothing twice
    assert [each for each in seen if each in set(original)] == original  # nothing lost


async def test_pages_read_concurrently_with_inserts(
    orders_client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    """Writers and one walker at the same time: the walk sees every row that was there."""
    rng = random.Random(7)
    rows = [_row(rng) for _ in range(200)]
    await insert(orders_app, rows)
    original = expected(rows, "-updated_at")
    stop = asyncio.Event()

    async def writer() -> None:
        while not stop.is_set():
            await insert(orders_app, [_row(rng) for _ in range(3)])
            await asyncio.sleep(0)

    writers = [asyncio.create_task(writer()) for _ in range(3)]
    try:
        seen = await walk(orders_client, 5, sort="-updated_at")
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert len(seen) == len(set(seen))
    assert [each for each in seen if each in set(original)] == original


def _signed(payload: bytes, row_id: str) -> str:
    """A cursor with a valid checksum around a payload of our choosing."""
    raw = payload.replace(b"%s", row_id.encode()) if b"%s" in payload else payload
    return base64.urlsafe_b64encode(raw + _digest(raw)).rstrip(b"=").decode()


def _crafted(*parts: Any, sort: str = "created_at") -> str:
    return encode("orders", sort.removeprefix("-"), sort.startswith("-"), list(parts))


async def test_hostile_cursors_are_400_naming_after(
    orders_client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    await insert(orders_app, [_row(random.Random(n)) for n in range(5)])
    good = (await page(orders_client, limit=2, sort="-due_date"))["meta"]["next"]
    ok_id = str(uuid.uuid4())
    raw = base64.urlsafe_b64decode(good + "=" * (-len(good) % 4))
    edited = bytearray(raw)
    edited[len(raw) // 2] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(edited)).rstrip(b"=").decode()
    bad = [
        "",
        "x",
        "not a cursor",
        "%00",
        "\x00" + good,
        good + "\u00e9",
        "бетон",
        good[:-1],
        good + "A",
        tampered,
        "A" * 513,
        "A" * 20_000,
        base64.urlsafe_b64encode(b"[1]" + bytes(8)).decode(),
        _signed(b'[true,"orders","created_at",["2026-11-01T08:00:00.000000+00:00","%s"]]', ok_id),
        _signed(b'[1,"orders","created_at",["2026-11-01T08:00:00.000000+00:00"]]', ok_id),
        _signed(b'{"v":1}', ok_id),
        _signed(b"[1,", ok_id),
        _crafted("2026-11-01T08:00:00+00:00", ok_id),  # no microseconds: not ours
        _crafted("2026-11-01T08:00:00.000000Z", ok_id),
        _crafted(None, ok_id),  # created_at is never null
        _crafted(5, ok_id),
        _crafted("2026-11-01T08:00:00.000000+00:00", ok_id.upper()),
        _crafted("2026-11-01T08:00:00.000000+00:00", "not-a-uuid"),
        _crafted("2026-11-01T08:00:00.000000+00:00", 1),
        _crafted("2026-13-01T08:00:00.000000+00:00", ok_id),
        _crafted("1e3", ok_id, sort="total_amount"),
        _crafted("-1.00", ok_id, sort="total_amount"),
        _crafted("NaN", ok_id, sort="total_amount"),
        _crafted("100000000.00", ok_id, sort="total_amount"),
        _crafted("2026-02-30", ok_id, sort="due_date"),
        _crafted("10000-01-01", ok_id, sort="due_date"),
        encode("users", "created_at", False, ["2026-11-01T08:00:00.000000+00:00", ok_id]),
        good,  # made for -due_date, sent with the default sort
    ]
    for cursor in bad:
        assert_validation(await orders_client.get("/orders", params={"after": cursor}), "after")
    for cursor in (good, _crafted("x", ok_id, sort="due_date")):
        response = await orders_client.get("/orders", params={"after": cursor, "sort": "due_date"})
        assert_validation(response, "after")
    both = {"after": good, "sort": "-due_date", "offset": 1}
    assert_validation(await orders_client.get("/orders", params=both), "after")
    repeated = [("after", good), ("after", good), ("sort", "-due_date")]
    assert (await orders_client.get("/orders", params=repeated)).status_code in (200, 400)
    # The edges of each type decode and answer (nothing after the last possible key).
    edges: dict[str, list[str | None]] = {
        "created_at": ["0001-01-01T00:00:00.000000+00:00", "9999-12-31T23:59:59.999999+00:00"],
        "-updated_at": ["0001-01-01T00:00:00.000000+00:00", "9999-12-31T23:59:59.999999+00:00"],
        "due_date": ["0001-01-01", "9999-12-31", None],
        "-due_date": ["0001-01-01", "9999-12-31", None],
        "total_amount": ["0.00", "99999999.99"],
    }
    for sort, values in edges.items():
        for value in values:
            for row_id in (str(uuid.UUID(int=0)), "ffffffff-ffff-ffff-ffff-ffffffffffff"):
                cursor = _crafted(value, row_id, sort=sort)
                body = await page(orders_client, after=cursor, sort=sort)
                assert body["meta"]["offset"] == 0


async def test_offset_with_after_and_limits(orders_client: httpx.AsyncClient) -> None:
    cursor = _crafted("2026-11-01T08:00:00.000000+00:00", str(uuid.uuid4()))
    for limit in ("-1", "1001", "1e3", "abc", "9" * 30):
        response = await orders_client.get("/orders", params={"after": cursor, "limit": limit})
        assert_validation(response, "limit")
    response = await orders_client.get("/orders", params={"after": cursor, "offset": "-1"})
    assert_validation(response, "offset")
    response = await orders_client.get("/orders", params={"after": cursor, "offset": "0"})
    assert response.status_code == 200
