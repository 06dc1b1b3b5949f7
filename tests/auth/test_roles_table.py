"""Every cell of the roles table (docs/auth.md), over REST and over GraphQL, on real processes.

One case per row of the table (split where "own" and "any" differ); each case runs for
every persona through both APIs and must give the outcome the table says:
- "ok": done (or read), and the answer is the data itself;
- "forbidden": 403 FORBIDDEN (GraphQL: null with FORBIDDEN at the mutation's path);
- "hidden": outside the caller's read scope: 404 NOT_FOUND (GraphQL: null, or
  NOT_FOUND at the mutation's path), as if it did not exist.
Writes that are refused must leave the data as it was: each case checks that too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.auth.conftest import PERSONAS, Account, AuthStack, create_account

STAFF = {"admin", "manager", "engineer", "director"}
ITEMS = [{"product": "Бетон", "quantity": 2, "price": "10.50"}]
GQL_ITEMS = '[{product: "Бетон", quantity: 2, price: "10.50"}]'


def expect(ok: set[str], otherwise: str = "forbidden", **special: str) -> dict[str, str]:
    outcomes = {role: ("ok" if role in ok else otherwise) for role in PERSONAS}
    outcomes.update(special)
    return outcomes


def rest_outcome(response: httpx.Response, ok_status: int = 200) -> tuple[str, Any]:
    body = response.json()
    if response.status_code == ok_status:
        assert body["success"] is True, body
        return "ok", body["data"]
    assert body["success"] is False, body
    code = body["error"]["code"]
    if (response.status_code, code) == (403, "FORBIDDEN"):
        return "forbidden", None
    if (response.status_code, code) == (404, "NOT_FOUND"):
        return "hidden", None
    raise AssertionError(f"unexpected {response.status_code}: {response.text}")


def graphql_outcome(response: httpx.Response, field: str) -> tuple[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    errors = body.get("errors") or []
    value = (body.get("data") or {}).get(field)
    if value is not None:
        assert not errors, body
        return "ok", value
    if not errors:
        return "hidden", None  # a read outside the scope: null, no error
    assert len(errors) == 1, body
    assert errors[0]["path"] == [field], body
    code = errors[0]["extensions"]["code"]
    return {"FORBIDDEN": "forbidden", "NOT_FOUND": "hidden"}[code], None


class Api:
    def __init__(self, stack: AuthStack, account: Account) -> None:
        self.stack = stack
        self.http = httpx.Client(base_url=stack.url, headers=account.headers, timeout=10)
        self.account = account

    def gql(self, query: str, field: str) -> tuple[str, Any]:
        return graphql_outcome(self.http.post("/graphql", json={"query": query}), field)


@dataclass
class Fixture:
    """What one case acts on: another user with an order, one without, the caller's order."""

    victim: dict
    victim_order: dict
    own_order: dict
    bystander: dict  # no orders: deletable
    own_total: int  # the caller's orders, this fixture's included
    worker: dict  # the one the caller's order is assigned to (the victim: a user that exists)
    assigned_order: dict  # the victim's order, assigned to the caller
    own_worked_order: dict  # the caller's order, assigned to the worker
    victim_total: int  # the victim's orders, this fixture's included


def make_fixture(stack: AuthStack, account: Account) -> Fixture:
    victim = create_account(stack.users.url, "customer")
    worker = victim  # who is assigned matters not to the table; no user more per case
    victim_order = service_order(stack, victim["id"])
    own_order = service_order(stack, account.id)
    assigned_order = service_order(
        stack, victim["id"], assignee_id=account.id, due_date="2026-12-24"
    )
    own_worked_order = service_order(stack, account.id, assignee_id=worker["id"])
    return Fixture(
        victim=victim,
        victim_order=victim_order,
        own_order=own_order,
        bystander=create_account(stack.users.url, "engineer"),
        own_total=orders_total(stack, account.id),
        worker=worker,
        assigned_order=assigned_order,
        own_worked_order=own_worked_order,
        victim_total=orders_total(stack, victim["id"]),
    )


def orders_total(stack: AuthStack, user_id: str) -> int:
    response = httpx.get(f"{stack.orders.url}/orders", params={"userId": user_id}, timeout=10)
    return response.json()["meta"]["total"]


def service_order(stack: AuthStack, user_id: str, **extra: Any) -> dict:
    response = httpx.post(
        f"{stack.orders.url}/orders",
        json={"user_id": user_id, "items": ITEMS, **extra},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def service_user(stack: AuthStack, user_id: str) -> dict | None:
    response = httpx.get(f"{stack.users.url}/users/{user_id}", timeout=10)
    return response.json()["data"] if response.status_code == 200 else None


def service_order_of(stack: AuthStack, order_id: str) -> dict | None:
    response = httpx.get(f"{stack.orders.url}/orders/{order_id}", timeout=10)
    return response.json()["data"] if response.status_code == 200 else None


# ------------------------------------------------------------------ the cases
# Each: (REST call, GraphQL call) -> (outcome, value), then a check of the data afterwards.

Call = Callable[[Api, Fixture], tuple[str, Any]]
Check = Callable[[AuthStack, Api, Fixture, str, Any], None]


def no_check(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
    return None


def check_lists_users(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
    ids = {user["id"] for user in value}
    if api.account.role in STAFF:
        assert {api.account.id, fx.victim["id"]} <= ids
    else:
        assert ids == {api.account.id}


def check_lists_orders(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
    owners = {order["user_id"] if "user_id" in order else order["userId"] for order in value}
    if api.account.role in STAFF:
        assert {api.account.id, fx.victim["id"]} <= owners
    else:
        assert owners == {api.account.id}


def check_victim_name(expected_when_ok: str) -> Check:
    def check(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
        victim = service_user(stack, fx.victim["id"])
        assert victim is not None
        name = victim["name"]
        assert name == (expected_when_ok if outcome == "ok" else fx.victim["name"])

    return check


def check_roles_of(whose: str) -> Check:
    def check(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
        user_id = fx.victim["id"] if whose == "victim" else api.account.id
        user = service_user(stack, user_id)
        assert user is not None
        roles = user["roles"]
        original = ["customer"] if whose == "victim" else [api.account.role]
        assert roles == (["admin"] if outcome == "ok" else original)
        if whose == "self" and outcome == "ok":  # put the persona back as it was
            httpx.put(f"{stack.users.url}/users/{user_id}", json={"roles": original}, timeout=10)

    return check


def check_bystander_gone(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
    assert (service_user(stack, fx.bystander["id"]) is None) == (outcome == "ok")


def check_order_status(key: str) -> Check:
    def check(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
        order = service_order_of(stack, getattr(fx, key)["id"])
        assert order is not None
        assert order["status"] == ("in_progress" if outcome == "ok" else "created")

    return check


def check_due_date(key: str) -> Check:
    def check(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
        order = service_order_of(stack, getattr(fx, key)["id"])
        assert order is not None
        expected = "2027-06-01" if outcome == "ok" else getattr(fx, key)["due_date"]
        assert order["due_date"] == expected

    return check


def check_assigned_to_worker(key: str) -> Check:
    def check(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
        order = service_order_of(stack, getattr(fx, key)["id"])
        assert order is not None
        assert order["assignee_id"] == (fx.worker["id"] if outcome == "ok" else None)
        if outcome == "ok":  # who did it is on record
            assert order["updated_by"] == api.account.id

    return check


def check_sees_the_worker(
    stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any
) -> None:
    if "assignee" in value:  # GraphQL: the engineer's own fields, through the order
        assert value["assignee"] == {"id": fx.worker["id"], "name": fx.worker["name"]}
    else:
        assert value["assignee_id"] == fx.worker["id"]


def check_history_of_own(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
    entries = value if isinstance(value, list) else value["history"]["items"]
    assert [entry["action"] for entry in entries] == ["created"]


def check_victim_order_gone(
    stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any
) -> None:
    assert (service_order_of(stack, fx.victim_order["id"]) is None) == (outcome == "ok")


def check_created_order(owner: str) -> Check:
    def check(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
        user_id = fx.victim["id"] if owner == "victim" else api.account.id
        before = fx.victim_total if owner == "victim" else fx.own_total
        assert orders_total(stack, user_id) == before + (outcome == "ok")
        if outcome == "ok":
            order = service_order_of(stack, value["id"])
            assert order is not None
            assert order["user_id"] == user_id

    return check


def created_user_exists(stack: AuthStack, api: Api, fx: Fixture, outcome: str, value: Any) -> None:
    if outcome == "ok":
        assert service_user(stack, value["id"]) is not None


@dataclass
class Case:
    name: str
    outcomes: dict[str, str]
    rest: Call
    graphql: Call
    check: Check = no_check


def _new_user_body() -> dict:
    return {"email": f"new-{uuid.uuid4().hex[:10]}@auth.example", "name": "Новый"}


CASES = [
    Case(
        "read users: list",
        expect(set(PERSONAS)),
        lambda api, fx: rest_outcome(api.http.get("/users", params={"limit": 1000})),
        lambda api, fx: (lambda outcome: (outcome[0], outcome[1]["items"]))(
            api.gql("{ users(limit: 1000) { items { id } total } }", "users")
        ),
        check_lists_users,
    ),
    Case(
        "read users: another user",
        expect(STAFF, "hidden"),
        lambda api, fx: rest_outcome(api.http.get(f"/users/{fx.victim['id']}")),
        lambda api, fx: api.gql(f'{{ user(id: "{fx.victim["id"]}") {{ id name }} }}', "user"),
    ),
    Case(
        "read users: another user's details",
        expect(STAFF, "hidden"),
        lambda api, fx: rest_outcome(api.http.get(f"/users/{fx.victim['id']}/details")),
        lambda api, fx: api.gql(
            f'{{ user(id: "{fx.victim["id"]}") {{ id orders {{ id }} }} }}', "user"
        ),
    ),
    Case(
        "read users: self",
        expect(set(PERSONAS)),
        lambda api, fx: rest_outcome(api.http.get(f"/users/{api.account.id}")),
        lambda api, fx: api.gql(f'{{ user(id: "{api.account.id}") {{ id }} }}', "user"),
    ),
    Case(
        "create users",
        expect({"admin"}),
        lambda api, fx: rest_outcome(api.http.post("/users", json=_new_user_body()), 201),
        lambda api, fx: api.gql(
            'mutation {{ createUser(input: {{email: "{email}", name: "Новый"}}) {{ id }} }}'.format(
                email=_new_user_body()["email"]
            ),
            "createUser",
        ),
        created_user_exists,
    ),
    Case(
        "delete users",
        expect({"admin"}),
        lambda api, fx: rest_outcome(api.http.delete(f"/users/{fx.bystander['id']}")),
        lambda api, fx: api.gql(
            f'mutation {{ deleteUser(id: "{fx.bystander["id"]}") }}', "deleteUser"
        ),
        check_bystander_gone,
    ),
    Case(
        "change anyone's roles",
        expect({"admin"}),
        lambda api, fx: rest_outcome(
            api.http.put(f"/users/{fx.victim['id']}", json={"roles": ["admin"]})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateUser(id: "{fx.victim["id"]}", input: {{roles: ["admin"]}})'
            " { id } }",
            "updateUser",
        ),
        check_roles_of("victim"),
    ),
    Case(
        "change own roles",
        expect({"admin"}),
        lambda api, fx: rest_outcome(
            api.http.put(f"/users/{api.account.id}", json={"roles": ["admin"]})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateUser(id: "{api.account.id}", input: {{roles: ["admin"]}})'
            " { id } }",
            "updateUser",
        ),
        check_roles_of("self"),
    ),
    Case(
        "update own name",
        expect(set(PERSONAS)),
        lambda api, fx: rest_outcome(
            api.http.put(f"/users/{api.account.id}", json={"name": "Renamed Persona"})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateUser(id: "{api.account.id}", input: {{name: "Renamed Persona"}})'
            " { name } }",
            "updateUser",
        ),
    ),
    Case(
        "update another user's name",
        expect({"admin"}, customer="hidden", user="hidden"),
        lambda api, fx: rest_outcome(
            api.http.put(f"/users/{fx.victim['id']}", json={"name": "Renamed Victim"})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateUser(id: "{fx.victim["id"]}", input: {{name: "Renamed Victim"}})'
            " { name } }",
            "updateUser",
        ),
        check_victim_name("Renamed Victim"),
    ),
    Case(
        "read orders: list",
        expect(set(PERSONAS)),
        # Newest first: this fixture's orders lead, however many earlier cases made.
        lambda api, fx: rest_outcome(
            api.http.get("/orders", params={"limit": 1000, "sort": "-created_at"})
        ),
        lambda api, fx: (lambda outcome: (outcome[0], outcome[1]["items"]))(
            api.gql(
                '{ orders(limit: 1000, sort: "-created_at") { items { userId } total } }',
                "orders",
            )
        ),
        check_lists_orders,
    ),
    Case(
        "read orders: another user's order",
        expect(STAFF, "hidden"),
        lambda api, fx: rest_outcome(api.http.get(f"/orders/{fx.victim_order['id']}")),
        lambda api, fx: api.gql(f'{{ order(id: "{fx.victim_order["id"]}") {{ id }} }}', "order"),
    ),
    Case(
        "read orders: own order",
        expect(set(PERSONAS)),
        lambda api, fx: rest_outcome(api.http.get(f"/orders/{fx.own_order['id']}")),
        lambda api, fx: api.gql(
            f'{{ order(id: "{fx.own_order["id"]}") {{ id user {{ id }} }} }}', "order"
        ),
    ),
    Case(
        "create orders: for another user",
        expect({"admin", "manager"}),
        lambda api, fx: rest_outcome(
            api.http.post("/orders", json={"user_id": fx.victim["id"], "items": ITEMS}), 201
        ),
        lambda api, fx: api.gql(
            f'mutation {{ createOrder(input: {{userId: "{fx.victim["id"]}", items: {GQL_ITEMS}}})'
            " { id } }",
            "createOrder",
        ),
        check_created_order("victim"),
    ),
    Case(
        "create orders: own",
        expect({"admin", "manager", "engineer", "user"}),
        lambda api, fx: rest_outcome(
            api.http.post("/orders", json={"user_id": api.account.id, "items": ITEMS}), 201
        ),
        lambda api, fx: api.gql(
            f'mutation {{ createOrder(input: {{userId: "{api.account.id}", items: {GQL_ITEMS}}})'
            " { id } }",
            "createOrder",
        ),
        check_created_order("self"),
    ),
    Case(
        "update orders: another user's",
        expect({"admin", "manager"}),
        lambda api, fx: rest_outcome(
            api.http.put(f"/orders/{fx.victim_order['id']}", json={"status": "in_progress"})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateOrder(id: "{fx.victim_order["id"]}",'
            " input: {status: IN_PROGRESS}) { status } }",
            "updateOrder",
        ),
        check_order_status("victim_order"),
    ),
    Case(
        "update orders: own",
        expect({"admin", "manager", "engineer"}),
        lambda api, fx: rest_outcome(
            api.http.put(f"/orders/{fx.own_order['id']}", json={"status": "in_progress"})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateOrder(id: "{fx.own_order["id"]}",'
            " input: {status: IN_PROGRESS}) { status } }",
            "updateOrder",
        ),
        check_order_status("own_order"),
    ),
    Case(
        "read an order's assignee: own order",
        expect(set(PERSONAS)),
        lambda api, fx: rest_outcome(api.http.get(f"/orders/{fx.own_worked_order['id']}")),
        lambda api, fx: api.gql(
            f'{{ order(id: "{fx.own_worked_order["id"]}") {{ id assignee {{ id name }} }} }}',
            "order",
        ),
        check_sees_the_worker,
    ),
    Case(
        "assign orders",
        expect({"admin", "manager"}),
        lambda api, fx: rest_outcome(
            api.http.put(f"/orders/{fx.own_order['id']}", json={"assignee_id": fx.worker["id"]})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateOrder(id: "{fx.own_order["id"]}",'
            f' input: {{assigneeId: "{fx.worker["id"]}"}}) {{ assigneeId }} }}',
            "updateOrder",
        ),
        check_assigned_to_worker("own_order"),
    ),
    Case(
        "update orders: work assigned to oneself",
        expect({"admin", "manager", "engineer"}),
        lambda api, fx: rest_outcome(
            api.http.put(f"/orders/{fx.assigned_order['id']}", json={"status": "in_progress"})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateOrder(id: "{fx.assigned_order["id"]}",'
            " input: {status: IN_PROGRESS}) { status } }",
            "updateOrder",
        ),
        check_order_status("assigned_order"),
    ),
    Case(
        "move a deadline: work assigned to oneself",
        expect({"admin", "manager"}),
        lambda api, fx: rest_outcome(
            api.http.put(f"/orders/{fx.assigned_order['id']}", json={"due_date": "2027-06-01"})
        ),
        lambda api, fx: api.gql(
            f'mutation {{ updateOrder(id: "{fx.assigned_order["id"]}",'
            ' input: {dueDate: "2027-06-01"}) { dueDate } }',
            "updateOrder",
        ),
        check_due_date("assigned_order"),
    ),
    Case(
        "read an order's history: own order",
        expect(set(PERSONAS)),
        lambda api, fx: rest_outcome(api.http.get(f"/orders/{fx.own_order['id']}/history")),
        lambda api, fx: api.gql(
            f'{{ order(id: "{fx.own_order["id"]}") {{ history {{ items {{ action }} }} }} }}',
            "order",
        ),
        check_history_of_own,
    ),
    Case(
        "read an order's history: another user's order",
        expect(STAFF, "hidden"),
        lambda api, fx: rest_outcome(api.http.get(f"/orders/{fx.victim_order['id']}/history")),
        lambda api, fx: api.gql(
            f'{{ order(id: "{fx.victim_order["id"]}") {{ history {{ total }} }} }}', "order"
        ),
    ),
    Case(
        "delete orders",
        expect({"admin", "manager"}),
        lambda api, fx: rest_outcome(api.http.delete(f"/orders/{fx.victim_order['id']}")),
        lambda api, fx: api.gql(
            f'mutation {{ deleteOrder(id: "{fx.victim_order["id"]}") }}', "deleteOrder"
        ),
        check_victim_order_gone,
    ),
]


@pytest.mark.parametrize("api_kind", ["rest", "graphql"])
@pytest.mark.parametrize("role", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_roles_table(auth_stack: AuthStack, case: Case, role: str, api_kind: str) -> None:
    account = auth_stack.accounts[role]
    fixture = make_fixture(auth_stack, account)
    api = Api(auth_stack, account)
    try:
        call = case.rest if api_kind == "rest" else case.graphql
        outcome, value = call(api, fixture)
        assert outcome == case.outcomes[role], (case.name, role, api_kind, outcome, value)
        case.check(auth_stack, api, fixture, outcome, value)
    finally:
        api.http.close()


def test_the_table_has_every_outcome() -> None:
    """Guard against a table that could pass by allowing or refusing everything."""
    seen = {outcome for case in CASES for outcome in case.outcomes.values()}
    assert seen == {"ok", "forbidden", "hidden"}
    for role in set(PERSONAS) - {"admin"}:
        assert {case.outcomes[role] for case in CASES} != {"ok"}
