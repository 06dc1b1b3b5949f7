"""Compiled plans give exactly what the stock executor gives: data, errors and call counts.

Every query below runs on two gateways over the same services, one with compiled
plans and one without, and the answers must be identical (errors compared as a set,
since concurrent branches may report them in another order).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from graphql_gateway.graphql.compiled import CompiledExecution
from graphql_gateway.graphql.limits import document_key
from tests.conftest import gateway_for
from tests.support.procs import running

MISSING = "00000000-0000-4000-8000-000000000000"

COMPILED_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("{ users { total items { id name email roles createdAt updatedAt } } }", {}),
    ("{ users(limit: 100) { items { id name orders { id status totalAmount } } } }", {}),
    ("{ users(limit: 2, offset: 1) { total items { name } } }", {}),
    (
        "{ users { items { id orders { id userId items { product quantity price } "
        "status totalAmount createdAt updatedAt } } } }",
        {},
    ),
    (
        "{ users { items { name done: orders(status: COMPLETED) { id } "
        "open: orders(status: CREATED) { id } } } }",
        {},
    ),
    (
        "query($s: OrderStatus) { users { items { name orders(status: $s) { id status } } } }",
        {"s": "IN_PROGRESS"},
    ),
    ("query($s: OrderStatus) { users { items { orders(status: $s) { id } } } }", {}),
    ("{ orders { total items { id status user { id name orders { id } } } } }", {}),
    ("{ orders(limit: 3, offset: 2) { total items { id totalAmount } } }", {}),
    ("query($u: UUID) { orders(userId: $u, status: CANCELLED) { total items { id } } }", "U0"),
    (
        "{ __typename users { __typename items { __typename orders { __typename "
        "items { __typename product } } } } }",
        {},
    ),
    ("{ users { items { id } items { name orders { id } } } }", {}),
    (
        "query Dash { users { items { ...Person orders { ...OrderBits } } } } "
        "fragment Person on User { id name } fragment OrderBits on Order { id status }",
        {},
    ),
    ("{ users { items { ... on User { name } ... { email } } } }", {}),
    ("{ a: users(limit: 1) { items { name } } b: users(offset: 1) { total } }", {}),
    ("query($id: UUID!) { user(id: $id) { name orders { user { orders { id } } } } }", "U0"),
    ("query($id: UUID!) { user(id: $id) { id } }", {"id": MISSING}),
    ("query($ids: [UUID!]) { users(ids: $ids) { total items { name } } }", "IDS"),
    ("{ users(ids: []) { total items { id } } }", {}),
    ("query($ids: [UUID!]) { users(ids: $ids) { total } }", {"ids": None}),
    ("query($id: UUID!) { order(id: $id) { id user { name } } }", "O0"),
    ("query($id: UUID!) { order(id: $id) { id } }", {"id": MISSING}),
    ("{ orders { items { id user { name } } } }", {}),  # one order's user was deleted
    ("query A { users { total } } query B { orders { total } }", "OP:B"),
]

FALLBACK_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("{ __schema { queryType { name } } }", {}),
    ("query($x: Boolean!) { users { items { name @include(if: $x) } } }", {"x": False}),
    ("query($x: Boolean!) { users { items { id orders @skip(if: $x) { id } } } }", {"x": True}),
]


async def _seed(users_url: str, orders_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        ids = []
        for i, roles in enumerate((["engineer"], ["manager", "user"], ["director"])):
            body = {"email": f"eq{i}@example.com", "name": f"Person {i}", "roles": roles}
            ids.append((await client.post(f"{users_url}/users", json=body)).json()["data"]["id"])
        orders = []
        for i, user_id in enumerate(ids):
            for j, walk in enumerate(
                ([], ["in_progress"], ["in_progress", "completed"], ["cancelled"])[: i + 2]
            ):
                items = [{"product": f"Item {i}{j}", "quantity": j + 1, "price": "10.05"}]
                order = (
                    await client.post(
                        f"{orders_url}/orders", json={"user_id": user_id, "items": items}
                    )
                ).json()
                order_id = order["data"]["id"]
                for step in walk:
                    await client.put(f"{orders_url}/orders/{order_id}", json={"status": step})
                orders.append(order_id)
        # An order whose user no longer exists: its `user` is null, without an error.
        ghost = (
            await client.post(
                f"{users_url}/users", json={"email": "ghost@example.com", "name": "Ghost"}
            )
        ).json()
        ghost_id = ghost["data"]["id"]
        await client.post(
            f"{orders_url}/orders",
            json={"user_id": ghost_id, "items": [{"product": "x", "quantity": 1, "price": 1}]},
        )
        await client.delete(f"{users_url}/users/{ghost_id}")
    return {"U0": ids[0], "O0": orders[0], "IDS": [ids[1], MISSING, ids[0], ids[1]]}


def _variables(spec: Any, seeded: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    if spec == "U0":
        return {"u": seeded["U0"], "id": seeded["U0"]}, None
    if spec == "O0":
        return {"id": seeded["O0"]}, None
    if spec == "IDS":
        return {"ids": seeded["IDS"]}, None
    if isinstance(spec, str) and spec.startswith("OP:"):
        return {}, spec.removeprefix("OP:")
    return spec, None


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors") or []
    return {
        "data": body.get("data"),
        "errors": sorted(errors, key=lambda e: (repr(e.get("path")), e.get("message"))),
    }


async def _ask(
    client: httpx.AsyncClient, app: FastAPI, query: str, variables: dict, operation: str | None
) -> tuple[dict[str, Any], int]:
    clients = app.state.clients
    before = clients.users.calls + clients.orders.calls
    payload: dict[str, Any] = {"query": query, "variables": variables}
    if operation:
        payload["operationName"] = operation
    response = await client.post("/graphql", json=payload)
    assert response.status_code == 200, response.text
    return response.json(), clients.users.calls + clients.orders.calls - before


def _compiled_plan(query: str, operation: str | None) -> Any:
    # Strawberry fills in the operation name of a single named operation itself.
    plans = [
        plan
        for key, plan in CompiledExecution._plans.items()
        if key[1] == document_key(query) and (operation is None or key[2] == operation)
    ]
    assert plans, "the compiled gateway never looked at this query"
    return plans[-1]


@pytest.fixture(scope="module")
async def both(users_process, orders_process, users_app, orders_app):
    from tests.conftest import _truncate

    await _truncate(users_app, "users")
    await _truncate(orders_app, "orders")
    seeded = await _seed(users_process.url, orders_process.url)
    async with (
        gateway_for(users_process.url, orders_process.url, graphql_compile=True) as compiled,
        gateway_for(users_process.url, orders_process.url, graphql_compile=False) as stock,
    ):
        yield compiled, stock, seeded


@pytest.mark.parametrize(("query", "spec"), COMPILED_QUERIES)
async def test_compiled_plan_answers_like_the_stock_executor(both, query, spec) -> None:
    (compiled_client, compiled_app), (stock_client, stock_app), seeded = both
    variables, operation = _variables(spec, seeded)
    stock, stock_calls = await _ask(stock_client, stock_app, query, variables, operation)
    fast, fast_calls = await _ask(compiled_client, compiled_app, query, variables, operation)
    assert _normalised(fast) == _normalised(stock)
    assert fast_calls == stock_calls
    assert _compiled_plan(query, operation) is not None, "expected a compiled plan"


@pytest.mark.parametrize(("query", "variables"), FALLBACK_QUERIES)
async def test_uncovered_documents_fall_back_to_the_stock_executor(both, query, variables) -> None:
    (compiled_client, compiled_app), (stock_client, stock_app), _ = both
    stock, _ = await _ask(stock_client, stock_app, query, variables, None)
    fast, _ = await _ask(compiled_client, compiled_app, query, variables, None)
    assert _normalised(fast) == _normalised(stock)
    assert "errors" not in fast
    assert _compiled_plan(query, None) is None


async def test_mutations_are_not_compiled(both) -> None:
    (client, app), _, seeded = both
    query = 'mutation($id: UUID!) { updateUser(id: $id, input: { name: "Renamed" }) { name } }'
    body, _ = await _ask(client, app, query, {"id": seeded["U0"]}, None)
    assert body == {"data": {"updateUser": {"name": "Renamed"}}}
    assert _compiled_plan(query, None) is None


async def test_bad_variables_are_reported_like_the_stock_executor(both) -> None:
    (compiled_client, compiled_app), (stock_client, stock_app), _ = both
    query = "query($id: UUID!) { user(id: $id) { name } }"
    for variables in ({"id": "not-a-uuid"}, {}):
        stock, _ = await _ask(stock_client, stock_app, query, variables, None)
        fast, _ = await _ask(compiled_client, compiled_app, query, variables, None)
        assert fast == stock
        assert fast["errors"]


PARTIAL_QUERIES = [
    "{ users { items { name orders { id } } } }",
    "{ orders { items { id user { name } } } }",
    "{ users { total items { name orders(status: CREATED) { id user { name } } } } }",
    "query($id: UUID!) { user(id: $id) { name orders { id } } }",
    "{ orders { total } }",
]


@pytest.mark.parametrize("query", PARTIAL_QUERIES)
async def test_partial_results_match_when_the_orders_service_is_down(
    users_process,
    orders_db_url,
    users_app,
    orders_app,
    query,
) -> None:
    from tests.conftest import _truncate

    await _truncate(users_app, "users")
    await _truncate(orders_app, "orders")
    env = {"ORDERS_DATABASE_URL": orders_db_url}
    with running("service_orders", "ORDERS_", env) as orders:
        seeded = await _seed(users_process.url, orders.url)
        async with (
            gateway_for(users_process.url, orders.url, graphql_compile=True) as (fc, fa),
            gateway_for(users_process.url, orders.url, graphql_compile=False) as (sc, sa),
        ):
            orders.stop()
            variables = {"id": seeded["U0"]} if "$id" in query else {}
            stock, _ = await _ask(sc, sa, query, variables, None)
            fast, _ = await _ask(fc, fa, query, variables, None)
    assert _normalised(fast) == _normalised(stock)
    assert stock.get("errors"), "the orders service was down: there must be errors"
    codes = {error["extensions"]["code"] for error in stock["errors"]}
    assert codes == {"SERVICE_UNAVAILABLE"}


async def test_unexpected_errors_are_masked_alike(both, monkeypatch) -> None:
    (compiled_client, compiled_app), (stock_client, stock_app), _ = both

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret: SELECT * FROM orders")

    for app in (compiled_app, stock_app):
        monkeypatch.setattr(app.state.clients.orders, "get_orders_by_user_ids", broken)
    query = "{ users { items { name orders { id } } } }"
    stock, _ = await _ask(stock_client, stock_app, query, {}, None)
    fast, _ = await _ask(compiled_client, compiled_app, query, {}, None)
    assert _normalised(fast) == _normalised(stock)
    assert "secret" not in repr(fast)
    assert {e["extensions"]["code"] for e in fast["errors"]} == {"INTERNAL_ERROR"}


def test_unique_ids_in_queries_are_valid() -> None:
    assert uuid.UUID(MISSING).version == 4
