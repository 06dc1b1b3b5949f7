"""Finding work through the gateway: REST and GraphQL give the same answers and refuse
the same bad values (400 / VALIDATION_ERROR) before any call to the orders service."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.graphql_gateway.test_graphql_federation import data_of, error_codes
from tests.support.graphql import Gateway, counted, gql
from tests.support.procs import RunningProcess


async def seed(orders_url: str) -> list[dict[str, Any]]:
    rows = [
        ("Бетон М300", "4500.00", "2027-01-10", "created"),
        ("Щебень", "900.00", "2026-12-20", "in_progress"),
        ("бетон В25", "3000.00", None, "created"),
        ("Арматура", "120.00", "2026-12-31", "cancelled"),
    ]
    made = []
    async with httpx.AsyncClient(base_url=orders_url, timeout=10) as http:
        for product, price, due, status in rows:
            body = {
                "user_id": str(uuid.uuid4()),
                "items": [{"product": product, "quantity": 1, "price": price}],
                "due_date": due,
                "status": status,
            }
            response = await http.post("/orders", json=body)
            assert response.status_code == 201, response.text
            made.append(response.json()["data"])
    return made


async def test_rest_and_graphql_find_the_same_work(
    gateway_app: Gateway, orders_process: RunningProcess
) -> None:
    concrete, gravel, concrete_b, rebar = await seed(orders_process.url)
    client, _ = gateway_app
    rest = await client.get(
        "/orders", params={"q": "бетон", "sort": "-total_amount", "statuses": "created"}
    )
    assert [o["id"] for o in rest.json()["data"]] == [concrete["id"], concrete_b["id"]]
    body, _, orders_calls = await counted(
        gateway_app,
        '{ orders(q: "бетон", sort: "-total_amount", statuses: [CREATED]) '
        "{ total items { id items { product } } } }",
    )
    assert orders_calls == 1
    page = data_of(body)["orders"]
    assert page["total"] == 2
    assert [o["id"] for o in page["items"]] == [concrete["id"], concrete_b["id"]]
    assert page["items"][0]["items"] == [{"product": "Бетон М300"}]
    due = await gql(
        client,
        '{ orders(dueFrom: "2026-12-20", dueTo: "2026-12-31", sort: "due_date") '
        "{ items { id dueDate } } }",
    )
    assert [o["id"] for o in data_of(due)["orders"]["items"]] == [gravel["id"], rebar["id"]]
    rest_due = await client.get(
        "/orders", params={"dueFrom": "2026-12-20", "dueTo": "2026-12-31", "sort": "due_date"}
    )
    assert [o["id"] for o in rest_due.json()["data"]] == [gravel["id"], rebar["id"]]
    edges = await gql(
        client,
        '{ orders(createdFrom: "0001-01-01", createdTo: "9999-12-31") { total } }',
    )
    assert data_of(edges)["orders"]["total"] == 4


@pytest.mark.parametrize(
    "arguments",
    [
        'sort: "name"',
        'sort: "-"',
        "statuses: []",
        'q: ""',
        f'q: "{"я" * 101}"',
        'q: "a\\u0000b"',
        'createdFrom: "2026-12-02", createdTo: "2026-12-01"',
        'dueFrom: "2027-01-01", dueTo: "2026-01-01"',
    ],
)
async def test_graphql_refuses_bad_finding_arguments_before_any_call(
    gateway_app: Gateway, arguments: str
) -> None:
    body, users_calls, orders_calls = await counted(
        gateway_app, f"{{ orders({arguments}) {{ total }} }}"
    )
    assert error_codes(body) == ["VALIDATION_ERROR"], body
    assert (users_calls, orders_calls) == (0, 0)


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "name"},
        {"q": "x" * 101},
        {"q": "\x00"},
        {"statuses": "done"},
        {"createdFrom": "2026-13-01"},
        {"dueTo": "9999-99-99"},
    ],
)
async def test_rest_refuses_bad_finding_parameters_before_any_call(
    gateway_app: Gateway, params: dict
) -> None:
    client, app = gateway_app
    before = app.state.clients.orders.calls
    response = await client.get("/orders", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert app.state.clients.orders.calls == before
