"""CSV exports through the gateway: RFC 4180, UTF-8 with Cyrillic intact, every page,
the same figures as the JSON; errors before the first row stay JSON envelopes."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.support.graphql import Gateway
from tests.support.procs import RunningProcess

PRODUCTS = ["Бетон М300", 'Щебень "гранитный", 5-20', "Арматура\nА500С"]


def parsed(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
    raw = response.content
    assert raw.startswith("\ufeff".encode())  # spreadsheets read it as UTF-8
    body = raw.decode("utf-8-sig")
    assert body.count("\n") == body.count("\r\n")  # every line ends CRLF
    return list(csv.DictReader(io.StringIO(body, newline="")))


async def seed_many(orders_app: FastAPI, user_id: str, count: int) -> None:
    """`count` orders straight into the database (products cycling, statuses too)."""
    statement = text(
        """
        INSERT INTO orders (user_id, items, status, total_amount, due_date, created_at,
                            updated_at, completed_at)
        SELECT CAST(:user_id AS uuid),
               json_build_array(json_build_object(
                   'product', (ARRAY[:p0, :p1, :p2])[1 + n % 3],
                   'quantity', 1 + n % 7, 'price', '10.50')),
               (ARRAY['created', 'in_progress', 'completed', 'cancelled'])[1 + n % 4],
               (1 + n % 7) * 10.50,
               CASE WHEN n % 5 = 0 THEN NULL ELSE DATE '2026-12-01' + n % 60 END,
               now() - n * interval '1 second', now(),
               CASE WHEN n % 4 = 2 THEN now() END
        FROM generate_series(1, :count) AS n
        """
    )
    params = {"user_id": user_id, "count": count, "p0": PRODUCTS[0], "p1": PRODUCTS[1]}
    async with orders_app.state.engine.begin() as conn:
        await conn.execute(statement, {**params, "p2": PRODUCTS[2]})


@pytest.mark.slow
async def test_ten_thousand_orders_export_with_cyrillic_and_match_the_json(
    gateway_app: Gateway, orders_app: FastAPI, orders_process: RunningProcess
) -> None:
    client, app = gateway_app
    user_id = str(uuid.uuid4())
    await seed_many(orders_app, user_id, 10_000)
    before = app.state.clients.orders.calls
    response = await client.get(
        "/orders", params={"userId": user_id}, headers={"Accept": "text/csv"}
    )
    rows = parsed(response)
    assert app.state.clients.orders.calls - before == 10  # pages of 1,000
    assert len(rows) == 10_000
    assert len({row["id"] for row in rows}) == 10_000
    assert list(rows[0]) == [
        "id",
        "user_id",
        "assignee_id",
        "status",
        "total_amount",
        "due_date",
        "overdue",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "items",
    ]
    # The JSON's figures, from the CSV's rows.
    stats = (await client.get("/orders/stats", params={"userId": user_id})).json()["data"]
    assert sum(Decimal(row["total_amount"]) for row in rows) == Decimal(stats["total_amount"])
    for each in stats["by_status"]:
        assert sum(row["status"] == each["status"] for row in rows) == each["count"]
    assert sum(row["overdue"] == "true" for row in rows) == stats["overdue"]
    products = {row["items"].split('"product":"')[1].split('","')[0] for row in rows}
    assert "Бетон М300" in products
    # The first page as JSON, the first 1,000 rows as CSV: the same orders, in order.
    page = (await client.get("/orders", params={"userId": user_id, "limit": 1000})).json()
    assert [o["id"] for o in page["data"]] == [row["id"] for row in rows[:1000]]
    assert page["data"][0]["items"][0]["product"] in PRODUCTS


async def test_csv_quotes_what_rfc_4180_needs_and_honours_filters(
    gateway_app: Gateway, orders_process: RunningProcess
) -> None:
    client, _ = gateway_app
    user_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=orders_process.url, timeout=10) as http:
        for product in PRODUCTS:
            body = {"user_id": user_id, "items": [{"product": product, "quantity": 1, "price": 1}]}
            assert (await http.post("/orders", json=body)).status_code == 201
    rows = parsed(
        await client.get(
            "/orders", params={"userId": user_id, "format": "csv", "fields": "items,status"}
        )
    )
    assert [list(row) for row in rows[:1]] == [["id", "status", "items"]]
    products = [row["items"] for row in rows]
    assert products == [
        '[{"product":"Бетон М300","quantity":1,"price":"1.00"}]',
        '[{"product":"Щебень \\"гранитный\\", 5-20","quantity":1,"price":"1.00"}]',
        '[{"product":"Арматура\\nА500С","quantity":1,"price":"1.00"}]',
    ]
    found = parsed(
        await client.get("/orders", params={"userId": user_id, "q": "бетон", "format": "csv"})
    )
    assert len(found) == 1
    limited = await client.get(
        "/orders",
        params={"userId": user_id, "limit": 2, "offset": 1},
        headers={"Accept": "text/csv"},
    )
    assert len(parsed(limited)) == 2
    # JSON when asked for, or when JSON is preferred.
    for headers, params in (
        ({"Accept": "text/csv"}, {"format": "json"}),
        ({"Accept": "application/json, text/csv;q=0.5"}, {}),
        ({"Accept": "text/csv;q=0"}, {}),
        ({}, {}),
    ):
        response = await client.get(
            "/orders", params={"userId": user_id, **params}, headers=headers
        )
        assert response.headers["content-type"].startswith("application/json"), headers
        assert len(response.json()["data"]) == 3


async def test_report_csvs(gateway_app: Gateway, orders_process: RunningProcess) -> None:
    client, _ = gateway_app
    stats = parsed(await client.get("/orders/stats", params={"format": "csv"}))
    assert [row["status"] for row in stats] == [
        "created",
        "in_progress",
        "completed",
        "cancelled",
        "all",
    ]
    assert stats[-1]["on_time_share"] == ""  # no completed work with a deadline
    days = parsed(
        await client.get(
            "/orders/stats/daily",
            params={"from": "2026-11-29", "to": "2026-12-01"},
            headers={"Accept": "text/csv"},
        )
    )
    assert days == [
        {"date": f"2026-{d}", "created": "0", "completed": "0"} for d in ("11-29", "11-30", "12-01")
    ]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/orders", {"format": "xlsx"}),
        ("/orders", {"format": "CSV"}),
        ("/orders", {"format": ""}),
        ("/orders", {"format": "csv", "fields": "nope"}),
        ("/orders", {"format": "csv", "sort": "name"}),
        ("/orders/stats", {"format": "csv", "from": "2026-02-30"}),
        ("/orders/stats/daily", {"format": "csv", "from": "2020-01-01", "to": "2026-01-01"}),
    ],
)
async def test_csv_errors_are_json_envelopes_before_any_row(
    gateway_app: Gateway, path: str, params: dict
) -> None:
    client, _ = gateway_app
    response = await client.get(path, params=params, headers={"Accept": "text/csv"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
