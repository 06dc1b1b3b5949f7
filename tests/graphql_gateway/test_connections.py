"""Cursor pages through the gateway: REST `?after=`/`meta.next` over real service processes,
GraphQL `usersConnection`/`ordersConnection`, and the hostile values both refuse before any
call (docs/pagination.md)."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.graphql_gateway.test_graphql_federation import data_of, error_codes
from tests.service_orders.test_cursors import _row, expected, insert
from tests.support.graphql import Gateway, counted, gql


async def walk_rest(client: httpx.AsyncClient, path: str, limit: int, **params: Any) -> list[str]:
    seen: list[str] = []
    response = await client.get(path, params={"limit": limit, **params})
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [each["id"] for each in body["data"]]
        if body["meta"]["next"] is None:
            return seen
        query = {"limit": limit, "after": body["meta"]["next"], **params}
        response = await client.get(path, params=query)


ORDERS = (
    "query($after: String, $sort: String, $first: Int!) { ordersConnection(first: $first,"
    " after: $after, sort: $sort) { edges { cursor node { id } }"
    " pageInfo { hasNextPage endCursor } } }"
)
USERS = (
    "query($after: String) { usersConnection(first: 3, after: $after) { edges { cursor"
    " node { id name } } pageInfo { hasNextPage endCursor } } }"
)


async def walk_graphql(
    client: httpx.AsyncClient, query: str, field: str, **variables: Any
) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        connection = data_of(await gql(client, query, {**variables, "after": after}))[field]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.slow
@pytest.mark.parametrize("sort", ["created_at", "-updated_at", "due_date", "-due_date"])
async def test_orders_walk_through_gateway_rest_and_graphql(
    gateway_app: Gateway, orders_app: FastAPI, sort: str
) -> None:
    rows = [_row(random.Random(f"gw-{sort}-{n}")) for n in range(60)]
    await insert(orders_app, rows)
    client, _ = gateway_app
    want = expected(rows, sort)
    assert await walk_rest(client, "/orders", 7, sort=sort) == want
    assert await walk_graphql(client, ORDERS, "ordersConnection", sort=sort, first=7) == want
    # The gateway forwards what the service made: the two cursors are the same.
    rest = (await client.get("/orders", params={"limit": 4, "sort": sort})).json()
    graphql = data_of(await gql(client, ORDERS, {"sort": sort, "first": 4}))
    assert graphql["ordersConnection"]["pageInfo"]["endCursor"] == rest["meta"]["next"]


async def test_users_walk_through_gateway(gateway_app: Gateway) -> None:
    client, _ = gateway_app
    made = []
    for n in range(8):
        body = {"email": f"walk{n}@example.com", "name": f"Walker {n}"}
        made.append((await client.post("/users", json=body)).json()["data"])
    want = [user["id"] for user in sorted(made, key=lambda u: (u["created_at"], u["id"]))]
    assert await walk_rest(client, "/users", 3) == want
    assert await walk_graphql(client, USERS, "usersConnection") == want
    ids = ",".join(user["id"] for user in made[:5])
    assert await walk_rest(client, "/users", 2, ids=ids) == [u for u in want if u in ids]


async def test_total_count_is_asked_for_only_when_selected(
    gateway_app: Gateway, orders_app: FastAPI
) -> None:
    await insert(orders_app, [_row(random.Random(n)) for n in range(5)])
    client, app = gateway_app
    sent: list[dict[str, Any]] = []
    fetch = app.state.clients.orders.fetch

    async def spy(method: str, path: str, **kwargs: Any) -> Any:
        sent.append(dict(kwargs.get("params") or {}))
        return await fetch(method, path, **kwargs)

    app.state.clients.orders.fetch = spy
    plain = data_of(await gql(client, "{ ordersConnection(first: 2) { edges { cursor } } }"))
    assert len(plain["ordersConnection"]["edges"]) == 2
    counted_ = data_of(await gql(client, "{ ordersConnection(first: 2) { totalCount } }"))
    assert counted_ == {"ordersConnection": {"totalCount": 5}}
    fragment = (
        "{ ordersConnection(first: 2) { ...F } } fragment F on OrderConnection { totalCount }"
    )
    assert data_of(await gql(client, fragment))["ordersConnection"]["totalCount"] == 5
    assert ["total" in params for params in sent] == [False, True, True]
    assert all(params.get("total") in (None, "true") for params in sent)


HOSTILE_AFTER = [
    "",
    "x",
    "%00",
    "a\x00b",
    "бетон",
    "\U0001f600",
    "A" * 513,
    "A" * 10_000,
    "eyJ0b3RhbCI6MX0",
]


@pytest.mark.parametrize("after", HOSTILE_AFTER)
async def test_rest_refuses_hostile_cursors_before_any_call(
    gateway_app: Gateway, after: str
) -> None:
    client, app = gateway_app
    before = app.state.clients.orders.calls, app.state.clients.users.calls
    for path in ("/orders", "/users"):
        response = await client.get(path, params={"after": after})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert [detail["field"] for detail in error["details"]] == ["after"], error
    assert (app.state.clients.orders.calls, app.state.clients.users.calls) == before


async def test_rest_refuses_cursors_of_another_list_sort_or_with_an_offset(
    gateway_app: Gateway, orders_app: FastAPI
) -> None:
    await insert(orders_app, [_row(random.Random(n)) for n in range(5)])
    client, app = gateway_app
    cursor = (await client.get("/orders", params={"limit": 1})).json()["meta"]["next"]
    before = app.state.clients.orders.calls
    for path, params in (
        ("/orders", {"after": cursor, "sort": "-created_at"}),
        ("/orders", {"after": cursor, "offset": 1}),
        ("/orders", {"after": cursor, "format": "csv"}),
        ("/users", {"after": cursor}),
    ):
        response = await client.get(path, params=params)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"][0]["field"] == "after"
    assert app.state.clients.orders.calls == before
    assert (await client.get("/orders", params={"after": cursor})).status_code == 200


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ("first: -1", "first"),
        ("first: 1001", "first"),
        ('after: ""', "after"),
        ('after: "not a cursor"', "after"),
        ('after: "a\\u0000b"', "after"),
        (f'after: "{"A" * 600}"', "after"),
        ('after: "бетон"', "after"),
        ('sort: "-due_date", after: "CURSOR"', "after"),  # made for created_at
    ],
)
async def test_graphql_refuses_hostile_connection_arguments_before_any_call(
    gateway_app: Gateway, orders_app: FastAPI, arguments: str, field: str
) -> None:
    await insert(orders_app, [_row(random.Random(n)) for n in range(3)])
    client, _ = gateway_app
    cursor = (await client.get("/orders", params={"limit": 1})).json()["meta"]["next"]
    arguments = arguments.replace("CURSOR", cursor)
    for connection in ("ordersConnection", "usersConnection"):
        if "sort" in arguments and connection == "usersConnection":
            continue
        query = f"{{ {connection}({arguments}) {{ edges {{ cursor }} }} }}"
        body, users_calls, orders_calls = await counted(gateway_app, query)
        assert error_codes(body) == ["VALIDATION_ERROR"], body
        assert body["data"] is None
        details = body["errors"][0]["extensions"]["details"]
        assert [detail["field"] for detail in details] == [field], body
        assert (users_calls, orders_calls) == (0, 0)


@pytest.mark.parametrize("arguments", ["first: 2147483648", 'first: "1"', "after: 5"])
async def test_graphql_refuses_mistyped_connection_arguments(
    gateway_app: Gateway, arguments: str
) -> None:
    body, users_calls, orders_calls = await counted(
        gateway_app, f"{{ ordersConnection({arguments}) {{ totalCount }} }}"
    )
    assert body.get("data") is None, body
    assert body["errors"], body
    assert (users_calls, orders_calls) == (0, 0)


async def test_a_connection_is_costed_like_its_list(gateway_app: Gateway) -> None:
    """`first` sizes `edges` as `limit` sizes `items`: a nested page too big is refused."""
    nested = "{{ {field}({size}: 1000) {{ {items} {{ {inner} }} }} }}"
    for field, size, items, inner in (
        ("users", "limit", "items", "orders { user { orders { id } } }"),
        ("usersConnection", "first", "edges", "node { orders { user { orders { id } } } }"),
    ):
        query = nested.format(field=field, size=size, items=items, inner=inner)
        body, users_calls, orders_calls = await counted(gateway_app, query)
        assert error_codes(body) == ["QUERY_TOO_COMPLEX"], body
        assert (users_calls, orders_calls) == (0, 0)
