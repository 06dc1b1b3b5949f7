"""Totals through the gateway (docs/totals.md): REST forwards `?total`, GraphQL asks for a
total only when it is selected, and the CSV export works where no total is counted."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from graphql_gateway.rest.csv_export import EXPORT_PAGE
from tests.graphql_gateway.test_csv_export import parsed, seed_many
from tests.support.envelope import data_of, error_of
from tests.support.graphql import Gateway, counted

OVERDUE = "due_date < (now() AT TIME ZONE 'UTC')::date AND status IN ('created', 'in_progress')"


async def _seeded(orders_app: FastAPI, count: int) -> str:
    user_id = str(uuid.uuid4())
    await seed_many(orders_app, user_id, count)  # products cycle over three, one is "Бетон"
    return user_id


async def test_rest_totals_are_null_for_a_search_unless_asked(
    gateway_app: Gateway, orders_app: FastAPI
) -> None:
    client, _ = gateway_app
    await _seeded(orders_app, 30)
    plain = await client.get("/orders", params={"q": "бетон", "limit": 2})
    assert plain.json()["meta"] == {
        "total": None,
        "limit": 2,
        "offset": 0,
        "next": plain.json()["meta"]["next"],
    }
    assert plain.json()["meta"]["next"] is not None  # 10 matches: more follow
    asked = await client.get("/orders", params={"q": "бетон", "limit": 2, "total": "true"})
    assert asked.json()["meta"]["total"] == 10
    free = await client.get("/orders", params={"statuses": "created,cancelled", "limit": 1})
    assert free.json()["meta"]["total"] == 14  # n % 4 in (0, 3) of n = 1..30
    users = await client.get("/users", params={"total": "true", "limit": 1})
    assert data_of(users) == []
    assert users.json()["meta"]["total"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/orders?total=1",
        "/orders?total=yes&q=a",
        "/orders?total=true&total=false",
        "/orders?total=%00",
        "/users?total=TRUE",
        "/users?total=" + "t" * 2000,
        f"/orders/{uuid.uuid4()}/history?total=nope",
    ],
)
async def test_the_gateway_refuses_a_bad_total_before_any_call(
    gateway_app: Gateway, path: str
) -> None:
    client, app = gateway_app
    before = app.state.clients.orders.calls + app.state.clients.users.calls
    error = error_of(await client.get(path), 400, "VALIDATION_ERROR")
    assert "total" in {detail["field"] for detail in error["details"]}
    assert app.state.clients.orders.calls + app.state.clients.users.calls == before


async def test_a_csv_export_without_a_total_has_every_match(
    gateway_app: Gateway, orders_app: FastAPI
) -> None:
    """A search's total is not counted: the export reads pages until a short one."""
    client, _ = gateway_app
    await _seeded(orders_app, EXPORT_PAGE * 2 + 30)  # three pages of the export
    rows = parsed(await client.get("/orders", params={"q": "бетон", "format": "csv"}))
    assert len(rows) == (EXPORT_PAGE * 2 + 30) // 3
    assert len({row["id"] for row in rows}) == len(rows)
    part = parsed(
        await client.get("/orders", params={"q": "бетон", "format": "csv", "limit": 5, "offset": 3})
    )
    assert len(part) == 5
    beyond = parsed(
        await client.get("/orders", params={"q": "бетон", "format": "csv", "offset": 10**6})
    )
    assert beyond == []


async def test_graphql_counts_a_search_only_when_total_is_selected(
    gateway_app: Gateway, orders_app: FastAPI
) -> None:
    await _seeded(orders_app, 12)
    body, _, calls = await counted(gateway_app, '{ orders(q: "бетон", limit: 1) { total } }')
    assert body == {"data": {"orders": {"total": 4}}}
    assert calls == 1
    body, _, _ = await counted(gateway_app, '{ orders(q: "бетон") { items { id } } }')
    assert len(body["data"]["orders"]["items"]) == 4
    async with orders_app.state.engine.connect() as conn:
        overdue = (
            await conn.execute(text(f"SELECT count(*) FROM orders WHERE {OVERDUE}"))
        ).scalar()
    query = "{ users { total } late: orders(overdue: true) { total } }"
    body, _, _ = await counted(gateway_app, query)
    assert body["data"] == {"users": {"total": 0}, "late": {"total": overdue}}
    assert overdue > 0
