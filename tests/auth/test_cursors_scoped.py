"""Cursor pages with authentication on: a connection or a cursor walk sees exactly what the
caller's list sees (graphql_gateway/auth/policy.py), whatever cursor or filter is sent.

Over the shared auth stack (other tests add users and orders to it): each test makes a
customer of its own and compares what it knows.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from apicore.keyset import encode
from tests.auth.conftest import PASSWORD, AuthStack, create_account, login
from tests.auth.test_reports_scoped import order_for

pytestmark = pytest.mark.slow  # a gateway with authentication on, and seeded services

EDGES = "edges { cursor node { id userId } } pageInfo { hasNextPage endCursor } totalCount"
USER_EDGES = EDGES.replace("id userId", "id")


def gql(stack: AuthStack, headers: dict[str, str], query: str, **variables: Any) -> Any:
    payload = {"query": query, "variables": variables}
    response = httpx.post(f"{stack.url}/graphql", json=payload, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def customer(stack: AuthStack) -> tuple[dict[str, Any], dict[str, str]]:
    user = create_account(stack.users.url, "customer", PASSWORD)
    token = login(stack.url, user["email"])
    return user, {"Authorization": f"Bearer {token}"}


def walk(stack: AuthStack, headers: dict[str, str], field: str, **arguments: Any) -> list[dict]:
    owner = "userId" in arguments
    query = (
        "query($after: String" + (", $userId: UUID" if owner else "") + ")"
        f" {{ {field}(first: 2, after: $after"
        + (", userId: $userId" if owner else "")
        + f") {{ {EDGES if field == 'ordersConnection' else USER_EDGES} }} }}"
    )
    nodes: list[dict] = []
    after = None
    while True:
        connection = gql(stack, headers, query, after=after, **arguments)[field]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


def test_a_customers_connection_is_their_own_orders(auth_stack: AuthStack) -> None:
    user, headers = customer(auth_stack)
    other, _ = customer(auth_stack)
    mine = [order_for(auth_stack.orders.url, user["id"])["id"] for _ in range(5)]
    order_for(auth_stack.orders.url, other["id"])
    walked = walk(auth_stack, headers, "ordersConnection")
    assert [node["id"] for node in walked] == mine
    assert {node["userId"] for node in walked} == {user["id"]}
    # Asking for someone else's: nothing, as the list answers.
    assert walk(auth_stack, headers, "ordersConnection", userId=other["id"]) == []
    listed = gql(auth_stack, headers, f'{{ orders(userId: "{other["id"]}") {{ total }} }}')
    assert listed == {"orders": {"total": 0}}
    # REST: the same walk, and the same nothing.
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        response = httpx.get(f"{auth_stack.url}/orders", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [order["id"] for order in body["data"]]
        if body["meta"]["next"] is None:
            break
        params = {"limit": 2, "after": body["meta"]["next"]}
    assert seen == mine


def test_a_made_up_cursor_does_not_widen_the_scope(auth_stack: AuthStack) -> None:
    """A cursor only says where a page starts: from the very first key possible, a customer
    still reads their own orders only."""
    user, headers = customer(auth_stack)
    other, _ = customer(auth_stack)
    mine = order_for(auth_stack.orders.url, user["id"])["id"]
    order_for(auth_stack.orders.url, other["id"])
    first_key = ["0001-01-01T00:00:00.000000+00:00", "00000000-0000-0000-0000-000000000000"]
    start = encode("orders", "created_at", False, first_key)
    query = f"query($after: String) {{ ordersConnection(after: $after) {{ {EDGES} }} }}"
    connection = gql(auth_stack, headers, query, after=start)["ordersConnection"]
    assert [edge["node"]["id"] for edge in connection["edges"]] == [mine]
    assert connection["totalCount"] == 1
    response = httpx.get(f"{auth_stack.url}/orders", params={"after": start}, headers=headers)
    assert [order["id"] for order in response.json()["data"]] == [mine]


def test_a_customers_users_connection_is_themselves(auth_stack: AuthStack) -> None:
    user, headers = customer(auth_stack)
    other, _ = customer(auth_stack)
    nodes = walk(auth_stack, headers, "usersConnection")
    assert [node["id"] for node in nodes] == [user["id"]]
    query = f"query($ids: [UUID!]) {{ usersConnection(ids: $ids) {{ {USER_EDGES} }} }}"
    nobody = gql(auth_stack, headers, query, ids=[other["id"]])["usersConnection"]
    assert nobody["edges"] == []
    assert nobody["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    response = httpx.get(f"{auth_stack.url}/users", params={"limit": 1}, headers=headers)
    assert [each["id"] for each in response.json()["data"]] == [user["id"]]
    assert response.json()["meta"]["next"] is None


def test_a_manager_walks_every_user(auth_stack: AuthStack) -> None:
    manager = auth_stack.accounts["manager"]
    listed = gql(auth_stack, manager.headers, "{ users(limit: 1000) { items { id } } }")
    walked = walk(auth_stack, manager.headers, "usersConnection")
    assert [node["id"] for node in walked] == [u["id"] for u in listed["users"]["items"]]
