"""Each persona's day, with authentication on, on real processes: a manager assigns and
reassigns, an engineer works on what is assigned to them (and cannot move its deadline),
the history says who did what and when, a customer sees their order and who works on
it, and nothing else of the engineer's work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.auth.conftest import PASSWORD, AuthStack, create_account, login

pytestmark = pytest.mark.slow  # a day of every persona, end to end

ITEMS = [{"product": "Бетон М300", "quantity": 3, "price": "4500.00"}]


PEOPLE: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while PEOPLE:
        PEOPLE.pop().close()


class Person:
    def __init__(self, stack: AuthStack, role: str) -> None:
        self.user = create_account(stack.users.url, role, PASSWORD)
        self.id = self.user["id"]
        token = login(stack.url, self.user["email"])
        self.http = httpx.Client(
            base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        PEOPLE.append(self.http)

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = self.http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        return response.json()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return error["message"]


def gql_error(body: dict[str, Any], field: str) -> str:
    assert body["data"] is None or body["data"].get(field) is None, body
    (error,) = body["errors"]
    assert error["path"] == [field], body
    return error["extensions"]["code"]


def test_a_day_of_every_persona(auth_stack: AuthStack) -> None:
    manager, customer, other_customer = (
        Person(auth_stack, "manager"),
        Person(auth_stack, "customer"),
        Person(auth_stack, "customer"),
    )
    anna, petr = Person(auth_stack, "engineer"), Person(auth_stack, "engineer")

    # The manager gives the customer's work to Anna, with a deadline.
    body = {
        "user_id": customer.id,
        "items": ITEMS,
        "due_date": "2026-12-24",
        "assignee_id": anna.id,
    }
    order = ok(manager.http.post("/orders", json=body), 201)
    assert order["assignee_id"] == anna.id
    assert order["created_by"] == order["updated_by"] == manager.id
    # Someone else's work, also Petr's later: what the customer must never see.
    elsewhere = ok(
        manager.http.post(
            "/orders", json={"user_id": other_customer.id, "items": ITEMS, "assignee_id": petr.id}
        ),
        201,
    )

    # Anna finds it among her work, and starts it.
    mine = anna.gql("{ me { assignedOrders { id status dueDate user { name } } } }")
    assert mine["data"]["me"]["assignedOrders"] == [
        {
            "id": order["id"],
            "status": "CREATED",
            "dueDate": "2026-12-24",
            "user": {"name": customer.user["name"]},
        }
    ]
    started = ok(anna.http.put(f"/orders/{order['id']}", json={"status": "in_progress"}))
    assert started["updated_by"] == anna.id
    # She cannot move its deadline, nor give it away: REST and GraphQL alike.
    message = refused(
        anna.http.put(f"/orders/{order['id']}", json={"due_date": "2027-06-01"}), 403, "FORBIDDEN"
    )
    assert "deadline" in message
    moved = anna.gql(
        'mutation($id: UUID!) { updateOrder(id: $id, input: {dueDate: "2027-06-01"}) { id } }',
        id=order["id"],
    )
    assert gql_error(moved, "updateOrder") == "FORBIDDEN"
    refused(
        anna.http.put(f"/orders/{order['id']}", json={"assignee_id": petr.id}), 403, "FORBIDDEN"
    )
    # Sending the deadline it already has is no move (legacy clients send whole objects).
    same = {"due_date": "2026-12-24", "status": "in_progress"}
    ok(anna.http.put(f"/orders/{order['id']}", json=same))

    # Anna is ill: the manager hands the work over to Petr.
    handed = ok(manager.http.put(f"/orders/{order['id']}", json={"assignee_id": petr.id}))
    assert handed["assignee_id"] == petr.id
    assert handed["updated_by"] == manager.id
    refused(anna.http.put(f"/orders/{order['id']}", json={"status": "completed"}), 403, "FORBIDDEN")
    assert anna.gql("{ me { assignedOrders { id } } }")["data"]["me"]["assignedOrders"] == []
    petrs = petr.gql("{ me { assignedOrders { id } } }")["data"]["me"]["assignedOrders"]
    assert [o["id"] for o in petrs] == [order["id"], elsewhere["id"]]  # oldest first
    ok(petr.http.put(f"/orders/{order['id']}", json={"status": "completed"}))

    # The history: each change, who made it and when, newest first.
    entries = ok(manager.http.get(f"/orders/{order['id']}/history"))
    assert [(e["action"], e["actor_id"]) for e in entries] == [
        ("updated", petr.id),
        ("updated", manager.id),
        ("updated", anna.id),
        ("created", manager.id),
    ]
    assert [e["changes"] for e in entries[:3]] == [
        [{"field": "status", "old": "in_progress", "new": "completed"}],
        [{"field": "assignee_id", "old": anna.id, "new": petr.id}],
        [{"field": "status", "old": "created", "new": "in_progress"}],
    ]
    times = [datetime.fromisoformat(e["at"]) for e in entries]
    assert times == sorted(times, reverse=True)
    in_graphql = manager.gql(
        "query($id: UUID!) { order(id: $id) { createdBy updatedBy"
        " history(limit: 2, offset: 1) { total items { actorId action } } } }",
        id=order["id"],
    )["data"]["order"]
    assert in_graphql == {
        "createdBy": manager.id,
        "updatedBy": petr.id,
        "history": {
            "total": 4,
            "items": [
                {"actorId": manager.id, "action": "updated"},
                {"actorId": anna.id, "action": "updated"},
            ],
        },
    }

    # The customer: their order, and who works on it; nothing else of Petr's work.
    seen = ok(customer.http.get(f"/orders/{order['id']}"))
    assert seen["assignee_id"] == petr.id
    view = customer.gql(
        "query($petr: UUID!) { me { orders { id assignee { name assignedOrders { id } } } }"
        " petr: user(id: $petr) { id } }",
        petr=petr.id,
    )
    assert view["data"] == {
        "me": {
            "orders": [
                {
                    "id": order["id"],
                    "assignee": {
                        "name": petr.user["name"],
                        "assignedOrders": [{"id": order["id"]}],
                    },
                }
            ]
        },
        "petr": None,
    }
    listed = ok(customer.http.get("/orders", params={"assigneeId": petr.id}))
    assert [o["id"] for o in listed] == [order["id"]]
    assert ok(customer.http.get(f"/orders/{order['id']}/history"))
    refused(customer.http.get(f"/orders/{elsewhere['id']}/history"), 404, "NOT_FOUND")
    refused(customer.http.get(f"/users/{petr.id}"), 404, "NOT_FOUND")
    # Their export is theirs too: CSV of their orders only, whatever they filter by.
    exported = customer.http.get("/orders", params={"format": "csv", "assigneeId": petr.id})
    assert exported.status_code == 200, exported.text
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(order["id"])
    searched = customer.http.get("/orders", params={"q": "бетон"}, headers={"Accept": "text/csv"})
    assert [line.split(",")[0] for line in searched.text.splitlines()[1:]] == [order["id"]]


def test_a_client_cannot_claim_to_act_as_someone_else(auth_stack: AuthStack) -> None:
    """X-Acting-User from a client is not forwarded: the history names the caller."""
    manager, director = Person(auth_stack, "manager"), Person(auth_stack, "director")
    customer = Person(auth_stack, "customer")
    headers = {"X-Acting-User": director.id, "X-Gateway-Token": "guess"}
    made = manager.http.post(
        "/orders", json={"user_id": customer.id, "items": ITEMS}, headers=headers
    )
    order = ok(made, 201)
    assert order["created_by"] == manager.id
    (entry,) = ok(manager.http.get(f"/orders/{order['id']}/history"))
    assert entry["actor_id"] == manager.id
