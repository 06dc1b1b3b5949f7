"""Assignees through the gateway (auth off): validation against the users service, the
deletion saga, batching (downstream calls counted), REST and GraphQL alike."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.graphql_gateway.test_graphql_federation import data_of, error_codes, seed_users
from tests.support.envelope import error_of
from tests.support.graphql import Gateway, counted, gql
from tests.support.procs import RunningProcess

ITEMS = [{"product": "Бетон М300", "quantity": 2, "price": "4500.00"}]


async def service_order(orders_url: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=orders_url, timeout=10) as http:
        response = await http.post("/orders", json={"items": ITEMS, **body})
        assert response.status_code == 201, response.text
        return response.json()["data"]


@pytest.mark.parametrize("n", [1, 20, pytest.param(100, marks=pytest.mark.slow)])
async def test_users_page_with_assigned_orders_costs_one_call_per_service(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess, n: int
) -> None:
    users = await seed_users(users_process.url, n, tag=f"a{n}-")
    customer = users[0]["id"]
    assigned: dict[str, list[str]] = {u["id"]: [] for u in users}
    for i, user in enumerate(users):
        for _ in range(i % 3):
            order = await service_order(
                orders_process.url, user_id=customer, assignee_id=user["id"]
            )
            assigned[user["id"]].append(order["id"])
    body, users_calls, orders_calls = await counted(
        gateway_app,
        f"{{ users(limit: {n}) {{ items {{ id assignedOrders {{ id assigneeId"
        " assignee { id name } user { id } } } } }",
    )
    # The assignees and the orders' user are the page's users: the loader has them.
    assert (users_calls, orders_calls) == (1, 1)
    for item in data_of(body)["users"]["items"]:
        assert [o["id"] for o in item["assignedOrders"]] == assigned[item["id"]]
        for order in item["assignedOrders"]:
            assert order["assignee"]["id"] == order["assigneeId"] == item["id"]
            assert order["user"]["id"] == customer


async def test_orders_page_with_user_and_assignee_costs_one_call_per_service(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    customers = await seed_users(users_process.url, 5, tag="cust")
    engineers = await seed_users(users_process.url, 5, tag="eng")
    for customer, engineer in zip(customers, engineers, strict=True):
        await service_order(orders_process.url, user_id=customer["id"], assignee_id=engineer["id"])
    await service_order(orders_process.url, user_id=customers[0]["id"])  # nobody assigned
    body, users_calls, orders_calls = await counted(
        gateway_app, "{ orders { items { user { name } assignee { name } } } }"
    )
    assert (users_calls, orders_calls) == (1, 1)
    items = data_of(body)["orders"]["items"]
    assert [o["assignee"] for o in items[-1:]] == [None]
    assert [o["assignee"]["name"] for o in items[:-1]] == [e["name"] for e in engineers]


async def test_assignee_must_exist_on_create_and_update(
    gateway: httpx.AsyncClient, users_process: RunningProcess
) -> None:
    (customer, engineer) = await seed_users(users_process.url, 2, tag="v")
    nobody = str(uuid.uuid4())
    body = {"user_id": customer["id"], "items": ITEMS}
    error_of(
        await gateway.post("/orders", json={**body, "assignee_id": nobody}), 422, "USER_NOT_FOUND"
    )
    order = (await gateway.post("/orders", json={**body, "assignee_id": engineer["id"]})).json()
    assert order["data"]["assignee_id"] == engineer["id"]
    order_id = order["data"]["id"]
    refused = await gateway.put(f"/orders/{order_id}", json={"assignee_id": nobody})
    error_of(refused, 422, "USER_NOT_FOUND")
    unassigned = await gateway.put(f"/orders/{order_id}", json={"assignee_id": None})
    assert unassigned.json()["data"]["assignee_id"] is None
    # GraphQL: the same rule, the same code.
    created = await gql(
        gateway,
        "mutation($u: UUID!, $a: UUID) { createOrder(input: {userId: $u, assigneeId: $a,"
        ' items: [{product: "Бетон", quantity: 1, price: "1"}]}) { id } }',
        {"u": customer["id"], "a": nobody},
    )
    assert error_codes(created) == ["USER_NOT_FOUND"]
    updated = await gql(
        gateway,
        "mutation($id: UUID!, $a: UUID) { updateOrder(id: $id, input: {assigneeId: $a})"
        " { assignee { name } } }",
        {"id": order_id, "a": engineer["id"]},
    )
    assert data_of(updated)["updateOrder"]["assignee"]["name"] == engineer["name"]
    cleared = await gql(
        gateway,
        "mutation($id: UUID!) { updateOrder(id: $id, input: {assigneeId: null})"
        " { assigneeId assignee { name } } }",
        {"id": order_id},
    )
    assert data_of(cleared)["updateOrder"] == {"assigneeId": None, "assignee": None}


async def test_deleting_a_user_with_active_assigned_work_is_409_until_reassigned(
    gateway: httpx.AsyncClient, users_process: RunningProcess
) -> None:
    customer, engineer, other = await seed_users(users_process.url, 3, tag="d")
    body = {"user_id": customer["id"], "items": ITEMS, "assignee_id": engineer["id"]}
    order_id = (await gateway.post("/orders", json=body)).json()["data"]["id"]
    error = error_of(
        await gateway.delete(f"/users/{engineer['id']}"), 409, "USER_HAS_ACTIVE_ORDERS"
    )
    assert "reassign" in error["message"]
    # The refused delete left their book open: they can still be given work.
    again = await gateway.post("/orders", json=body)
    assert again.status_code == 201, again.text
    for each in (order_id, again.json()["data"]["id"]):
        reassigned = await gateway.put(f"/orders/{each}", json={"assignee_id": other["id"]})
        assert reassigned.status_code == 200, reassigned.text
    assert (await gateway.delete(f"/users/{engineer['id']}")).status_code == 200
    error_of(await gateway.post("/orders", json=body), 422, "USER_NOT_FOUND")


async def test_rest_list_filters_by_assignee(
    gateway: httpx.AsyncClient, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    customer, engineer = await seed_users(users_process.url, 2, tag="f")
    mine = await service_order(
        orders_process.url, user_id=customer["id"], assignee_id=engineer["id"]
    )
    await service_order(orders_process.url, user_id=customer["id"])
    response = await gateway.get("/orders", params={"assigneeId": engineer["id"]})
    assert [o["id"] for o in response.json()["data"]] == [mine["id"]]
    body = await gql(
        gateway,
        "query($a: UUID) { orders(assigneeId: $a) { total items { id } } }",
        {"a": engineer["id"]},
    )
    assert data_of(body)["orders"] == {"total": 1, "items": [{"id": mine["id"]}]}
    for bad in ("x", "1" * 400, "", "00000000-0000-0000-0000-00000000000g"):
        refused = await gateway.get("/orders", params={"assigneeId": bad})
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
