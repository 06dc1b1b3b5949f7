"""Cursor pagination of the users list (apicore/keyset.py): oldest first, ties by id, users
created during a walk, hostile cursors."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from apicore.keyset import encode
from tests.service_orders.test_orders_api import assert_validation

BASE = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _user(rng: random.Random) -> dict[str, Any]:
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "email": f"u{rng.getrandbits(64):x}@example.com",
        "created_at": BASE + timedelta(microseconds=rng.randrange(8)),  # many ties
    }


async def insert(app: FastAPI, rows: list[dict[str, Any]]) -> None:
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO users (id, email, name, created_at, updated_at) VALUES"
            " (%(id)s, %(email)s, 'Пётр', %(created_at)s, %(created_at)s)",
            rows,
        )


def in_order(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in sorted(rows, key=lambda r: (r["created_at"], str(r["id"])))]


async def walk(client: httpx.AsyncClient, limit: int, **params: Any) -> list[str]:
    seen: list[str] = []
    response = await client.get("/users", params={"limit": limit, **params})
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [user["id"] for user in body["data"]]
        if body["meta"]["next"] is None:
            return seen
        after = body["meta"]["next"]
        response = await client.get("/users", params={"limit": limit, "after": after, **params})


async def test_walk_with_ties_and_inserts(
    users_client: httpx.AsyncClient, users_app: FastAPI
) -> None:
    rng = random.Random(3)
    rows = [_user(rng) for _ in range(120)]
    await insert(users_app, rows)
    assert await walk(users_client, 7) == in_order(rows)
    assert await walk(users_client, 1, fields="name") == in_order(rows)
    some = rows[::3]
    ids = ",".join(str(r["id"]) for r in some)
    assert await walk(users_client, 4, ids=ids) == in_order(some)
    # Users created during a walk: before, at and after the cursor; none shifts it.
    seen: list[str] = []
    response = await users_client.get("/users", params={"limit": 10})
    while True:
        body = response.json()
        seen += [user["id"] for user in body["data"]]
        await insert(users_app, [_user(rng) for _ in range(5)])
        if body["meta"]["next"] is None:
            break
        params = {"limit": 10, "after": body["meta"]["next"]}
        response = await users_client.get("/users", params=params)
    original = set(in_order(rows))
    assert len(seen) == len(set(seen))
    assert [each for each in seen if each in original] == in_order(rows)


async def test_hostile_cursors(users_client: httpx.AsyncClient, users_app: FastAPI) -> None:
    await insert(users_app, [_user(random.Random(n)) for n in range(3)])
    good = (await users_client.get("/users", params={"limit": 1})).json()["meta"]["next"]
    some_id = str(uuid.uuid4())
    for cursor in (
        "",
        "%00",
        "бетон",
        "A" * 513,
        good[:-2],
        encode("orders", "created_at", False, ["2026-11-01T08:00:00.000000+00:00", some_id]),
        encode("users", "created_at", True, ["2026-11-01T08:00:00.000000+00:00", some_id]),
        encode("users", "updated_at", False, ["2026-11-01T08:00:00.000000+00:00", some_id]),
        encode("users", "created_at", False, [None, some_id]),
        encode("users", "created_at", False, ["2026-11-01", some_id]),
    ):
        assert_validation(await users_client.get("/users", params={"after": cursor}), "after")
    response = await users_client.get("/users", params={"after": good, "offset": 2})
    assert_validation(response, "after")
    for edge in ("0001-01-01T00:00:00.000000+00:00", "9999-12-31T23:59:59.999999+00:00"):
        cursor = encode("users", "created_at", False, [edge, some_id])
        response = await users_client.get("/users", params={"after": cursor})
        assert response.status_code == 200, response.text
        assert len(response.json()["data"]) == (3 if edge.startswith("0001") else 0)
