"""The order list's `minAmount`/`maxAmount`: both ends included, with the other filters,
at money's edges, and answered from ix_orders_total_amount."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.support.envelope import data_of, error_of


async def order_of(client: httpx.AsyncClient, user_id: uuid.UUID, price: str) -> str:
    body = {
        "user_id": str(user_id),
        "items": [{"product": "Щебень", "quantity": 1, "price": price}],
    }
    return data_of(await client.post("/orders", json=body), 201)["id"]


async def ids(client: httpx.AsyncClient, **params: str) -> list[str]:
    return [o["id"] for o in data_of(await client.get("/orders", params=params))]


async def test_amounts_bound_the_list_both_ends_included(orders_client: httpx.AsyncClient):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    free = await order_of(orders_client, alice, "0")
    cheap = await order_of(orders_client, alice, "10.00")
    dear = await order_of(orders_client, bob, "99999999.99")
    assert await ids(orders_client, minAmount="10") == [cheap, dear]
    assert await ids(orders_client, maxAmount="10.00") == [free, cheap]
    assert await ids(orders_client, minAmount="0.01", maxAmount="99999999.98") == [cheap]
    assert await ids(orders_client, minAmount="10", maxAmount="10") == [cheap]
    assert await ids(orders_client, minAmount="0", maxAmount="99999999.99") == [free, cheap, dear]
    assert await ids(orders_client, minAmount="10", userId=str(alice)) == [cheap]
    page = (await orders_client.get("/orders", params={"minAmount": "10", "limit": 1})).json()
    assert page["meta"] == {  # a scan: only when asked
        "total": None,
        "limit": 1,
        "offset": 0,
        "next": page["meta"]["next"],
    }
    after = {"minAmount": "10", "after": page["meta"]["next"]}  # the page after it: the other
    assert [o["id"] for o in (await orders_client.get("/orders", params=after)).json()["data"]] == [
        dear
    ]
    asked: dict[str, str | int] = {"minAmount": "10", "limit": 1, "total": "true"}
    page = (await orders_client.get("/orders", params=asked)).json()
    assert page["meta"]["total"] == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("minAmount=-0.01", "minAmount"),
        ("minAmount=100000000", "minAmount"),
        ("maxAmount=0.001", "maxAmount"),
        ("maxAmount=NaN", "maxAmount"),
        ("maxAmount=-Infinity", "maxAmount"),
        ("minAmount=1e400", "minAmount"),
        ("minAmount=", "minAmount"),
        ("minAmount=%00", "minAmount"),
        ("minAmount=1&minAmount=2", "minAmount"),
        ("minAmount=5&maxAmount=4.99", "minAmount"),
        ("min_amount=5", "min_amount"),  # the /v1 API's name is the gateway's to translate
    ],
)
async def test_a_bad_amount_is_400(orders_client: httpx.AsyncClient, query: str, field: str):
    error = error_of(await orders_client.get(f"/orders?{query}"), 400, "VALIDATION_ERROR")
    assert field in {detail["field"] for detail in error["details"]}, error


async def test_an_amount_range_is_read_from_its_index(orders_app: FastAPI):
    async with orders_app.state.engine.connect() as conn:
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = await conn.exec_driver_sql(
            "EXPLAIN SELECT id FROM orders WHERE total_amount >= 10 AND total_amount <= 20"
            " ORDER BY created_at, id LIMIT 100"
        )
        text = "\n".join(row[0] for row in plan)
    assert "ix_orders_total_amount" in text, text
