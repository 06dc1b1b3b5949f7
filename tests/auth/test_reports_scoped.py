"""Reports with authentication on (docs/auth.md, docs/graphql.md): only what the caller may read.

A customer's reports count their own orders and nothing else, whatever `userId` they send;
a manager's and a director's count everyone's. Over the shared auth stack (other tests add
orders to it), so each test makes a customer of its own and compares what it knows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.auth.conftest import PASSWORD, AuthStack, create_account, login

STATS = "count totalAmount overdue byStatus { status count }"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def order_for(orders_url: str, user_id: str, due: str | None = None) -> dict[str, Any]:
    body = {
        "user_id": user_id,
        "items": [{"product": "Бетон", "quantity": 1, "price": "100.00"}],
        "due_date": due,
    }
    response = httpx.post(f"{orders_url}/orders", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["data"]


@pytest.fixture
def customer(auth_stack: AuthStack) -> dict[str, Any]:
    """A customer of this test with three orders (one overdue), and their token."""
    user = create_account(auth_stack.users.url, "customer", PASSWORD)
    for due in ("2020-01-01", None, None):
        order_for(auth_stack.orders.url, user["id"], due)
    other = create_account(auth_stack.users.url, "customer", PASSWORD)
    order_for(auth_stack.orders.url, other["id"], "2020-01-01")
    token = login(auth_stack.url, user["email"])
    return {**user, "other": other["id"], "headers": {"Authorization": f"Bearer {token}"}}


def ask(stack: AuthStack, headers: dict[str, str], query: str) -> dict[str, Any]:
    response = httpx.post(f"{stack.url}/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def rest(stack: AuthStack, headers: dict[str, str], path: str, **params: str) -> Any:
    response = httpx.get(f"{stack.url}{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_customers_reports_are_their_own_orders(
    auth_stack: AuthStack, customer: dict[str, Any]
) -> None:
    mine = customer["headers"]
    own = customer["id"]
    for query in (
        f"{{ orderStats {{ {STATS} }} }}",
        f'{{ orderStats(userId: "{own}") {{ {STATS} }} }}',
    ):
        stats = ask(auth_stack, mine, query)["orderStats"]
        assert (stats["count"], stats["totalAmount"], stats["overdue"]) == (3, "300.00", 1)
    rest_stats = rest(auth_stack, mine, "/orders/stats")
    assert (rest_stats["count"], rest_stats["total_amount"], rest_stats["overdue"]) == (
        3,
        "300.00",
        1,
    )
    # Someone else's: nothing, not an error, and the same answer through REST.
    query = f'{{ orderStats(userId: "{customer["other"]}") {{ count }} }}'
    theirs = ask(auth_stack, mine, query)
    assert theirs == {"orderStats": {"count": 0}}
    assert rest(auth_stack, mine, "/orders/stats", userId=customer["other"])["count"] == 0

    days = ask(auth_stack, mine, "{ ordersByDay { date created } }")["ordersByDay"]
    assert days[-1] == {"date": today(), "created": 3}
    assert rest(auth_stack, mine, "/orders/stats/daily")[-1]["created"] == 3
    hidden = rest(auth_stack, mine, "/orders/stats/daily", userId=customer["other"])
    assert [d["created"] for d in hidden] == [0] * 30

    page = ask(auth_stack, mine, "{ users { items { id orderStats { count overdue } } } }")
    assert page["users"]["items"] == [
        {"id": customer["id"], "orderStats": {"count": 3, "overdue": 1}}
    ]
    late = rest(auth_stack, mine, "/orders", overdue="true", status="created")
    assert [o["user_id"] for o in late] == [customer["id"]]


@pytest.mark.parametrize("role", ["manager", "director"])
def test_managers_and_directors_report_on_everyone(
    auth_stack: AuthStack, customer: dict[str, Any], role: str
) -> None:
    headers = auth_stack.accounts[role].headers
    everyone = ask(auth_stack, headers, "{ orderStats { count overdue } }")["orderStats"]
    assert everyone["count"] >= 4
    assert everyone["overdue"] >= 2
    assert rest(auth_stack, headers, "/orders/stats")["count"] == everyone["count"]
    query = f'{{ orderStats(userId: "{customer["other"]}") {{ count }} }}'
    assert ask(auth_stack, headers, query) == {"orderStats": {"count": 1}}
    late = rest(auth_stack, headers, "/orders", overdue="true", userId=customer["other"])
    assert len(late) == 1


def test_reports_need_a_token(auth_stack: AuthStack) -> None:
    for path in ("/orders/stats", "/orders/stats/daily"):
        response = httpx.get(f"{auth_stack.url}{path}")
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
