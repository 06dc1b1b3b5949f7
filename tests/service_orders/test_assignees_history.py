"""The orders service's assignees, history and acting user, in process on a real database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.service_orders.test_orders_api import (
    assert_utc_timestamp,
    assert_validation,
    create,
    fetch,
    put,
)
from tests.support.envelope import data_of, error_of

TOKEN = "gateway-token-" + "t" * 32


@pytest.fixture
async def acting(orders_app: FastAPI) -> AsyncIterator[None]:
    """The service configured with the gateway's token for one test."""
    orders_app.state.gateway_token = TOKEN
    try:
        yield
    finally:
        orders_app.state.gateway_token = None


def as_user(user_id: uuid.UUID | str, token: str = TOKEN) -> dict[str, str]:
    return {"X-Acting-User": str(user_id), "X-Gateway-Token": token}


async def history(client: httpx.AsyncClient, order_id: str, **params: Any) -> tuple[list, dict]:
    response = await client.get(f"/orders/{order_id}/history", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["data"], body["meta"]


# --------------------------------------------------------------------------- assignees


async def test_assignee_set_on_create_changed_by_put_and_removed_by_null(
    orders_client: httpx.AsyncClient,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    order = await create(orders_client, assignee_id=str(first))
    assert order["assignee_id"] == str(first)
    reassigned = data_of(await put(orders_client, order["id"], assignee_id=str(second)))
    assert reassigned["assignee_id"] == str(second)
    assert reassigned["updated_at"] > order["updated_at"]
    # The same value again is no change: the row is not written.
    same = data_of(await put(orders_client, order["id"], assignee_id=str(second)))
    assert same["updated_at"] == reassigned["updated_at"]
    cleared = data_of(await put(orders_client, order["id"], assignee_id=None))
    assert cleared["assignee_id"] is None
    # Absent: left as it is.
    kept = data_of(await put(orders_client, order["id"], status="in_progress"))
    assert kept["assignee_id"] is None
    assert (await create(orders_client))["assignee_id"] is None


async def test_lists_filter_by_assignee(orders_client: httpx.AsyncClient) -> None:
    engineer, other = uuid.uuid4(), uuid.uuid4()
    mine = [(await create(orders_client, assignee_id=str(engineer)))["id"] for _ in range(3)]
    theirs = (await create(orders_client, assignee_id=str(other)))["id"]
    await create(orders_client)
    response = await orders_client.get("/orders", params={"assigneeId": str(engineer)})
    assert [o["id"] for o in data_of(response)] == mine
    assert response.json()["meta"]["total"] == 3
    both = await orders_client.get("/orders", params={"assigneeIds": f"{engineer},{other}"})
    assert [o["id"] for o in data_of(both)] == [*mine, theirs]
    page = await orders_client.get(
        "/orders", params={"assigneeId": str(engineer), "limit": 1, "offset": 1}
    )
    assert [o["id"] for o in data_of(page)] == mine[1:2]
    assert page.json()["meta"]["total"] == 3
    only = await orders_client.get(
        "/orders", params={"assigneeIds": str(engineer), "fields": "assignee_id"}
    )
    assert data_of(only) == [{"id": i, "assignee_id": str(engineer)} for i in mine]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"assigneeId": "nope"}, "assigneeId"),
        ({"assigneeId": "1" * 5000}, "assigneeId"),
        ({"assigneeId": "%00"}, "assigneeId"),
        ({"assigneeIds": "x,y"}, "assigneeIds"),
        ({"assigneeIds": ",".join(str(uuid.uuid4()) for _ in range(501))}, "assigneeIds"),
    ],
)
async def test_bad_assignee_filters_are_400(
    orders_client: httpx.AsyncClient, params: dict, field: str
) -> None:
    assert_validation(await orders_client.get("/orders", params=params), field)


@pytest.mark.parametrize("value", [0, 12345678901234567890, "", "not-a-uuid", [], {}, True])
async def test_bad_assignee_in_bodies_is_400(orders_client: httpx.AsyncClient, value: Any) -> None:
    body = {
        "user_id": str(uuid.uuid4()),
        "items": [{"product": "Бетон", "quantity": 1, "price": 1}],
    }
    assert_validation(
        await orders_client.post("/orders", json={**body, "assignee_id": value}), "assignee_id"
    )
    order = await create(orders_client)
    assert_validation(await put(orders_client, order["id"], assignee_id=value), "assignee_id")
    assert (await fetch(orders_client, order["id"]))["assignee_id"] is None


async def test_a_user_with_active_assigned_work_is_not_deleted(
    orders_client: httpx.AsyncClient,
) -> None:
    engineer = uuid.uuid4()
    order = await create(orders_client, assignee_id=str(engineer))
    close = f"/internal/users/{engineer}/order-book/close"
    error = error_of(await orders_client.post(close), 409, "USER_HAS_ACTIVE_ORDERS")
    assert "assigned" in error["message"]
    # The refusal left the book open: work can still be assigned to them.
    await create(orders_client, assignee_id=str(engineer), status="completed")
    data_of(await put(orders_client, order["id"], status="cancelled"))
    # Finished work does not block, and keeps its assignee.
    assert data_of(await orders_client.post(close))["closed"] is True
    assert (await fetch(orders_client, order["id"]))["assignee_id"] == str(engineer)
    # From now on nothing can be assigned to them, on create or by a change.
    refused = await orders_client.post(
        "/orders",
        json={
            "user_id": str(uuid.uuid4()),
            "assignee_id": str(engineer),
            "items": [{"product": "Бетон", "quantity": 1, "price": "1.00"}],
        },
    )
    error_of(refused, 422, "USER_NOT_FOUND")
    other = await create(orders_client)
    error_of(
        await put(orders_client, other["id"], assignee_id=str(engineer)), 422, "USER_NOT_FOUND"
    )
    assert (await fetch(orders_client, other["id"]))["assignee_id"] is None


async def test_assigning_races_a_close_and_never_leaves_active_work_behind(
    orders_client: httpx.AsyncClient,
) -> None:
    """Forty assignments racing the close of the assignee's book: either the close wins
    (the assignments are refused) or it is refused: never closed with active work."""
    for _ in range(5):
        engineer = uuid.uuid4()
        orders = [await create(orders_client) for _ in range(8)]
        close = orders_client.post(f"/internal/users/{engineer}/order-book/close")
        assigns = [put(orders_client, o["id"], assignee_id=str(engineer)) for o in orders]
        closed, *assigned = await asyncio.gather(close, *assigns)
        assert closed.status_code in (200, 409), closed.text
        assert {r.status_code for r in assigned} <= {200, 422}
        active = await orders_client.get("/orders", params={"assigneeId": str(engineer)})
        if closed.status_code == 200:
            assert data_of(active) == []
            assert all(r.status_code == 422 for r in assigned)
        else:
            assert data_of(active)


# --------------------------------------------------------------------------- history


async def test_history_lists_every_change_newest_first(
    orders_client: httpx.AsyncClient,
) -> None:
    engineer, other = uuid.uuid4(), uuid.uuid4()
    order = await create(orders_client, due_date="2026-12-24", assignee_id=str(engineer))
    await put(orders_client, order["id"], status="in_progress")
    await put(orders_client, order["id"], due_date="2027-06-01", assignee_id=str(other))
    await put(orders_client, order["id"], status="in_progress")  # no change: no entry
    entries, meta = await history(orders_client, order["id"])
    assert meta["total"] == 3
    assert [e["action"] for e in entries] == ["updated", "updated", "created"]
    times = [assert_utc_timestamp(e["at"]) for e in entries]
    assert times == sorted(times, reverse=True)
    assert all(e["actor_id"] is None and e["order_id"] == order["id"] for e in entries)
    assert entries[0]["changes"] == [
        {"field": "assignee_id", "old": str(engineer), "new": str(other)},
        {"field": "due_date", "old": "2026-12-24", "new": "2027-06-01"},
    ]
    assert entries[1]["changes"] == [{"field": "status", "old": "created", "new": "in_progress"}]
    created = {c["field"]: c for c in entries[2]["changes"]}
    assert created["status"] == {"field": "status", "old": None, "new": "created"}
    assert created["total_amount"]["new"] == "520.00"
    assert created["items"]["new"] == [{"product": "Чокопай", "quantity": 10, "price": "52.00"}]
    assert created["assignee_id"]["new"] == str(engineer)
    # Pages.
    page, meta = await history(orders_client, order["id"], limit=1, offset=1)
    assert [e["id"] for e in page] == [entries[1]["id"]]
    assert meta == {"total": 3, "limit": 1, "offset": 1}


async def test_items_change_records_items_and_total(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client)
    new_items = [{"product": "Бетон М300", "quantity": 3, "price": "4500.00"}]
    await put(orders_client, order["id"], items=new_items)
    (latest, *_), _ = await history(orders_client, order["id"])
    assert latest["changes"] == [
        {
            "field": "items",
            "old": [{"product": "Чокопай", "quantity": 10, "price": "52.00"}],
            "new": new_items,
        },
        {"field": "total_amount", "old": "520.00", "new": "13500.00"},
    ]


async def test_a_refused_change_leaves_no_entry(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client, status="completed")
    refused = await put(orders_client, order["id"], status="created", due_date="2027-01-01")
    assert refused.status_code == 409, refused.text
    stale = await orders_client.put(
        f"/orders/{order['id']}",
        json={"due_date": "2027-01-01"},
        headers={"If-Match": '"20000101000000000000"'},
    )
    assert stale.status_code == 412, stale.text
    entries, meta = await history(orders_client, order["id"])
    assert meta["total"] == 1
    assert entries[0]["action"] == "created"


async def test_a_deleted_orders_history_ends_with_the_delete(
    orders_client: httpx.AsyncClient,
) -> None:
    order = await create(orders_client)
    data_of(await orders_client.delete(f"/orders/{order['id']}"))
    entries, _ = await history(orders_client, order["id"])
    assert [e["action"] for e in entries] == ["deleted", "created"]
    assert entries[0]["changes"] == []


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/orders/{new}/history", {}, 404),
        ("/orders/not-a-uuid/history", {}, 400),
        ("/orders/{order}/history", {"limit": -1}, 400),
        ("/orders/{order}/history", {"limit": 1001}, 400),
        ("/orders/{order}/history", {"offset": 10**30}, 400),
        ("/orders/{order}/history", {"since": "x"}, 400),
    ],
)
async def test_history_refuses_what_it_cannot_answer(
    orders_client: httpx.AsyncClient, path: str, params: dict, status: int
) -> None:
    order = await create(orders_client)
    url = path.format(new=uuid.uuid4(), order=order["id"])
    response = await orders_client.get(url, params=params)
    assert response.status_code == status, response.text
    assert response.json()["success"] is False


# --------------------------------------------------------------------------- acting user


async def test_acting_user_recorded_from_the_gateway_only(
    orders_client: httpx.AsyncClient, acting: None
) -> None:
    manager, engineer = uuid.uuid4(), uuid.uuid4()
    created = await orders_client.post(
        "/orders",
        json={
            "user_id": str(uuid.uuid4()),
            "items": [{"product": "Бетон", "quantity": 1, "price": 5}],
        },
        headers=as_user(manager),
    )
    order = data_of(created, 201)
    assert order["created_by"] == order["updated_by"] == str(manager)
    moved = await orders_client.put(
        f"/orders/{order['id']}", json={"status": "in_progress"}, headers=as_user(engineer)
    )
    assert data_of(moved)["created_by"] == str(manager)
    assert data_of(moved)["updated_by"] == str(engineer)
    gone = await orders_client.delete(f"/orders/{order['id']}", headers=as_user(manager))
    data_of(gone)
    entries, _ = await history(orders_client, order["id"])
    assert [(e["action"], e["actor_id"]) for e in entries] == [
        ("deleted", str(manager)),
        ("updated", str(engineer)),
        ("created", str(manager)),
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Acting-User": str(uuid.uuid4())},  # no token
        as_user(uuid.uuid4(), token="wrong"),
        as_user(uuid.uuid4(), token=""),
        as_user(uuid.uuid4(), token=TOKEN[:-1]),
        as_user(uuid.uuid4(), token=TOKEN + "x"),
    ],
)
async def test_a_claimed_actor_without_the_token_is_403_and_writes_nothing(
    orders_client: httpx.AsyncClient, acting: None, headers: dict
) -> None:
    order = await create(orders_client)
    body = {
        "user_id": str(uuid.uuid4()),
        "items": [{"product": "Бетон", "quantity": 1, "price": 5}],
    }
    error_of(await orders_client.post("/orders", json=body, headers=headers), 403, "FORBIDDEN")
    put_response = await orders_client.put(
        f"/orders/{order['id']}", json={"status": "cancelled"}, headers=headers
    )
    error_of(put_response, 403, "FORBIDDEN")
    error_of(
        await orders_client.delete(f"/orders/{order['id']}", headers=headers), 403, "FORBIDDEN"
    )
    assert (await fetch(orders_client, order["id"]))["status"] == "created"
    _, meta = await history(orders_client, order["id"])
    assert meta["total"] == 1


async def test_no_token_configured_means_no_actor_is_ever_accepted(
    orders_client: httpx.AsyncClient,
) -> None:
    order = await create(orders_client)
    response = await orders_client.put(
        f"/orders/{order['id']}", json={"status": "cancelled"}, headers=as_user(uuid.uuid4(), "")
    )
    error_of(response, 403, "FORBIDDEN")


@pytest.mark.parametrize("claimed", ["", "nobody", "1" * 300, "' OR 1=1 --"])
async def test_a_malformed_actor_from_the_gateway_is_400(
    orders_client: httpx.AsyncClient, acting: None, claimed: str
) -> None:
    order = await create(orders_client)
    response = await orders_client.put(
        f"/orders/{order['id']}", json={"status": "cancelled"}, headers=as_user(claimed)
    )
    assert_validation(response, "X-Acting-User")
    assert (await fetch(orders_client, order["id"]))["status"] == "created"
