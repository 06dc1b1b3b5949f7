"""Compiled plans give exactly what the stock executor gives: data, errors and call counts.

Every query below runs on two gateways over the same services, one with compiled
plans and one without, and the answers must be identical (errors compared as a set,
since concurrent branches may report them in another order). Each answer of the compiled
gateway also says which executor produced it (`execution_paths`): the compiled plan for
every query the compiler covers, the stock executor for every one it must leave alone.

The data the comparisons read is their own (their own databases and service processes)
and no test changes it: a test that writes works on data of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from graphql_gateway.graphql.compiled import OperationPlan
from graphql_gateway.graphql.documents import NOT_COMPILED, document_key
from tests.conftest import _truncate, gateway_for
from tests.support.procs import running
from tests.support.services import own_services

MISSING = "00000000-0000-4000-8000-000000000000"

CONNECTION = (
    "fragment C on UserConnection { totalCount edges { cursor node { name } } "
    "pageInfo { ... on PageInfo { hasNextPage endCursor } } }"
)

# A query's variables, or what _variables makes them from: "U0", "O0", "IDS" (the seeded
# ids) or "OP:<name>" (no variables, the operation of that name).
Spec = dict[str, Any] | str

COMPILED_QUERIES: list[tuple[str, Spec]] = [
    ("{ users { total items { id name email roles createdAt updatedAt } } }", {}),
    # A leaf derived from another field (the version from updated_at), asked without it.
    ("{ users { items { version orders { version status } } } }", {}),
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
    # Deadlines and reports (docs/graphql.md).
    ("{ orders(overdue: true) { total items { id dueDate overdue } } }", {}),
    ("{ orders(overdue: false, limit: 3) { total items { dueDate overdue user { name } } } }", {}),
    (
        "{ users { items { name orders { dueDate overdue } orderStats { count totalAmount "
        "overdue byStatus { status count totalAmount } } } } }",
        {},
    ),
    (
        '{ users { items { all: orderStats { count } recent: orderStats(from: "2020-01-01") '
        "{ count byStatus { __typename status } } } } }",
        {},
    ),
    ("{ orderStats { count totalAmount overdue byStatus { status count totalAmount } } }", {}),
    (
        'query($u: UUID) { orderStats(userId: $u, from: "2020-01-01", to: "2100-12-31") '
        "{ count overdue } }",
        "U0",
    ),
    ('{ orderStats(from: "2026-12-02", to: "2026-12-01") { count } }', {}),  # 400: data null
    ("{ ordersByDay { date created completed } }", {}),
    ('{ days: ordersByDay(from: "2026-11-01", to: "2026-11-03") { __typename date } }', {}),
    ('{ ordersByDay(from: "2020-01-01", to: "2026-01-01") { date } }', {}),  # over a year
    # Assignees: batched both ways, a deleted assignee null without an error.
    ("{ users { items { name assignedOrders { id status assignee { name } } } } }", {}),
    # An order's assignee is fetched only for the resolvers that read it (KEYS_FETCHED_FOR).
    ("{ users { items { assignedOrders { id } } } }", {}),
    ("{ users { items { orders { id assignee { name } } } } }", {}),
    ("{ users { items { orders { id status totalAmount } } } }", {}),
    ("{ orders { items { id assigneeId assignee { id name } user { name } } } }", {}),
    (
        "query($s: OrderStatus) { users { items { id assignedOrders(status: $s) { id } "
        "orders { assignee { assignedOrders { id } } } } } }",
        {"s": "CREATED"},
    ),
    ("query($u: UUID) { orders(assigneeId: $u) { total items { id createdBy updatedBy } } }", "U0"),
    # Totals (docs/totals.md): a search's is counted only when selected.
    ('{ orders(q: "Item") { total items { id } } }', {}),
    ('{ orders(q: "Item 1") { items { id } } }', {}),
    ('{ orders(dueFrom: "2020-01-01", dueTo: "2020-12-31") { total } }', {}),
    ('{ orders(statuses: [CREATED, IN_PROGRESS], createdFrom: "2020-01-01") { total } }', {}),
    (
        'query { orders(q: "item") { ...Counted items { id } } } '
        "fragment Counted on OrderPage { total }",
        {},
    ),
    # Connections (cursor pages): nested fields batched per level, totalCount when selected.
    (
        "{ usersConnection(first: 2) { totalCount edges { cursor node { id name "
        "orders { id status } orderStats { count } } } pageInfo { hasNextPage endCursor } } }",
        {},
    ),
    ("{ usersConnection { edges { node { version } } pageInfo { endCursor } } }", {}),
    ("query($ids: [UUID!]) { usersConnection(ids: $ids, first: 1) { ...C } } " + CONNECTION, "IDS"),
    ("{ usersConnection(ids: []) { totalCount edges { cursor } } }", {}),
    (
        '{ ordersConnection(first: 3, sort: "-due_date") { edges { cursor node { id dueDate '
        "user { name } assignee { name } } } pageInfo { hasNextPage endCursor } } }",
        {},
    ),
    (
        "query($u: UUID) { ordersConnection(userId: $u, statuses: [CREATED, IN_PROGRESS], "
        'first: 1, sort: "total_amount") { totalCount edges { node { id status } } } }',
        "U0",
    ),
    ("{ ordersConnection(first: 0) { edges { cursor } pageInfo { hasNextPage endCursor } } }", {}),
    ('{ ordersConnection(after: "not-a-cursor") { edges { cursor } } }', {}),  # 400: data null
    ('{ ordersConnection(sort: "name") { totalCount } }', {}),
    (
        "{ ordersConnection(overdue: true, first: 2) { __typename totalCount edges { "
        "__typename cursor node { overdue } } pageInfo { __typename hasNextPage } } }",
        {},
    ),
]

FALLBACK_QUERIES: list[tuple[str, Spec]] = [
    ("{ __schema { queryType { name } } }", {}),
    ("query($x: Boolean!) { users { items { name @include(if: $x) } } }", {"x": False}),
    ("query($x: Boolean!) { users { items { id orders @skip(if: $x) { id } } } }", {"x": True}),
    # An order's history: one call per order, on the stock executor.
    (
        "query($id: UUID!) { order(id: $id) { id history { total items { action actorId "
        "changes { field old new } } } } }",
        "O0",
    ),
]


async def _seed(users_url: str, orders_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        ids = []
        body: dict[str, Any]
        for i, roles in enumerate((["engineer"], ["manager", "user"], ["director"])):
            body = {"email": f"eq{i}@example.com", "name": f"Person {i}", "roles": roles}
            ids.append((await client.post(f"{users_url}/users", json=body)).json()["data"]["id"])
        orders = []
        for i, user_id in enumerate(ids):
            for j, walk in enumerate(
                ([], ["in_progress"], ["in_progress", "completed"], ["cancelled"])[: i + 2]
            ):
                items = [{"product": f"Item {i}{j}", "quantity": j + 1, "price": "10.05"}]
                # Some work is late: past deadlines on the first and second of each user.
                due = ("2020-01-01", "2099-12-31", "2020-06-01", None)[j]
                body = {"user_id": user_id, "items": items, "due_date": due}
                if j % 2 == 0:  # half the work assigned to the next person
                    body["assignee_id"] = ids[(i + 1) % len(ids)]
                order = (await client.post(f"{orders_url}/orders", json=body)).json()
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
        # And work assigned to the ghost (deleted on the users service directly).
        await client.post(
            f"{orders_url}/orders",
            json={
                "user_id": ids[0],
                "assignee_id": ghost_id,
                "items": [{"product": "y", "quantity": 1, "price": 1}],
            },
        )
        await client.delete(f"{users_url}/users/{ghost_id}")
    return {"U0": ids[0], "O0": orders[0], "IDS": [ids[1], MISSING, ids[0], ids[1]]}


def _variables(spec: Spec, seeded: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    if spec == "U0":
        return {"u": seeded["U0"], "id": seeded["U0"]}, None
    if spec == "O0":
        return {"id": seeded["O0"]}, None
    if spec == "IDS":
        return {"ids": seeded["IDS"]}, None
    if isinstance(spec, str) and spec.startswith("OP:"):
        return {}, spec.removeprefix("OP:")
    assert isinstance(spec, dict), f"no such variables: {spec!r}"
    return spec, None


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors") or []
    return {
        "data": body.get("data"),
        "errors": sorted(errors, key=lambda e: (repr(e.get("path")), e.get("message"))),
    }


COMPILED, FALLBACK = "compiled", "fallback"


def _paths(app: FastAPI) -> tuple[int, int]:
    paths = app.state.graphql_schema.execution_paths
    return paths.compiled, paths.fallback


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


async def _ask_compiled(
    client: httpx.AsyncClient, app: FastAPI, query: str, variables: dict, operation: str | None
) -> tuple[dict[str, Any], int, str]:
    """`_ask`, and which executor of the compiled gateway answered."""
    compiled, fallback = _paths(app)
    body, calls = await _ask(client, app, query, variables, operation)
    ran = (_paths(app)[0] - compiled, _paths(app)[1] - fallback)
    assert ran in ((1, 0), (0, 1)), f"one operation, one executor: {ran}"
    return body, calls, COMPILED if ran == (1, 0) else FALLBACK


@pytest.fixture(scope="module")
async def services(pg_server: str, logs_dir: Path) -> AsyncIterator[tuple[str, str]]:
    """Both services as real processes over databases of this module only."""
    with own_services(pg_server, logs_dir, "eq", pool=2) as (users, orders):
        yield users.url, orders.url


@pytest.fixture(scope="module")
async def both(services):
    """Two gateways, compiled and stock, over data seeded once and changed by no test."""
    users_url, orders_url = services
    seeded = await _seed(users_url, orders_url)
    async with (
        gateway_for(users_url, orders_url, graphql_compile=True) as compiled,
        gateway_for(users_url, orders_url, graphql_compile=False) as stock,
    ):
        yield compiled, stock, seeded


@pytest.mark.parametrize(("query", "spec"), COMPILED_QUERIES)
async def test_compiled_plan_answers_like_the_stock_executor(both, query, spec) -> None:
    (compiled_client, compiled_app), (stock_client, stock_app), seeded = both
    variables, operation = _variables(spec, seeded)
    stock, stock_calls = await _ask(stock_client, stock_app, query, variables, operation)
    fast, fast_calls, path = await _ask_compiled(
        compiled_client, compiled_app, query, variables, operation
    )
    assert path == COMPILED, "the compiled plan must be what answered"
    assert _normalised(fast) == _normalised(stock)
    assert fast_calls == stock_calls


@pytest.mark.parametrize(("query", "spec"), FALLBACK_QUERIES)
async def test_uncovered_documents_fall_back_to_the_stock_executor(both, query, spec) -> None:
    (compiled_client, compiled_app), (stock_client, stock_app), seeded = both
    variables, _ = _variables(spec, seeded)
    stock, _ = await _ask(stock_client, stock_app, query, variables, None)
    fast, _, path = await _ask_compiled(compiled_client, compiled_app, query, variables, None)
    assert path == FALLBACK
    assert _normalised(fast) == _normalised(stock)
    assert "errors" not in fast


def _recording(app: FastAPI, asked: list[tuple[str, dict[str, Any]]]) -> None:
    """Record the path and query parameters (less `fields`) of every call the gateway makes."""
    for client in (app.state.clients.users, app.state.clients.orders):
        real = client.fetch

        async def fetch(method: str, path: str, *, _real: Any = real, **kwargs: Any) -> Any:
            params = dict(kwargs.get("params") or {})
            params.pop("fields", None)  # the compiled plan's projection only
            asked.append((path, params))
            return await _real(method, path, **kwargs)

        client.fetch = fetch


TOTAL_ASKED = [
    ('{ orders(q: "Item") { total items { id } } }', True),
    ('{ orders(q: "Item") { items { id } } }', False),
    ('{ orders(q: "Item") { ... on OrderPage { total } } }', True),
    ("{ orders(overdue: true) { items { id } } }", False),
    ("{ users { total } }", True),
    ("{ users(limit: 1) { items { id } } }", False),
    ("query Q { a: orders { items { id } } b: orders(offset: 1) { total } }", None),
]


@pytest.mark.parametrize(("query", "counted"), TOTAL_ASKED)
async def test_a_total_is_asked_of_the_service_only_when_selected(both, query, counted) -> None:
    """Both executors send the same calls, `total=true` exactly where `total` is read."""
    (compiled_client, compiled_app), (stock_client, stock_app), _ = both
    asked_fast: list[tuple[str, dict[str, Any]]] = []
    asked_stock: list[tuple[str, dict[str, Any]]] = []
    _recording(compiled_app, asked_fast)
    _recording(stock_app, asked_stock)
    stock, _ = await _ask(stock_client, stock_app, query, {}, None)
    fast, _, path = await _ask_compiled(compiled_client, compiled_app, query, {}, None)
    assert path == COMPILED
    assert _normalised(fast) == _normalised(stock)
    assert "errors" not in fast
    assert sorted(map(repr, asked_fast)) == sorted(map(repr, asked_stock))
    lists = [params for where, params in asked_fast if where in ("/users", "/orders")]
    assert lists
    if counted is None:  # two pages, one reading its total
        assert sorted(str(params.get("total")) for params in lists) == ["None", "true"]
    else:
        assert all(params.get("total") == ("true" if counted else None) for params in lists)
    for answer in fast["data"].values():
        if "total" in answer:
            assert isinstance(answer["total"], int)


WALK = (
    "query($after: String, $sort: String) { ordersConnection(first: 2, after: $after, "
    "sort: $sort) { edges { cursor node { id status user { name } } } "
    "pageInfo { hasNextPage endCursor } } }"
)


@pytest.mark.parametrize("sort", ["created_at", "-due_date", "due_date", "-total_amount"])
async def test_connection_walks_alike_on_both_executors(both, sort: str) -> None:
    """Page after page by `endCursor`: the same edges, cursors and calls either way, and
    together every order of the list, in its order."""
    (compiled_client, compiled_app), (stock_client, stock_app), _ = both
    variables: dict[str, Any] = {"after": None, "sort": sort}
    walked: list[str] = []
    while True:
        stock, stock_calls = await _ask(stock_client, stock_app, WALK, variables, None)
        fast, fast_calls, path = await _ask_compiled(
            compiled_client, compiled_app, WALK, variables, None
        )
        assert path == COMPILED
        assert fast == stock
        assert fast_calls == stock_calls == 2  # the page, then its users in one call
        connection = fast["data"]["ordersConnection"]
        walked += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        variables["after"] = connection["pageInfo"]["endCursor"]
    listed = await _ask(stock_client, stock_app, ORDERS_LIST, {"sort": sort}, None)
    assert walked == [order["id"] for order in listed[0]["data"]["orders"]["items"]]


ORDERS_LIST = "query($sort: String) { orders(sort: $sort, limit: 1000) { items { id } } }"


async def test_mutations_are_not_compiled(gateway_app) -> None:
    client, app = gateway_app  # compiled plans on (the default), over data of this test
    create = 'mutation { createUser(input: {email: "m@example.com", name: "Made"}) { id } }'
    created, _, path = await _ask_compiled(client, app, create, {}, None)
    assert path == FALLBACK
    user_id = created["data"]["createUser"]["id"]
    query = 'mutation($id: UUID!) { updateUser(id: $id, input: { name: "Renamed" }) { name } }'
    body, _, path = await _ask_compiled(client, app, query, {"id": user_id}, None)
    assert path == FALLBACK
    assert body == {"data": {"updateUser": {"name": "Renamed"}}}


async def test_bad_variables_are_reported_like_the_stock_executor(both) -> None:
    (compiled_client, compiled_app), (stock_client, stock_app), _ = both
    query = "query($id: UUID!) { user(id: $id) { name } }"
    for variables in ({"id": "not-a-uuid"}, {}):
        stock, _ = await _ask(stock_client, stock_app, query, variables, None)
        fast, _, path = await _ask_compiled(compiled_client, compiled_app, query, variables, None)
        assert path == FALLBACK  # the stock executor reports coercion errors
        assert fast == stock
        assert fast["errors"]


PARTIAL_QUERIES = [
    "{ users { items { name orders { id } } } }",
    "{ orders { items { id user { name } } } }",
    "{ users { total items { name orders(status: CREATED) { id user { name } } } } }",
    "query($id: UUID!) { user(id: $id) { name orders { id } } }",
    "{ orders { total } }",
    # The fields after the one that failed are completed all the same.
    "{ users { items { orders { id } name email } total } }",
]


@pytest.mark.parametrize("query", PARTIAL_QUERIES)
@pytest.mark.slow
async def test_partial_results_match_when_the_orders_service_is_down(
    users_process,
    orders_db_url,
    users_app,
    orders_app,
    query,
) -> None:
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
            fast, _, path = await _ask_compiled(fc, fa, query, variables, None)
    assert path == COMPILED, "a service error is a null in the plan's answer, not a bailout"
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
    fast, _, path = await _ask_compiled(compiled_client, compiled_app, query, {}, None)
    assert path == COMPILED
    assert _normalised(fast) == _normalised(stock)
    assert "secret" not in repr(fast)
    assert {e["extensions"]["code"] for e in fast["errors"]} == {"INTERNAL_ERROR"}


async def test_unique_ids_in_queries_are_valid(both) -> None:
    """The ids the queries use are ids the gateway accepts: MISSING is one that names nothing.

    Otherwise the MISSING queries above would compare two identical input errors, and the
    seeded ones two identical nulls.
    """
    (client, app), _, seeded = both
    assert uuid.UUID(MISSING).version == 4
    for field in ("user", "order"):
        query = f"query($id: UUID!) {{ {field}(id: $id) {{ id }} }}"
        missing, _, _ = await _ask_compiled(client, app, query, {"id": MISSING}, None)
        assert missing == {"data": {field: None}}  # valid, and not found: no error
    for field, known in (("user", seeded["U0"]), ("order", seeded["O0"])):
        query = f"query($id: UUID!) {{ {field}(id: $id) {{ id }} }}"
        found, _, _ = await _ask_compiled(client, app, query, {"id": known}, None)
        assert found == {"data": {field: {"id": known}}}
    query = "query($ids: [UUID!]) { users(ids: $ids) { items { id } } }"
    listed, _, _ = await _ask_compiled(client, app, query, {"ids": seeded["IDS"]}, None)
    ids = seeded["IDS"]
    assert listed == {"data": {"users": {"items": [{"id": i} for i in ids if i != MISSING]}}}


FRONT_END = "query($id: UUID!) { user(id: $id) { id name email orders { id status totalAmount } } }"


def _observed(app: FastAPI, events: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Record when each downstream call starts and ends (the calls themselves are real)."""
    for name in ("users", "orders"):
        client = getattr(app.state.clients, name)
        send = client.send

        async def observed(*args: Any, _name: str = name, _send: Any = send, **kwargs: Any) -> Any:
            events.append(f"{_name} sent")
            try:
                return await _send(*args, **kwargs)
            finally:
                events.append(f"{_name} answered")

        monkeypatch.setattr(client, "send", observed)


async def test_a_users_orders_are_asked_for_with_the_user(both, monkeypatch) -> None:
    """`user(id:) { orders }`: both calls go out at once; the stock executor waits for the user."""
    (compiled_client, compiled_app), (stock_client, stock_app), seeded = both
    variables = {"id": seeded["U0"]}
    fast_events: list[str] = []
    stock_events: list[str] = []
    _observed(compiled_app, fast_events, monkeypatch)
    _observed(stock_app, stock_events, monkeypatch)

    stock, stock_calls = await _ask(stock_client, stock_app, FRONT_END, variables, None)
    fast, fast_calls, path = await _ask_compiled(
        compiled_client, compiled_app, FRONT_END, variables, None
    )
    assert path == COMPILED
    assert fast == stock
    assert fast["data"]["user"]["orders"], "the seeded user has orders"
    assert fast_calls == stock_calls == 2
    assert stock_events == ["users sent", "users answered", "orders sent", "orders answered"]
    assert fast_events[:2] in (["orders sent", "users sent"], ["users sent", "orders sent"])


async def test_the_orders_of_a_user_that_is_not_there_cost_one_call(both) -> None:
    (compiled_client, compiled_app), (stock_client, stock_app), _ = both
    variables = {"id": MISSING}
    stock, stock_calls = await _ask(stock_client, stock_app, FRONT_END, variables, None)
    fast, fast_calls, path = await _ask_compiled(
        compiled_client, compiled_app, FRONT_END, variables, None
    )
    assert path == COMPILED
    assert fast == stock == {"data": {"user": None}}
    assert (stock_calls, fast_calls) == (1, 2)  # the orders were asked for with the user


# ---------------------------------------------------------------- plans on the document cache


def _chosen(app: FastAPI, query: str, operation: str | None) -> Any:
    """What the schema's one document cache holds of `operation` in `query`."""
    entry = app.state.graphql_schema.documents.get(document_key(query))
    assert entry is not None, "the document is in the cache"
    return entry.operations[operation]


async def test_a_plan_is_built_once_and_kept_on_the_document_cache_entry(both) -> None:
    (client, app), _, _ = both
    query = "{ users(limit: 3) { items { id planKept: name } } }"
    first, _, path = await _ask_compiled(client, app, query, {}, None)
    assert path == COMPILED
    chosen = _chosen(app, query, None)
    assert isinstance(chosen.plan, OperationPlan)
    assert chosen.analysis is not None
    assert chosen.analysis.fields == 4
    plan = chosen.plan
    again, _, path = await _ask_compiled(client, app, query, {}, None)
    assert path == COMPILED
    assert _chosen(app, query, None).plan is plan, "the second request reuses the plan"
    assert again == first


async def test_each_named_operation_has_its_own_plan(both) -> None:
    (client, app), _, _ = both
    query = "query A { users(limit: 1) { total } } query B { orders(limit: 1) { total } }"
    for name in ("A", "B"):
        _, _, path = await _ask_compiled(client, app, query, {}, name)
        assert path == COMPILED
    plans = [_chosen(app, query, name).plan for name in ("A", "B")]
    assert [plan.operation.name.value for plan in plans] == ["A", "B"]


async def test_an_uncovered_operation_is_kept_as_no_plan(both) -> None:
    """None is a plan too ("not covered"): kept, so the compiler is not asked again."""
    (client, app), _, _ = both
    query = "{ users(limit: 1) @include(if: true) { total } }"
    for _ in range(2):
        _, _, path = await _ask_compiled(client, app, query, {}, None)
        assert path == FALLBACK
        assert _chosen(app, query, None).plan is None


async def test_a_document_refused_before_execution_never_gets_a_plan(both) -> None:
    (client, app), _, _ = both
    query = "{ users { items { id noSuchField } } }"
    response = await client.post("/graphql", json={"query": query})
    assert response.json()["errors"], response.text
    assert _chosen(app, query, None).plan is NOT_COMPILED


async def test_without_a_document_cache_plans_are_built_per_request(services) -> None:
    """A cache of no entries keeps nothing: every request compiles, and answers the same."""
    users_url, orders_url = services
    query = "{ users(limit: 2) { total items { id name } } }"
    async with (
        gateway_for(
            users_url, orders_url, graphql_compile=True, graphql_document_cache_entries=0
        ) as (client, app),
        gateway_for(users_url, orders_url, graphql_compile=False) as (stock_client, stock_app),
    ):
        stock, _ = await _ask(stock_client, stock_app, query, {}, None)
        for _ in range(2):
            fast, _, path = await _ask_compiled(client, app, query, {}, None)
            assert path == COMPILED
            assert _normalised(fast) == _normalised(stock)
        assert len(app.state.graphql_schema.documents) == 0
