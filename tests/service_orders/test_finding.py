"""Finding work in the orders list: sort, date ranges, statuses, the products search."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from apicore.finding import Finding
from service_orders.models import Order
from service_orders.repository import _found
from tests.service_orders.test_orders_api import assert_validation, put
from tests.support.envelope import data_of


async def make(client: httpx.AsyncClient, product: str = "Щебень", **fields: Any) -> dict:
    body = {
        "user_id": str(uuid.uuid4()),
        "items": [{"product": product, "quantity": 1, "price": fields.pop("price", "10.00")}],
        **fields,
    }
    return data_of(await client.post("/orders", json=body), 201)


async def listed(client: httpx.AsyncClient, **params: Any) -> list[dict]:
    response = await client.get("/orders", params={"limit": 1000, **params})
    return data_of(response)


def key_of(order: dict, key: str) -> Any:
    value = order[key]
    return float(value) if key == "total_amount" else value


@pytest.mark.parametrize("key", ["created_at", "updated_at", "due_date", "total_amount"])
async def test_sort_each_key_both_ways_ties_by_id(
    orders_client: httpx.AsyncClient, key: str
) -> None:
    made = []
    for i in range(12):  # duplicates on purpose: ties must still have one order
        due = ["2026-12-01", "2027-01-15", None][i % 3]
        made.append(await make(orders_client, price=["5.00", "70.00"][i % 2], due_date=due))
    for order in made[::4]:  # a few changed later: updated_at differs from created_at's order
        await put(orders_client, order["id"], status="in_progress")
    everything = await listed(orders_client)
    present = [o for o in everything if o[key] is not None]
    missing = [o for o in everything if o[key] is None]
    up = sorted(present, key=lambda o: (key_of(o, key), o["id"])) + sorted(
        missing, key=lambda o: o["id"]
    )
    assert [o["id"] for o in await listed(orders_client, sort=key)] == [o["id"] for o in up]
    down = [o["id"] for o in await listed(orders_client, sort=f"-{key}")]
    assert down == [o["id"] for o in reversed(up)]
    # Pages of 5 put together are the whole list: nothing twice, nothing skipped.
    paged: list[str] = []
    for offset in range(0, len(made), 5):
        page = await orders_client.get(
            "/orders", params={"sort": f"-{key}", "limit": 5, "offset": offset}
        )
        paged += [o["id"] for o in data_of(page)]
    assert paged == down


async def test_date_ranges_and_statuses(orders_client: httpx.AsyncClient) -> None:
    today = datetime.now(UTC).date()
    early = await make(orders_client, due_date="2026-12-01")
    late = await make(orders_client, due_date="2027-06-01", status="in_progress")
    none = await make(orders_client, status="cancelled")
    ids = lambda orders: {o["id"] for o in orders}  # noqa: E731
    assert ids(await listed(orders_client, dueFrom="2027-01-01")) == {late["id"]}
    assert ids(await listed(orders_client, dueTo="2026-12-01")) == {early["id"]}
    assert ids(await listed(orders_client, dueFrom="2026-12-01", dueTo="2027-06-01")) == {
        early["id"],
        late["id"],
    }
    assert ids(await listed(orders_client, dueFrom="0001-01-01", dueTo="9999-12-31")) == {
        early["id"],
        late["id"],
    }
    everyone = {early["id"], late["id"], none["id"]}
    assert ids(await listed(orders_client, createdFrom=today.isoformat())) == everyone
    assert ids(await listed(orders_client, createdTo=today.isoformat())) == everyone
    yesterday = (today - timedelta(days=1)).isoformat()
    assert await listed(orders_client, createdTo=yesterday) == []
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert await listed(orders_client, createdFrom=tomorrow) == []
    edges = await listed(orders_client, createdFrom="0001-01-01", createdTo="9999-12-31")
    assert ids(edges) == everyone
    both = await listed(orders_client, statuses="created,cancelled")
    assert ids(both) == {early["id"], none["id"]}
    assert ids(await listed(orders_client, statuses="in_progress,in_progress")) == {late["id"]}
    combined = await listed(orders_client, statuses="created,in_progress", sort="-due_date")
    assert [o["id"] for o in combined] == [late["id"], early["id"]]


async def test_search_over_products_any_case(orders_client: httpx.AsyncClient) -> None:
    concrete = await make(orders_client, "Бетон М300")
    await make(orders_client, "Щебень гранитный")
    odd = await make(orders_client, "Скидка 100%_особая")
    for q in ("бетон", "БЕТОН", "м300", "Бетон М300", " тон м3 "):
        assert [o["id"] for o in await listed(orders_client, q=q)] == [concrete["id"]], q
    assert [o["id"] for o in await listed(orders_client, q="100%_")] == [odd["id"]]
    # Wildcards are literal: `%` and `_` match only themselves.
    assert await listed(orders_client, q="%") == await listed(orders_client, q="100%")
    assert [o["id"] for o in await listed(orders_client, q="_")] == [odd["id"]]
    assert await listed(orders_client, q="кирпич") == []
    # Any item of the order counts, not only the first.
    body = {
        "user_id": str(uuid.uuid4()),
        "items": [
            {"product": "Арматура", "quantity": 1, "price": "1.00"},
            {"product": "бетон В25", "quantity": 2, "price": "1.00"},
        ],
    }
    second = data_of(await orders_client.post("/orders", json=body), 201)
    assert [o["id"] for o in await listed(orders_client, q="Бетон")] == [
        concrete["id"],
        second["id"],
    ]
    # A search's total is a count of every match: only when asked (docs/totals.md).
    response = await orders_client.get("/orders", params={"q": "бетон", "limit": 1})
    assert response.json()["meta"]["total"] is None
    asked: dict[str, str | int] = {"q": "бетон", "limit": 1, "total": "true"}
    assert (await orders_client.get("/orders", params=asked)).json()["meta"]["total"] == 2


async def test_the_search_can_use_its_trigram_index(orders_app: FastAPI) -> None:
    """The condition the route builds is the indexed expression (no seq scan when told)."""
    condition = _found(Finding(q="бетон"))
    statement = select(Order.id).where(*condition)
    compiled = statement.compile(
        dialect=orders_app.state.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    async with orders_app.state.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = (await conn.exec_driver_sql(f"EXPLAIN {compiled}")).scalars().all()
    assert any("ix_orders_products_trgm" in line for line in plan), plan


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "name"}, "sort"),
        ({"sort": "--created_at"}, "sort"),
        ({"sort": "-"}, "sort"),
        ({"sort": "created_at,id"}, "sort"),
        ({"sort": "ИД"}, "sort"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "бетон\x00"}, "q"),
        ({"q": "a\nb"}, "q"),
        ({"statuses": "done"}, "statuses"),
        ({"statuses": ","}, "statuses"),
        ({"statuses": "created,CREATED"}, "statuses"),
        ({"createdFrom": "2026-02-30"}, "createdFrom"),
        ({"createdFrom": "26-12-01"}, "createdFrom"),
        ({"createdTo": "99999-01-01"}, "createdTo"),
        ({"createdFrom": "2026-12-02", "createdTo": "2026-12-01"}, "createdFrom"),
        ({"dueFrom": "2027-01-01", "dueTo": "2026-01-01"}, "dueFrom"),
        ({"dueTo": "1e3"}, "dueTo"),
    ],
)
async def test_bad_finding_parameters_are_400(
    orders_client: httpx.AsyncClient, params: dict, field: str
) -> None:
    assert_validation(await orders_client.get("/orders", params=params), field)
