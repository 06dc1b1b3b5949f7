"""The calendar's first and last days in reports, REST and GraphQL, at the gateway and at the
orders service: a 200 with the right figures or a 400 in the envelope, never a 5xx, and the
gateway's orders breaker counts no failure (one client must not open it for everyone).

The answers chosen (apicore/params.py `day_after`, `days_back`): `to=9999-12-31` is a valid
last day, so the period has no upper bound and every order counts; a series ending
0001-01-01 by default starts there too (a 1-day series), not 29 days before the calendar.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.envelope import data_of, error_of
from tests.support.procs import RunningProcess

FIRST, LAST = "0001-01-01", "9999-12-31"


@pytest.fixture(scope="module")
def seeded(users_process: RunningProcess, orders_process: RunningProcess) -> dict[str, str]:
    """A user with one order of 2.50 (created today): what every open-ended report counts."""
    email = f"calendar-{uuid.uuid4().hex}@example.com"
    user = httpx.post(f"{users_process.url}/users", json={"name": "C", "email": email})
    user_id = data_of(user, 201)["id"]
    item = {"product": "p", "quantity": 1, "price": "2.50"}
    order = httpx.post(f"{orders_process.url}/orders", json={"user_id": user_id, "items": [item]})
    data_of(order, 201)
    return {"user": user_id}


@pytest.fixture
def orders_breaker_untouched(gateway_process: RunningProcess) -> Iterator[None]:
    yield
    health = data_of(httpx.get(f"{gateway_process.url}/health", timeout=10))
    breaker = health["circuit_breakers"]["orders_service"]
    assert (breaker["state"], breaker["failures"]) == ("closed", 0), breaker


def gql(gateway: RunningProcess, query: str) -> dict:
    response = httpx.post(f"{gateway.url}/graphql", json={"query": query}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("process", ["gateway", "orders"])
@pytest.mark.parametrize(
    "query", [{"to": LAST}, {"from": FIRST, "to": LAST}, {"from": LAST}, {"from": LAST, "to": LAST}]
)
def test_stats_up_to_the_last_day_count_every_order(
    request, process, query, seeded, gateway_process, orders_breaker_untouched
):
    url = request.getfixturevalue(f"{process}_process").url
    params = {**query, "userId": seeded["user"]}
    stats = data_of(httpx.get(f"{url}/orders/stats", params=params, timeout=30))
    # from=9999-12-31: nothing was created on the last day (yet).
    expected = (0, "0.00") if query.get("from") == LAST else (1, "2.50")
    assert (stats["count"], stats["total_amount"]) == expected, stats


def test_stats_by_user_up_to_the_last_day(orders_process, seeded):
    params = {"userIds": seeded["user"], "to": LAST}
    (stats,) = data_of(httpx.get(f"{orders_process.url}/orders/stats/by-user", params=params))
    assert (stats["count"], stats["total_amount"]) == (1, "2.50"), stats


@pytest.mark.parametrize("process", ["gateway", "orders"])
@pytest.mark.parametrize(
    ("query", "days"),
    [
        ({"to": FIRST}, [FIRST]),  # the default 30 days, clamped at the calendar's first day
        ({"from": FIRST, "to": FIRST}, [FIRST]),
        ({"from": LAST}, [LAST]),  # to defaults to max(today, from)
        ({"to": LAST}, [f"9999-12-{day:02}" for day in range(2, 32)]),
        ({"from": "9999-12-30", "to": LAST}, ["9999-12-30", LAST]),
    ],
)
def test_daily_series_at_the_calendar_edges(
    request, process, query, days, gateway_process, orders_breaker_untouched
):
    url = request.getfixturevalue(f"{process}_process").url
    series = data_of(httpx.get(f"{url}/orders/stats/daily", params=query, timeout=30))
    assert [day["date"] for day in series] == days
    assert all(day["created"] == day["completed"] == 0 for day in series)


@pytest.mark.parametrize("process", ["gateway", "orders"])
def test_a_series_from_the_first_day_to_today_is_too_long(
    request, process, gateway_process, orders_breaker_untouched
):
    url = request.getfixturevalue(f"{process}_process").url
    response = httpx.get(f"{url}/orders/stats/daily", params={"from": FIRST}, timeout=30)
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "to", error


def test_ten_graphql_aliases_to_the_last_day_leave_the_breaker_closed(
    gateway_process, seeded, orders_breaker_untouched
):
    """The request of the issue: it opened the orders breaker for everyone."""
    fields = " ".join(f'a{n}: orderStats(to: "{LAST}") {{ count }}' for n in range(10))
    body = gql(gateway_process, f"{{ {fields} }}")
    assert "errors" not in body, body
    assert all(each["count"] >= 1 for each in body["data"].values()), body


def test_graphql_reports_at_the_calendar_edges(gateway_process, seeded, orders_breaker_untouched):
    user = seeded["user"]
    body = gql(
        gateway_process,
        f"""{{
          first: ordersByDay(to: "{FIRST}") {{ date created completed }}
          last: ordersByDay(from: "{LAST}") {{ date }}
          all: orderStats(userId: "{user}", from: "{FIRST}", to: "{LAST}") {{ count totalAmount }}
          none: orderStats(userId: "{user}", from: "{LAST}") {{ count }}
          user(id: "{user}") {{ orderStats(to: "{LAST}") {{ count totalAmount }} }}
        }}""",
    )
    assert "errors" not in body, body
    data = body["data"]
    assert data["first"] == [{"date": FIRST, "created": 0, "completed": 0}]
    assert data["last"] == [{"date": LAST}]
    assert data["all"] == {"count": 1, "totalAmount": "2.50"}
    assert data["none"] == {"count": 0}
    assert data["user"]["orderStats"] == {"count": 1, "totalAmount": "2.50"}


def test_graphql_series_from_the_first_day_is_a_coded_validation_error(
    gateway_process, orders_breaker_untouched
):
    body = gql(gateway_process, f'{{ ordersByDay(from: "{FIRST}") {{ date }} }}')
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION_ERROR", error
