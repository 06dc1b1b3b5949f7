"""The list-scoping rule, written once in graphql_gateway/auth/policy.py, as REST, /v1 and
GraphQL apply it: first the policy's answers themselves, then REST's batch filters (`ids`,
`userIds`, `userId`) with authentication on, on real processes, where a customer sees
their own rows whatever list they ask for, and a list without them sees nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from graphql_gateway.auth import policy
from graphql_gateway.auth.identity import UNRESTRICTED, Identity
from tests.auth.conftest import PASSWORD, AuthStack, create_account, login
from tests.auth.test_reports_scoped import order_for

ME = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
CUSTOMER = Identity(user_id=ME, roles=frozenset({"customer"}))
MANAGER = Identity(user_id=ME, roles=frozenset({"manager"}))


@pytest.mark.parametrize("identity", [UNRESTRICTED, MANAGER])
def test_who_reads_everything_gets_every_filter_as_asked(identity: Identity) -> None:
    assert policy.reads_every_user(identity)
    assert policy.reads_every_order(identity)
    assert policy.can_read_orders_of(identity, OTHER)
    assert policy.visible_user_ids(identity, [OTHER]) == [OTHER]
    assert policy.visible_order_owner(identity, OTHER) == (True, OTHER)
    assert policy.visible_order_owner(identity, None, among={OTHER}) == (True, None)


def test_a_customer_sees_their_own_rows_whatever_is_asked() -> None:
    assert not policy.reads_every_user(CUSTOMER)
    assert not policy.reads_every_order(CUSTOMER)
    assert policy.can_read_orders_of(CUSTOMER, ME)
    assert not policy.can_read_orders_of(CUSTOMER, OTHER)
    assert policy.can_read_order(CUSTOMER, {"user_id": ME})
    assert not policy.can_read_order(CUSTOMER, {"user_id": OTHER})
    assert policy.visible_user_ids(CUSTOMER, None) == [ME]
    assert policy.visible_user_ids(CUSTOMER, [OTHER, ME]) == [ME]
    assert policy.visible_user_ids(CUSTOMER, [OTHER]) == []
    assert policy.visible_user_ids(CUSTOMER, []) == []
    assert policy.visible_order_owner(CUSTOMER, None) == (True, ME)
    assert policy.visible_order_owner(CUSTOMER, ME) == (True, ME)
    assert policy.visible_order_owner(CUSTOMER, OTHER) == (False, None)
    assert policy.visible_order_owner(CUSTOMER, None, among={OTHER, ME}) == (True, ME)
    assert policy.visible_order_owner(CUSTOMER, None, among={OTHER}) == (False, None)
    assert policy.visible_order_owner(CUSTOMER, None, among=set()) == (False, None)
    assert policy.visible_order_owner(CUSTOMER, ME, among={OTHER}) == (False, None)


@pytest.fixture
def customer(auth_stack: AuthStack) -> dict[str, Any]:
    """A customer with two orders, another customer with one, and the first one's token."""
    user = create_account(auth_stack.users.url, "customer", PASSWORD)
    own = [order_for(auth_stack.orders.url, user["id"])["id"] for _ in range(2)]
    other = create_account(auth_stack.users.url, "customer", PASSWORD)
    order_for(auth_stack.orders.url, other["id"])
    token = login(auth_stack.url, user["email"])
    headers = {"Authorization": f"Bearer {token}"}
    return {**user, "own": own, "other": other["id"], "headers": headers}


def page(stack: AuthStack, customer: dict[str, Any], path: str, **params: str) -> Any:
    response = httpx.get(f"{stack.url}{path}", params=params, headers=customer["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True, body
    return body


def test_a_customers_user_list_is_themselves_whatever_ids_they_send(
    auth_stack: AuthStack, customer: dict[str, Any]
) -> None:
    me, other = customer["id"], customer["other"]
    for ids in (None, me, f"{other},{me}"):
        body = page(auth_stack, customer, "/users", **({"ids": ids} if ids else {}))
        assert [user["id"] for user in body["data"]] == [me], ids
    for ids in (other, ","):  # "," is a list of no ids: nobody
        body = page(auth_stack, customer, "/users", ids=ids, total="true")
        assert body["data"] == [], ids
        assert body["meta"]["total"] == 0
        assert body["meta"]["next"] is None


def test_a_customers_order_list_is_their_own_whatever_owners_they_send(
    auth_stack: AuthStack, customer: dict[str, Any]
) -> None:
    me, other, own = customer["id"], customer["other"], set(customer["own"])
    for params in ({}, {"userId": me}, {"userIds": f"{other},{me}"}, {"userIds": me}):
        body = page(auth_stack, customer, "/orders", **params)
        assert {order["id"] for order in body["data"]} == own, params
    for params in ({"userId": other}, {"userIds": other}, {"userId": me, "userIds": other}):
        body = page(auth_stack, customer, "/orders", total="true", **params)
        assert body["data"] == [], params
        assert body["meta"]["total"] == 0
    csv = httpx.get(
        f"{auth_stack.url}/orders",
        params={"userIds": other, "format": "csv"},
        headers=customer["headers"],
    )
    assert csv.status_code == 200, csv.text
    assert csv.text.strip().count("\n") == 0  # the header row only
    csv = httpx.get(
        f"{auth_stack.url}/orders",
        params={"userIds": f"{other},{me}", "format": "csv"},
        headers=customer["headers"],
    )
    assert csv.status_code == 200, csv.text
    assert csv.text.strip().count("\n") == len(own)


@pytest.mark.parametrize("ids", ["not-a-uuid", "\x00", "a" * 5000, "é", f"{uuid.uuid4()},x"])
def test_malformed_owner_lists_are_refused_before_any_scope(
    auth_stack: AuthStack, customer: dict[str, Any], ids: str
) -> None:
    for path, name in (("/users", "ids"), ("/orders", "userIds")):
        response = httpx.get(
            f"{auth_stack.url}{path}", params={name: ids}, headers=customer["headers"]
        )
        assert response.status_code == 400, (path, ids, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
