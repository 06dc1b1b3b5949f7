"""The users list's total from `user_days` (migration 0004) and its deep pages (apicore/paging.py).

Rows are written in SQL behind the service (as a restore or a bulk load would), so the
triggers are what keeps `user_days` exact; every figure is compared with a plain count.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from apicore import paging
from apicore.db import create_database, drop_database, libpq_url, upgrade
from apicore.params import MAX_LIMIT, MAX_OFFSET
from service_users import init_db as users_init_db
from tests.support.envelope import error_of
from tests.support.pg import database_url

USERS_DIR = Path(users_init_db.PACKAGE_DIR)
START = datetime(2026, 1, 1, tzinfo=UTC)


async def _sql(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
        cursor = await conn.execute(statement, params)
        return await cursor.fetchall() if cursor.description else []


async def _insert(url: str, moments: list[datetime]) -> None:
    """Users created at these moments, in one statement (the triggers see them at once)."""
    await _sql(
        url,
        "INSERT INTO users (email, name, created_at)"
        " SELECT 'u' || gen_random_uuid() || '@example.com', 'N', moment"
        " FROM unnest(%s::timestamptz[]) AS moment",
        (moments,),
    )


async def _days_agree(url: str) -> None:
    """`user_days` summed over slots equals a plain count per UTC day."""
    kept = await _sql(
        url, "SELECT day, sum(users)::bigint FROM user_days GROUP BY day HAVING sum(users) <> 0"
    )
    counted = await _sql(
        url, "SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM users GROUP BY 1"
    )
    assert sorted(kept) == sorted(counted)


def _spread(count: int, seed: int) -> list[datetime]:
    """Moments over ~40 days: some days empty, some crowded, some moments shared (ties)."""
    rng = random.Random(seed)
    moments = []
    for _ in range(count):
        day = rng.choice([0, 0, 1, 2, 5, 6, 7, 20, 21, 39])
        moments.append(START + timedelta(days=day, seconds=rng.choice([0, 0, 1, 86399, 4000])))
    return moments


async def _plain_ids(url: str, *, limit: int, offset: int) -> list[str]:
    rows = await _sql(
        url,
        "SELECT id::text FROM users ORDER BY created_at, id OFFSET %s LIMIT %s",
        (offset, limit),
    )
    return [row[0] for row in rows]


def _page(response: httpx.Response) -> tuple[list[str], dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["id"] for item in body["data"]], body["meta"]


# ------------------------------------------------------------------ the count table


async def test_triggers_keep_every_day_exact_through_bulk_writes(users_client, users_db_url):
    url = users_db_url
    await _days_agree(url)  # empty after TRUNCATE (the truncate trigger)
    await _insert(url, _spread(200, seed=1))
    await _days_agree(url)
    # Deletes of some days, single rows and a whole range.
    await _sql(url, "DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 17)")
    await _sql(url, "DELETE FROM users WHERE created_at < %s", (START + timedelta(days=1),))
    await _days_agree(url)
    # Moves to other days (only SQL does that), and an update that moves nothing.
    await _sql(
        url,
        "UPDATE users SET created_at = created_at + interval '3 days'"
        " WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 30)",
    )
    await _sql(url, "UPDATE users SET name = 'Renamed'")
    await _days_agree(url)
    # The edges of the date type PostgreSQL and our API hold.
    await _insert(url, [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)])
    await _days_agree(url)
    meta = _page(await users_client.get("/users?limit=1"))[1]
    assert meta["total"] == (await _sql(url, "SELECT count(*) FROM users"))[0][0]
    await _sql(url, "TRUNCATE users CASCADE")
    await _days_agree(url)
    assert _page(await users_client.get("/users"))[1]["total"] == 0


async def test_concurrent_writers_keep_the_counts_exact(users_client, users_db_url):
    """Eight connections insert and delete at once on the same days (several slots)."""
    url = users_db_url

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
            for _ in range(15):
                moments = [
                    START + timedelta(days=rng.randrange(3)) for _ in range(rng.randint(1, 4))
                ]
                await conn.execute(
                    "INSERT INTO users (email, name, created_at)"
                    " SELECT 'c' || gen_random_uuid() || '@example.com', 'C', m"
                    " FROM unnest(%s::timestamptz[]) AS m",
                    (moments,),
                )
                if rng.random() < 0.3:
                    await conn.execute(
                        "DELETE FROM users"
                        " WHERE id = (SELECT id FROM users ORDER BY random() LIMIT 1)"
                    )

    await asyncio.gather(*(writer(seed) for seed in range(8)))
    await _days_agree(url)
    slots = await _sql(url, "SELECT count(DISTINCT slot) FROM user_days")
    assert slots[0][0] >= 1
    meta = _page(await users_client.get("/users?limit=0"))[1]
    assert meta["total"] == (await _sql(url, "SELECT count(*) FROM users"))[0][0]


async def test_creates_through_the_api_are_counted(users_client, users_db_url):
    for n in range(3):
        body = {"email": f"api{n}@example.com", "name": "Api"}
        assert (await users_client.post("/users", json=body)).status_code == 201
    assert _page(await users_client.get("/users"))[1]["total"] == 3
    user_id = _page(await users_client.get("/users"))[0][0]
    assert (await users_client.delete(f"/users/{user_id}")).status_code == 200
    assert _page(await users_client.get("/users"))[1]["total"] == 2
    await _days_agree(users_db_url)


async def test_the_migration_counts_existing_users(pg_server: str) -> None:
    url = database_url(pg_server, "test_mig_user_days")
    try:
        create_database(url)
        upgrade(USERS_DIR, url, "0003_sessions_canonical_emails")
        await _insert(url, _spread(50, seed=3))
        upgrade(USERS_DIR, url)
        await _days_agree(url)
        await _insert(url, _spread(5, seed=4))  # and keeps them from then on
        await _days_agree(url)
    finally:
        drop_database(url)


# ------------------------------------------------------------------ deep pages


@pytest.fixture
def jump_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every offset jumps (the service in process reads paging.JUMP_FROM at each request)."""
    monkeypatch.setattr(paging, "JUMP_FROM", 0)


@pytest.mark.slow
async def test_jumped_pages_equal_plain_offset_pages(users_client, users_db_url, jump_always):
    url = users_db_url
    await _insert(url, _spread(160, seed=7))
    total = 160
    counts = await _sql(
        url,
        "SELECT count(*) FROM users GROUP BY (created_at AT TIME ZONE 'UTC')::date ORDER BY 1",
    )
    boundaries, running = [], 0
    for (n,) in counts:
        boundaries += [running - 1, running, running + 1]
        running += n
    offsets = sorted(
        {o for o in [*boundaries, 0, 1, 37, total - 1, total, total + 1, 10**6] if o >= 0}
    )
    for limit in (1, 7, 100):
        for offset in offsets:
            ids, meta = _page(await users_client.get(f"/users?limit={limit}&offset={offset}"))
            assert ids == await _plain_ids(url, limit=limit, offset=offset), (limit, offset)
            following = meta.pop("next")
            assert meta == {"total": total, "limit": limit, "offset": offset}
            assert (following is None) == (offset + limit >= total), (limit, offset)
            if following is not None and offset < total:  # a jumped page's cursor goes on
                after, _ = _page(await users_client.get(f"/users?limit={limit}&after={following}"))
                plain = await _plain_ids(url, limit=limit, offset=offset + limit)
                assert after == plain, (limit, offset)


async def test_a_jump_through_zero_and_negative_days_stays_exact(
    users_client, users_db_url, jump_always
):
    """Days emptied by deletes keep rows holding zero; they must not shift any page."""
    url = users_db_url
    await _insert(url, _spread(60, seed=9))
    await _sql(url, "DELETE FROM users WHERE created_at < %s", (START + timedelta(days=2),))
    total = (await _sql(url, "SELECT count(*) FROM users"))[0][0]
    for offset in range(0, total + 2):
        ids, meta = _page(await users_client.get(f"/users?limit=3&offset={offset}"))
        assert ids == await _plain_ids(url, limit=3, offset=offset), offset
        assert meta["total"] == total


async def test_an_empty_list_jumps_to_nothing(users_client, jump_always):
    ids, meta = _page(await users_client.get("/users?offset=5"))
    assert ids == []
    assert meta["total"] == 0


async def test_concurrent_inserts_while_paging_deep(users_client, users_db_url, jump_always):
    url = users_db_url
    await _insert(url, _spread(100, seed=11))
    stop = asyncio.Event()

    async def inserting() -> None:
        while not stop.is_set():
            await _insert(url, _spread(3, seed=random.randrange(10**6)))

    task = asyncio.create_task(inserting())
    try:
        for offset in range(0, 120, 7):
            response = await users_client.get(f"/users?limit=5&offset={offset}")
            assert response.status_code == 200, response.text
            ids, meta = _page(response)
            assert len(ids) <= 5
            assert meta["total"] >= 100
    finally:
        stop.set()
        await task
    await _days_agree(url)


# ------------------------------------------------------------------ hostile parameters


@pytest.mark.parametrize(
    "query",
    [
        "total=1",
        "total=yes",
        "total=TRUE",
        "total=",
        "total=true%00",
        "total=%D0%B4%D0%B0",
        "total=" + "t" * 5000,
        "total=true&total=true",
        "total=true&total=false",
    ],
)
async def test_total_accepts_true_or_false_only(users_client, query):
    error = error_of(await users_client.get(f"/users?{query}"), 400, "VALIDATION_ERROR")
    assert "total" in {detail["field"] for detail in error["details"]}


@pytest.mark.parametrize("value", ["true", "false"])
async def test_total_true_or_false_changes_nothing_here(users_client, users_db_url, value):
    await _insert(users_db_url, _spread(4, seed=5))
    ids, meta = _page(await users_client.get(f"/users?total={value}&limit=2"))
    assert meta["total"] == 4
    assert len(ids) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("offset=-1", "offset"),
        (f"offset={MAX_OFFSET + 1}", "offset"),
        ("offset=" + "9" * 40, "offset"),
        ("offset=abc", "offset"),
        ("offset=1.5", "offset"),
        ("offset=%00", "offset"),
        ("limit=-1", "limit"),
        (f"limit={MAX_LIMIT + 1}", "limit"),
    ],
)
async def test_hostile_offsets_and_limits_are_400(users_client, query, field):
    error = error_of(await users_client.get(f"/users?{query}"), 400, "VALIDATION_ERROR")
    assert field in {detail["field"] for detail in error["details"]}


@pytest.mark.parametrize("limit", [0, 1, MAX_LIMIT])
async def test_limits_at_the_bounds_and_the_largest_offset(
    users_client, users_db_url, jump_always, limit
):
    await _insert(users_db_url, _spread(3, seed=6))
    ids, meta = _page(await users_client.get(f"/users?limit={limit}&offset={MAX_OFFSET}"))
    assert ids == []
    assert meta == {"total": 3, "limit": limit, "offset": MAX_OFFSET, "next": None}
    ids, meta = _page(await users_client.get(f"/users?limit={limit}"))
    assert len(ids) == min(limit, 3)
    assert meta["total"] == 3
