"""The gateway's REST compatibility routes (docs/contract.md), end to end.

The gateway runs in process; the users and orders services are real processes over a
real PostgreSQL (see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from graphql_gateway import __version__
from tests.conftest import gateway_for
from tests.service_orders.test_orders_api import ORDER_FIELDS
from tests.support.envelope import data_of, error_of
from tests.support.fake_servers import FakeServer, http_response

USER_FIELDS = {"id", "email", "name", "roles", "created_at", "updated_at"}
# How to reach each status from a fresh order through allowed transitions only.
PATH_TO = {
    "created": [],
    "in_progress": ["in_progress"],
    "completed": ["in_progress", "completed"],
    "cancelled": ["cancelled"],
}
MIB = 1024 * 1024
# The original spec's curl bodies, character for character.
SPEC_USER = '{"email": "user@example.com", "name": "Белов Ярослав"}'
SPEC_ORDER = (
    '{"user_id": "<user_uuid>", "items": [{"product": "Чокопай", "quantity": 10, "price": 52.00}]}'
)


# --------------------------------------------------------------------------- helpers


def detail_fields(error: dict[str, Any]) -> set[str]:
    details = error.get("details")
    assert isinstance(details, list), error
    assert details, error
    for detail in details:
        assert set(detail) == {"field", "message"}, detail
        assert detail["message"], detail
    return {detail["field"] for detail in details}


def assert_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def assert_user_shape(user: dict[str, Any]) -> None:
    assert set(user) == USER_FIELDS, user
    uuid.UUID(user["id"])
    assert_timestamp(user["created_at"])
    assert_timestamp(user["updated_at"])


def assert_order_shape(order: dict[str, Any]) -> None:
    assert set(order) == ORDER_FIELDS, order
    uuid.UUID(order["id"])
    uuid.UUID(order["user_id"])
    assert_timestamp(order["created_at"])
    assert_timestamp(order["updated_at"])


def item(product: str = "Чокопай", quantity: int = 10, price: Any = "52.00") -> dict[str, Any]:
    return {"product": product, "quantity": quantity, "price": price}


async def create_user(
    client: httpx.AsyncClient, email: str | None = None, **fields: Any
) -> dict[str, Any]:
    body = {"email": email or f"{uuid.uuid4().hex[:10]}@example.com", "name": "Тест", **fields}
    return data_of(await client.post("/users", json=body), 201)


async def create_order(
    client: httpx.AsyncClient, user_id: str, status: str = "created", **fields: Any
) -> dict[str, Any]:
    """An order for `user_id`, moved to `status` through allowed transitions."""
    body = {"user_id": user_id, "items": [item()], **fields}
    order = data_of(await client.post("/orders", json=body), 201)
    for step in PATH_TO[status]:
        order = data_of(await client.put(f"/orders/{order['id']}", json={"status": step}))
    assert order["status"] == status
    return order


def calls(app: FastAPI) -> tuple[int, int]:
    """Downstream HTTP requests sent so far: (users service, orders service)."""
    clients = app.state.clients
    return clients.users.calls, clients.orders.calls


@pytest.fixture
async def direct_users(users_process) -> AsyncIterator[httpx.AsyncClient]:
    """The users service itself, bypassing the gateway."""
    async with httpx.AsyncClient(base_url=users_process.url, timeout=10) as client:
        yield client


@pytest.fixture
async def direct_orders(orders_process) -> AsyncIterator[httpx.AsyncClient]:
    """The orders service itself, bypassing the gateway."""
    async with httpx.AsyncClient(base_url=orders_process.url, timeout=10) as client:
        yield client


# --------------------------------------------------------------------------- the original examples


async def test_original_spec_examples_verbatim(gateway: httpx.AsyncClient) -> None:
    json_header = {"Content-Type": "application/json"}

    health = data_of(await gateway.get("/health"))
    assert health["status"] == "OK"
    assert health["service"] == "API Gateway"
    assert_timestamp(health["timestamp"])
    assert set(health["circuit_breakers"]) == {"users_service", "orders_service"}
    for breaker in health["circuit_breakers"].values():
        assert breaker["state"] == "closed"
        assert breaker["failures"] == 0
        assert breaker["reachable"] is True

    for path in ("/users", "/orders"):
        listed = await gateway.get(path)
        assert listed.status_code == 200, listed.text
        assert listed.json() == {
            "success": True,
            "data": [],
            "meta": {"total": 0, "limit": 100, "offset": 0, "next": None},
        }

    created = await gateway.post(
        "/users",
        headers=json_header,
        content=SPEC_USER.encode(),
    )
    user = data_of(created, 201)
    assert_user_shape(user)
    assert user["email"] == "user@example.com"
    assert user["name"] == "Белов Ярослав"
    assert user["roles"] == ["user"]

    created = await gateway.post(
        "/orders",
        headers=json_header,
        content=SPEC_ORDER.replace("<user_uuid>", user["id"]).encode(),
    )
    order = data_of(created, 201)
    assert_order_shape(order)
    assert order["user_id"] == user["id"]
    assert order["items"] == [{"product": "Чокопай", "quantity": 10, "price": "52.00"}]
    assert order["status"] == "created"
    assert order["total_amount"] == "520.00"

    details = data_of(await gateway.get(f"/users/{user['id']}/details"))
    assert details == {"user": user, "orders": [order]}

    users = (await gateway.get("/users")).json()
    assert users == {
        "success": True,
        "data": [user],
        "meta": {"total": 1, "limit": 100, "offset": 0, "next": None},
    }
    orders = (await gateway.get("/orders")).json()
    assert orders == {
        "success": True,
        "data": [order],
        "meta": {"total": 1, "limit": 100, "offset": 0, "next": None},
    }


# --------------------------------------------------------------------------- users


async def test_user_get_put_delete(gateway: httpx.AsyncClient) -> None:
    user = await create_user(gateway, name="Иван", roles=["engineer"])
    assert data_of(await gateway.get(f"/users/{user['id']}")) == user

    updated = data_of(
        await gateway.put(
            f"/users/{user['id']}",
            json={"name": "Иван Петров", "roles": ["manager", "engineer"], "password": "s3cret-pw"},
        )
    )
    assert_user_shape(updated)  # no password or hash ever leaves the users service
    assert updated["id"] == user["id"]
    assert updated["name"] == "Иван Петров"
    assert updated["roles"] == ["manager", "engineer"]
    assert updated["email"] == user["email"]
    assert updated["created_at"] == user["created_at"]
    assert assert_timestamp(updated["updated_at"]) > assert_timestamp(user["updated_at"])

    moved = data_of(await gateway.put(f"/users/{user['id']}", json={"email": "new@example.com"}))
    assert moved["email"] == "new@example.com"
    assert data_of(await gateway.get(f"/users/{user['id']}")) == moved

    assert data_of(await gateway.delete(f"/users/{user['id']}")) == {"id": user["id"]}
    error_of(await gateway.get(f"/users/{user['id']}"), 404, "NOT_FOUND")
    error_of(await gateway.delete(f"/users/{user['id']}"), 404, "NOT_FOUND")


async def test_users_list_pages_with_meta(gateway: httpx.AsyncClient) -> None:
    users = [await create_user(gateway) for _ in range(3)]
    everyone = (await gateway.get("/users")).json()
    assert everyone["meta"] == {"total": 3, "limit": 100, "offset": 0, "next": None}
    assert {u["id"] for u in everyone["data"]} == {u["id"] for u in users}

    response = await gateway.get("/users", params={"limit": 2, "offset": 1})
    page = response.json()
    assert response.status_code == 200
    assert page["meta"] == {"total": 3, "limit": 2, "offset": 1, "next": None}
    assert page["data"] == everyone["data"][1:3]

    error = error_of(await gateway.get("/users", params={"limit": 1001}), 400, "VALIDATION_ERROR")
    assert detail_fields(error) == {"limit"}


async def test_users_batch_filter_by_ids(gateway: httpx.AsyncClient) -> None:
    first, second, _third = [await create_user(gateway) for _ in range(3)]
    stranger = str(uuid.uuid4())
    response = await gateway.get(
        "/users", params={"ids": f"{first['id']},{second['id']},{stranger}"}
    )
    found = data_of(response)
    assert sorted(found, key=lambda u: u["id"]) == sorted([first, second], key=lambda u: u["id"])
    assert response.json()["meta"]["total"] == 2

    error = error_of(
        await gateway.get("/users", params={"ids": f"{first['id']},not-a-uuid"}),
        400,
        "VALIDATION_ERROR",
    )
    assert detail_fields(error) == {"ids"}


# --------------------------------------------------------------------------- orders


async def test_order_get_put_delete(gateway: httpx.AsyncClient) -> None:
    user = await create_user(gateway)
    order = await create_order(gateway, user["id"])
    assert data_of(await gateway.get(f"/orders/{order['id']}")) == order

    changed = data_of(
        await gateway.put(
            f"/orders/{order['id']}",
            json={"items": [item("Кирпич", 3, "10"), item("Цемент", 2, 199.99)]},
        )
    )
    assert changed["items"] == [
        {"product": "Кирпич", "quantity": 3, "price": "10.00"},
        {"product": "Цемент", "quantity": 2, "price": "199.99"},
    ]
    assert changed["total_amount"] == "429.98"
    assert changed["user_id"] == user["id"]
    assert assert_timestamp(changed["updated_at"]) > assert_timestamp(order["updated_at"])

    started = data_of(await gateway.put(f"/orders/{order['id']}", json={"status": "in_progress"}))
    assert started["status"] == "in_progress"
    assert data_of(await gateway.get(f"/orders/{order['id']}")) == started

    assert data_of(await gateway.delete(f"/orders/{order['id']}")) == {"id": order["id"]}
    error_of(await gateway.get(f"/orders/{order['id']}"), 404, "NOT_FOUND")
    error_of(await gateway.delete(f"/orders/{order['id']}"), 404, "NOT_FOUND")


async def test_order_create_with_initial_status(gateway: httpx.AsyncClient) -> None:
    user = await create_user(gateway)
    order = data_of(
        await gateway.post(
            "/orders",
            json={"user_id": user["id"], "items": [item(price="1.5")], "status": "in_progress"},
        ),
        201,
    )
    assert order["status"] == "in_progress"
    assert order["total_amount"] == "15.00"


async def test_orders_list_filters_by_user_and_status(gateway: httpx.AsyncClient) -> None:
    alice, bob = await create_user(gateway), await create_user(gateway)
    a_created = await create_order(gateway, alice["id"])
    a_done = await create_order(gateway, alice["id"], "completed")
    b_created = await create_order(gateway, bob["id"])

    response = await gateway.get("/orders", params={"userId": alice["id"]})
    assert [o["id"] for o in data_of(response)] == [a_created["id"], a_done["id"]]
    assert response.json()["meta"] == {"total": 2, "limit": 100, "offset": 0, "next": None}

    response = await gateway.get("/orders", params={"userId": alice["id"], "status": "created"})
    assert data_of(response) == [a_created]
    assert response.json()["meta"]["total"] == 1

    response = await gateway.get("/orders", params={"status": "created"})
    assert {o["id"] for o in data_of(response)} == {a_created["id"], b_created["id"]}

    response = await gateway.get("/orders", params={"status": "created", "limit": 1, "offset": 1})
    assert len(data_of(response)) == 1
    assert response.json()["meta"] == {"total": 2, "limit": 1, "offset": 1, "next": None}

    response = await gateway.get("/orders", params={"userIds": f"{alice['id']},{bob['id']}"})
    assert {o["id"] for o in data_of(response)} == {a_created["id"], a_done["id"], b_created["id"]}

    error = error_of(
        await gateway.get("/orders", params={"userId": "nope"}), 400, "VALIDATION_ERROR"
    )
    assert detail_fields(error) == {"userId"}
    error = error_of(
        await gateway.get("/orders", params={"status": "shipped"}), 400, "VALIDATION_ERROR"
    )
    assert detail_fields(error) == {"status"}


# --------------------------------------------------------------------------- system


async def test_status(gateway: httpx.AsyncClient) -> None:
    first = data_of(await gateway.get("/status"))
    assert first["status"] == "API Gateway is running"
    assert first["version"] == __version__
    assert isinstance(first["uptime_s"], int | float)
    assert first["uptime_s"] >= 0
    await asyncio.sleep(0.02)
    second = data_of(await gateway.get("/status"))
    assert second["uptime_s"] > first["uptime_s"]


# ------------------------------------------------------------------ services' 4xx pass through


async def test_duplicate_email_passes_through_unchanged(
    gateway: httpx.AsyncClient, direct_users: httpx.AsyncClient
) -> None:
    await create_user(gateway, email="dup@example.com")
    duplicate = {"email": "DUP@example.com", "name": "Другой"}
    through_gateway = await gateway.post("/users", json=duplicate)
    error_of(through_gateway, 409, "EMAIL_EXISTS")
    direct = await direct_users.post("/users", json=duplicate)
    assert direct.status_code == 409
    assert through_gateway.json() == direct.json()

    other = await create_user(gateway, email="other@example.com")
    through_gateway = await gateway.put(f"/users/{other['id']}", json={"email": "dup@example.com"})
    error_of(through_gateway, 409, "EMAIL_EXISTS")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "not-an-email", "name": "Имя"}, {"email"}),
        ({"email": "a@example.com", "name": "   "}, {"name"}),
        ({"email": "a@example.com", "name": "Имя", "password": "short"}, {"password"}),
        ({"email": "a@example.com", "name": "Имя", "roles": ["king"]}, {"roles.0"}),
        ({"email": "a@example.com", "name": "Имя", "nickname": "x"}, {"nickname"}),
        ({"name": "Имя"}, {"email"}),
    ],
)
async def test_user_validation_error_passes_through(
    gateway: httpx.AsyncClient,
    direct_users: httpx.AsyncClient,
    body: dict[str, Any],
    fields: set[str],
) -> None:
    through_gateway = await gateway.post("/users", json=body)
    error = error_of(through_gateway, 400, "VALIDATION_ERROR")
    assert detail_fields(error) == fields
    direct = await direct_users.post("/users", json=body)
    assert direct.status_code == 400
    assert through_gateway.json() == direct.json()
    assert data_of(await gateway.get("/users")) == []


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "items"),
        ([item(quantity=0)], "items.0.quantity"),
        ([item(price="-1")], "items.0.price"),
        ([item(price="1.001")], "items.0.price"),
        ([item(product="")], "items.0.product"),
        ([{**item(), "colour": "red"}], "items.0.colour"),
    ],
)
async def test_order_validation_error_passes_through(
    gateway: httpx.AsyncClient,
    direct_orders: httpx.AsyncClient,
    items: list[Any],
    field: str,
) -> None:
    user = await create_user(gateway)
    body = {"user_id": user["id"], "items": items}
    through_gateway = await gateway.post("/orders", json=body)
    error = error_of(through_gateway, 400, "VALIDATION_ERROR")
    assert detail_fields(error) == {field}
    direct = await direct_orders.post("/orders", json=body)
    assert through_gateway.json() == direct.json()
    assert data_of(await gateway.get("/orders")) == []


async def test_order_body_with_bad_user_id_is_a_validation_error(
    gateway: httpx.AsyncClient,
) -> None:
    error = error_of(
        await gateway.post("/orders", json={"user_id": "nope", "items": [item()]}),
        400,
        "VALIDATION_ERROR",
    )
    assert detail_fields(error) == {"user_id"}
    error = error_of(
        await gateway.post("/orders", json={"items": [item()]}), 400, "VALIDATION_ERROR"
    )
    assert detail_fields(error) == {"user_id"}


async def test_not_found_passes_through(
    gateway: httpx.AsyncClient, direct_users: httpx.AsyncClient
) -> None:
    missing = str(uuid.uuid4())
    through_gateway = await gateway.get(f"/users/{missing}")
    error_of(through_gateway, 404, "NOT_FOUND")
    assert through_gateway.json() == (await direct_users.get(f"/users/{missing}")).json()
    error_of(await gateway.put(f"/users/{missing}", json={"name": "X"}), 404, "NOT_FOUND")
    error_of(await gateway.delete(f"/users/{missing}"), 404, "NOT_FOUND")
    error_of(await gateway.get(f"/orders/{missing}"), 404, "NOT_FOUND")
    error_of(
        await gateway.put(f"/orders/{missing}", json={"status": "cancelled"}), 404, "NOT_FOUND"
    )
    error_of(await gateway.delete(f"/orders/{missing}"), 404, "NOT_FOUND")


async def test_order_lifecycle_conflicts_pass_through(gateway: httpx.AsyncClient) -> None:
    user = await create_user(gateway)
    order = await create_order(gateway, user["id"])
    path = f"/orders/{order['id']}"

    error = error_of(
        await gateway.put(path, json={"status": "completed"}), 409, "INVALID_STATUS_TRANSITION"
    )
    assert "created" in error["message"]
    started = data_of(await gateway.put(path, json={"status": "in_progress"}))
    error_of(await gateway.put(path, json={"items": [item(quantity=1)]}), 409, "ORDER_LOCKED")
    error_of(await gateway.put(path, json={"status": "created"}), 409, "INVALID_STATUS_TRANSITION")
    assert data_of(await gateway.get(path)) == started

    done = data_of(await gateway.put(path, json={"status": "completed"}))
    error_of(
        await gateway.put(path, json={"status": "cancelled"}), 409, "INVALID_STATUS_TRANSITION"
    )
    error_of(await gateway.put(path, json={"items": [item(quantity=1)]}), 409, "ORDER_LOCKED")
    assert data_of(await gateway.get(path)) == done


async def test_order_user_never_changes(gateway: httpx.AsyncClient) -> None:
    owner, other = await create_user(gateway), await create_user(gateway)
    order = await create_order(gateway, owner["id"])
    path = f"/orders/{order['id']}"

    error = error_of(
        await gateway.put(path, json={"user_id": other["id"]}), 400, "VALIDATION_ERROR"
    )
    assert detail_fields(error) == {"user_id"}
    error = error_of(
        await gateway.put(path, json={"user_id": other["id"], "status": "in_progress"}),
        400,
        "VALIDATION_ERROR",
    )
    assert data_of(await gateway.get(path)) == order

    # Legacy clients send the whole object back: the same user_id is fine.
    same = data_of(await gateway.put(path, json={"user_id": owner["id"], "status": "in_progress"}))
    assert same["user_id"] == owner["id"]
    assert same["status"] == "in_progress"


# --------------------------------------------------------------------------- integrity


async def test_order_for_unknown_user_is_refused(
    gateway_app: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    gateway, app = gateway_app
    before = calls(app)
    response = await gateway.post("/orders", json={"user_id": str(uuid.uuid4()), "items": [item()]})
    error_of(response, 422, "USER_NOT_FOUND")
    users_calls, orders_calls = calls(app)
    assert (users_calls - before[0], orders_calls - before[1]) == (1, 0)
    assert (await gateway.get("/orders")).json()["meta"]["total"] == 0


async def test_order_for_deleted_user_is_refused(gateway: httpx.AsyncClient) -> None:
    user = await create_user(gateway)
    data_of(await gateway.delete(f"/users/{user['id']}"))
    error_of(
        await gateway.post("/orders", json={"user_id": user["id"], "items": [item()]}),
        422,
        "USER_NOT_FOUND",
    )
    assert (await gateway.get("/orders")).json()["meta"]["total"] == 0


@pytest.mark.parametrize("active", ["created", "in_progress"])
async def test_delete_user_with_active_order_is_refused(
    gateway: httpx.AsyncClient, active: str
) -> None:
    user = await create_user(gateway)
    finished = await create_order(gateway, user["id"], "completed")
    busy = await create_order(gateway, user["id"], active)

    error = error_of(await gateway.delete(f"/users/{user['id']}"), 409, "USER_HAS_ACTIVE_ORDERS")
    assert "1" in error["message"]
    assert data_of(await gateway.get(f"/users/{user['id']}")) == user
    remaining = data_of(await gateway.get("/orders", params={"userId": user["id"]}))
    assert remaining == [finished, busy]


async def test_delete_user_counts_every_active_order(gateway: httpx.AsyncClient) -> None:
    user = await create_user(gateway)
    await create_order(gateway, user["id"], "created")
    await create_order(gateway, user["id"], "in_progress")
    error = error_of(await gateway.delete(f"/users/{user['id']}"), 409, "USER_HAS_ACTIVE_ORDERS")
    assert "2" in error["message"]


async def test_delete_user_with_only_finished_orders_keeps_history(
    gateway: httpx.AsyncClient,
) -> None:
    user = await create_user(gateway)
    other = await create_user(gateway)
    done = await create_order(gateway, user["id"], "completed")
    dropped = await create_order(gateway, user["id"], "cancelled")
    await create_order(gateway, other["id"], "created")  # someone else's active order

    assert data_of(await gateway.delete(f"/users/{user['id']}")) == {"id": user["id"]}
    error_of(await gateway.get(f"/users/{user['id']}"), 404, "NOT_FOUND")
    history = data_of(await gateway.get("/orders", params={"userId": user["id"]}))
    assert history == [done, dropped]
    assert data_of(await gateway.get(f"/orders/{done['id']}")) == done


async def test_delete_user_once_its_active_order_is_cancelled(
    gateway: httpx.AsyncClient,
) -> None:
    user = await create_user(gateway)
    order = await create_order(gateway, user["id"], "in_progress")
    error_of(await gateway.delete(f"/users/{user['id']}"), 409, "USER_HAS_ACTIVE_ORDERS")
    data_of(await gateway.put(f"/orders/{order['id']}", json={"status": "cancelled"}))
    assert data_of(await gateway.delete(f"/users/{user['id']}")) == {"id": user["id"]}


# --------------------------------------------------------------------------- details


async def test_details_costs_one_call_to_each_service(
    gateway_app: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    gateway, app = gateway_app
    user = await create_user(gateway)
    other = await create_user(gateway)
    mine = [await create_order(gateway, user["id"], s) for s in ("created", "completed")]
    await create_order(gateway, other["id"])

    before = calls(app)
    details = data_of(await gateway.get(f"/users/{user['id']}/details"))
    after = calls(app)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    assert details == {"user": user, "orders": mine}


async def test_details_of_user_without_orders(gateway: httpx.AsyncClient) -> None:
    user = await create_user(gateway)
    assert data_of(await gateway.get(f"/users/{user['id']}/details")) == {
        "user": user,
        "orders": [],
    }


async def test_details_of_unknown_user_is_404(
    gateway_app: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    gateway, app = gateway_app
    before = calls(app)
    error_of(await gateway.get(f"/users/{uuid.uuid4()}/details"), 404, "NOT_FOUND")
    after = calls(app)
    assert after[0] - before[0] == 1
    assert after[1] - before[1] <= 1


async def test_details_calls_both_services_concurrently() -> None:
    """Two services that take 0.8 s each: one round trip's time (not 1.6 s)."""
    user_id = str(uuid.uuid4())
    user = {
        "id": user_id,
        "email": "slow@example.com",
        "name": "Slow",
        "roles": ["user"],
        "created_at": "2024-01-01T00:00:00+00:00",
        "updated_at": "2024-01-01T00:00:00+00:00",
    }
    users_body = {"success": True, "data": user}
    orders_body = {"success": True, "data": [], "meta": {"total": 0, "limit": None, "offset": 0}}
    async with (
        FakeServer(http_response(200, users_body), delay=0.8) as users,
        FakeServer(http_response(200, orders_body), delay=0.8) as orders,
        gateway_for(users.url, orders.url) as (gateway, _),
    ):
        started = time.monotonic()
        details = data_of(await gateway.get(f"/users/{user_id}/details"))
        elapsed = time.monotonic() - started
    assert details == {"user": user, "orders": []}
    assert users.paths == [f"/users/{user_id}"]
    assert len(orders.paths) == 1
    assert orders.paths[0].startswith("/orders?")
    assert elapsed < 1.4, f"details took {elapsed:.2f}s: the two calls were not concurrent"


# ------------------------------------------------------------------ the gateway's own errors


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/not-a-uuid"),
        ("PUT", "/users/123"),
        ("DELETE", "/users/xyz"),
        ("GET", "/users/xyz/details"),
        ("GET", "/orders/not-a-uuid"),
        ("PUT", "/orders/12345678-1234-1234-1234-12345678901z"),
        ("DELETE", "/orders/xyz"),
    ],
)
async def test_malformed_uuid_in_path_never_reaches_a_service(
    gateway_app: tuple[httpx.AsyncClient, FastAPI], method: str, path: str
) -> None:
    gateway, app = gateway_app
    before = calls(app)
    # A body valid for the resource, so that the path is the only thing wrong.
    valid_body = {"/users": {"name": "x"}, "/orders": {"status": "cancelled"}}
    body = valid_body[path[: path.index("/", 1)]] if method == "PUT" else None
    error = error_of(await gateway.request(method, path, json=body), 400, "VALIDATION_ERROR")
    assert len(detail_fields(error)) == 1
    assert detail_fields(error) <= {"user_id", "order_id", "id"}
    assert calls(app) == before


@pytest.mark.parametrize(
    ("content", "message_part"),
    [
        (b'{"user_id": ', "JSON"),
        (b"", "JSON"),
        (b"\xff\xfe", "JSON"),
        (b"[1, 2]", "object"),
        (b'"a string"', "object"),
        (b"null", "object"),
    ],
)
async def test_post_orders_with_bad_json_is_bad_request(
    gateway_app: tuple[httpx.AsyncClient, FastAPI], content: bytes, message_part: str
) -> None:
    gateway, app = gateway_app
    before = calls(app)
    response = await gateway.post(
        "/orders", content=content, headers={"Content-Type": "application/json"}
    )
    error = error_of(response, 400, "BAD_REQUEST")
    assert message_part in error["message"]
    assert calls(app) == before


async def test_post_users_with_bad_json_is_bad_request(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/users", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    error_of(response, 400, "BAD_REQUEST")
    response = await gateway.put(
        f"/users/{uuid.uuid4()}", content=b"[]", headers={"Content-Type": "application/json"}
    )
    error_of(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    "path", ["/nope", "/users/", "/orders/", f"/users/{uuid.uuid4()}/orders", "/api/users"]
)
async def test_unknown_route_is_404(
    gateway_app: tuple[httpx.AsyncClient, FastAPI], path: str
) -> None:
    gateway, app = gateway_app
    before = calls(app)
    error_of(await gateway.get(path), 404, "NOT_FOUND")
    assert calls(app) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", f"/users/{uuid.uuid4()}"),
        ("DELETE", "/users"),
        ("PUT", "/orders"),
        ("POST", f"/orders/{uuid.uuid4()}"),
        ("POST", "/health"),
        ("DELETE", "/status"),
        ("POST", f"/users/{uuid.uuid4()}/details"),
    ],
)
async def test_wrong_method_is_405(
    gateway_app: tuple[httpx.AsyncClient, FastAPI], method: str, path: str
) -> None:
    gateway, app = gateway_app
    before = calls(app)
    response = await gateway.request(method, path)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers.get("allow"), "a 405 names the allowed methods (RFC 9110)"
    assert calls(app) == before


def padded_json(body: dict[str, Any], size: int) -> bytes:
    """`body` as JSON, padded with whitespace to exactly `size` bytes."""
    raw = orjson.dumps(body)
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/users"),
        ("POST", "/orders"),
        ("PUT", f"/users/{uuid.uuid4()}"),
        ("PUT", f"/orders/{uuid.uuid4()}"),
    ],
)
async def test_body_over_one_mib_is_413(
    gateway_app: tuple[httpx.AsyncClient, FastAPI], method: str, path: str
) -> None:
    gateway, app = gateway_app
    before = calls(app)
    body = padded_json({"name": "x"}, MIB + 1)
    response = await gateway.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    error_of(response, 413, "PAYLOAD_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(3):
            yield b" " * (MIB // 2)

    response = await gateway.request(
        method, path, content=chunks(), headers={"Content-Type": "application/json"}
    )
    error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert calls(app) == before


async def test_body_of_exactly_one_mib_is_accepted(gateway: httpx.AsyncClient) -> None:
    body = padded_json({"email": "big@example.com", "name": "Большой"}, MIB)
    response = await gateway.post(
        "/users", content=body, headers={"Content-Type": "application/json"}
    )
    assert data_of(response, 201)["email"] == "big@example.com"


# --------------------------------------------------------------------------- X-Request-ID


async def test_request_id_comes_back(gateway: httpx.AsyncClient) -> None:
    given = f"test-{uuid.uuid4().hex}"
    response = await gateway.get("/users", headers={"X-Request-ID": given})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == given

    response = await gateway.get(f"/users/{uuid.uuid4()}", headers={"X-Request-ID": given})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == given

    response = await gateway.get("/nope", headers={"X-Request-ID": given})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == given

    generated = (await gateway.get("/status")).headers.get("x-request-id")
    assert generated
    assert generated != (await gateway.get("/status")).headers.get("x-request-id")


async def test_request_id_reaches_the_services(gateway: httpx.AsyncClient, logs_dir: Path) -> None:
    user = await create_user(gateway)
    given = f"trace-{uuid.uuid4().hex}"
    response = await gateway.get(f"/users/{user['id']}/details", headers={"X-Request-ID": given})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == given

    async def logged(name: str) -> bool:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if f"[{given}]" in (logs_dir / name).read_text(errors="replace"):
                return True
            await asyncio.sleep(0.05)
        return False

    assert await logged("users.log"), "the request id is not in the users service's log"
    assert await logged("orders.log"), "the request id is not in the orders service's log"
