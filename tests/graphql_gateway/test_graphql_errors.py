"""GraphQL errors: codes in extensions, partial results when a service fails, masking.

The outage tests run their own service process (stopped mid-test) or a tiny TCP
server that never answers, each behind its own gateway (fresh breakers).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import gateway_for
from tests.support.graphql import Gateway, counted
from tests.support.procs import RunningProcess, running

USERS_WITH_ORDERS = "{ users { items { id name orders { id } } } }"
ORDERS_WITH_USERS = "{ orders { total items { id userId user { name } } } }"


# --- helpers ---------------------------------------------------------------------------


def codes(body: dict[str, Any]) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


@pytest.fixture
async def empty_tables(users_app: FastAPI, orders_app: FastAPI) -> None:
    """Both tables empty (the services' processes share these databases)."""
    for app, table in ((users_app, "users"), (orders_app, "orders")):
        async with app.state.engine.begin() as conn:
            await conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")


async def create_users(users_url: str, count: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=users_url, timeout=30) as http:
        responses = await asyncio.gather(
            *(
                http.post("/users", json={"email": f"e{i}@example.com", "name": f"Name {i}"})
                for i in range(count)
            )
        )
    assert all(response.status_code == 201 for response in responses)
    return [response.json()["data"] for response in responses]


async def create_orders(orders_url: str, user_ids: list[str]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=orders_url, timeout=30) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    "/orders",
                    json={
                        "user_id": user_id,
                        "items": [{"product": "Чокопай", "quantity": 10, "price": "52.00"}],
                    },
                )
                for user_id in user_ids
            )
        )
    assert all(response.status_code == 201 for response in responses)
    return [response.json()["data"] for response in responses]


class SilentServer:
    """Accepts connections and reads requests on 127.0.0.1, never answers a byte."""

    def __init__(self) -> None:
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):  # until the client hangs up
                pass

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


class FixedAnswerServer(SilentServer):
    """Answers every request with the same raw HTTP response, then closes."""

    def __init__(self, response: bytes) -> None:
        super().__init__()
        self.response = response

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.response)
            await writer.drain()
        writer.close()


@contextlib.contextmanager
def own_process(module: str, prefix: str, db_url: str) -> Iterator[RunningProcess]:
    with running(
        module, prefix, {f"{prefix}DATABASE_URL": db_url, f"{prefix}DB_POOL_SIZE": "2"}
    ) as proc:
        yield proc


# --- a service down: partial results ------------------------------------------------------


def assert_users_partial(body: dict[str, Any], users: list[dict[str, Any]], code: str) -> None:
    items = body["data"]["users"]["items"]
    assert sorted(item["name"] for item in items) == sorted(u["name"] for u in users)
    assert all(item["orders"] is None for item in items)
    paths = sorted(tuple(error["path"]) for error in body["errors"])
    assert paths == [("users", "items", i, "orders") for i in range(len(users))]
    assert set(codes(body)) == {code}
    assert all(error["message"] for error in body["errors"])


@pytest.mark.slow
async def test_orders_service_down_gives_users_with_null_orders(
    empty_tables: None, users_process: RunningProcess, orders_db_url: str
) -> None:
    with own_process("service_orders", "ORDERS_", orders_db_url) as orders:
        async with gateway_for(
            users_process.url, orders.url, breaker_fail_max=2, breaker_reset_timeout=60
        ) as gateway:
            users = await create_users(users_process.url, 3)
            await create_orders(orders.url, [u["id"] for u in users])
            healthy, _, _ = await counted(gateway, USERS_WITH_ORDERS)
            assert "errors" not in healthy
            assert all(len(item["orders"]) == 1 for item in healthy["data"]["users"]["items"])

            orders.stop()

            # Two failures reach the network (connection refused) and open the circuit.
            for _ in range(2):
                body, users_calls, orders_calls = await counted(gateway, USERS_WITH_ORDERS)
                assert (users_calls, orders_calls) == (1, 1)  # one batch, failed once
                assert_users_partial(body, users, "SERVICE_UNAVAILABLE")
            assert gateway[1].state.clients.orders.breaker.state == "open"

            # Open circuit: still partial, and the orders service is not even tried.
            body, users_calls, orders_calls = await counted(gateway, USERS_WITH_ORDERS)
            assert (users_calls, orders_calls) == (1, 0)
            assert_users_partial(body, users, "SERVICE_UNAVAILABLE")

            single, _, _ = await counted(
                gateway,
                "query($id: UUID!) { user(id: $id) { name orders { id } } }",
                {"id": users[0]["id"]},
            )
            assert single["data"] == {"user": {"name": users[0]["name"], "orders": None}}
            assert [e["path"] for e in single["errors"]] == [["user", "orders"]]
            assert codes(single) == ["SERVICE_UNAVAILABLE"]


@pytest.mark.slow
async def test_users_service_down_gives_orders_with_null_user(
    empty_tables: None, orders_process: RunningProcess, users_db_url: str
) -> None:
    with own_process("service_users", "USERS_", users_db_url) as users_service:
        async with gateway_for(
            users_service.url, orders_process.url, breaker_fail_max=1, breaker_reset_timeout=60
        ) as gateway:
            users = await create_users(users_service.url, 2)
            orders = await create_orders(orders_process.url, [u["id"] for u in users] * 2)

            users_service.stop()

            for expected_users_calls in (1, 0):  # the failure opens the circuit (fail_max 1)
                body, users_calls, orders_calls = await counted(gateway, ORDERS_WITH_USERS)
                assert (users_calls, orders_calls) == (expected_users_calls, 1)
                page = body["data"]["orders"]
                assert page["total"] == 4
                assert sorted(item["id"] for item in page["items"]) == sorted(
                    o["id"] for o in orders
                )
                assert all(item["user"] is None for item in page["items"])
                assert all(item["userId"] for item in page["items"])
                paths = sorted(tuple(error["path"]) for error in body["errors"])
                assert paths == [("orders", "items", i, "user") for i in range(4)]
                assert set(codes(body)) == {"SERVICE_UNAVAILABLE"}


async def test_hanging_orders_service_times_out(
    empty_tables: None, users_process: RunningProcess
) -> None:
    async with (
        SilentServer() as silent,
        gateway_for(users_process.url, silent.url, upstream_timeout=0.5) as gateway,
    ):
        users = await create_users(users_process.url, 2)

        started = time.monotonic()
        body, users_calls, orders_calls = await counted(gateway, USERS_WITH_ORDERS)
        elapsed = time.monotonic() - started

        assert silent.connections >= 1
        assert (users_calls, orders_calls) == (1, 1)
        assert_users_partial(body, users, "UPSTREAM_TIMEOUT")
        assert 0.4 < elapsed < 5.0


async def test_garbage_from_orders_service_is_upstream_error(
    empty_tables: None, users_process: RunningProcess
) -> None:
    page = b"<html><h1>It works!</h1></html>"
    garbage = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(page), page)
    )
    async with (
        FixedAnswerServer(garbage) as server,
        gateway_for(users_process.url, server.url) as gateway,
    ):
        users = await create_users(users_process.url, 2)
        body, _, orders_calls = await counted(gateway, USERS_WITH_ORDERS)

        assert orders_calls == 1
        assert_users_partial(body, users, "UPSTREAM_ERROR")

        order, _, _ = await counted(
            gateway, "query($id: UUID!) { order(id: $id) { id } }", {"id": str(uuid.uuid4())}
        )
        assert order["data"] is None or order["data"] == {"order": None}
        assert codes(order) == ["UPSTREAM_ERROR"]


# --- unknown ids and bad arguments ----------------------------------------------------------


async def test_unknown_ids_are_null_without_error(gateway_app: Gateway) -> None:
    body, users_calls, orders_calls = await counted(
        gateway_app,
        "query($u: UUID!, $o: UUID!) { user(id: $u) { id name } order(id: $o) { id user { id } } }",
        {"u": str(uuid.uuid4()), "o": str(uuid.uuid4())},
    )

    assert body == {"data": {"user": None, "order": None}}
    assert (users_calls, orders_calls) == (1, 1)


MALFORMED = [
    ('{ user(id: "not-a-uuid") { id } }', None),
    ('{ order(id: "1234") { id } }', None),
    ("query($id: UUID!) { user(id: $id) { id } }", {"id": "not-a-uuid"}),
    ("query($id: UUID!) { order(id: $id) { id } }", {"id": "zzzzzzzz-0000-0000-0000-000000000000"}),
    ("query($ids: [UUID!]) { users(ids: $ids) { total } }", {"ids": [str(uuid.uuid4()), "x"]}),
    ("query($u: UUID) { orders(userId: $u) { total } }", {"u": "'; DROP TABLE orders; --"}),
    ('mutation { deleteUser(id: "nope") }', None),
    (
        "mutation($input: OrderCreateInput!) { createOrder(input: $input) { id } }",
        {"input": {"userId": "nope", "items": [{"product": "x", "quantity": 1, "price": 1}]}},
    ),
]


@pytest.mark.parametrize(("query", "variables"), MALFORMED)
async def test_malformed_uuid_is_refused_before_any_downstream_call(
    gateway_app: Gateway, query: str, variables: dict[str, Any] | None
) -> None:
    body, users_calls, orders_calls = await counted(gateway_app, query, variables)

    assert (users_calls, orders_calls) == (0, 0)
    assert body.get("data") is None
    assert body["errors"]
    assert all(code in {"BAD_REQUEST", "VALIDATION_ERROR"} for code in codes(body)), body


@pytest.mark.parametrize(
    "query",
    [
        "{ users { items { id } }",  # unbalanced braces: a syntax error
        "query { users(limit: ) { total } }",
        "{ nope }",
        '{ users(limit: "ten") { total } }',
        "{ user { id } }",  # required argument missing
    ],
)
async def test_bad_documents_carry_a_code(gateway_app: Gateway, query: str) -> None:
    body, users_calls, orders_calls = await counted(gateway_app, query)

    assert (users_calls, orders_calls) == (0, 0)
    assert body["errors"]
    assert codes(body) == ["BAD_REQUEST"] * len(body["errors"]), body


# --- unexpected exceptions are masked --------------------------------------------------------


async def test_unexpected_exception_is_masked(
    gateway_app: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app = gateway_app

    async def broken(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("secret SQL: SELECT password_hash FROM users")

    monkeypatch.setattr(app.state.clients.orders, "get_order", broken)
    response = await client.post(
        "/graphql", json={"query": f'{{ order(id: "{uuid.uuid4()}") {{ id }} }}'}
    )

    assert response.status_code == 200
    assert "secret" not in response.text
    assert "password_hash" not in response.text
    assert "Traceback" not in response.text
    body = response.json()
    assert body["data"] == {"order": None}
    (error,) = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_ERROR"}
    assert error["path"] == ["order"]


async def test_unexpected_exception_in_a_loader_is_masked_per_path(
    gateway_app: Gateway, users_process: RunningProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app = gateway_app
    users = await create_users(users_process.url, 2)

    async def broken(*args: object, **kwargs: object) -> Any:
        raise KeyError("secret column total_amount_cents")

    monkeypatch.setattr(app.state.clients.orders, "get_orders_by_user_ids", broken)
    response = await client.post("/graphql", json={"query": USERS_WITH_ORDERS})

    assert response.status_code == 200
    assert "secret" not in response.text
    body = response.json()
    assert_users_partial(body, users, "INTERNAL_ERROR")
    assert {error["message"] for error in body["errors"]} == {"Internal server error"}
