"""Deadlines and reports through the gateway (docs/graphql.md), over real service processes.

The orders service computes every figure; the gateway passes reports through (REST) or
batches them (GraphQL: a page of users with their stats is one call for the users and
one for all their stats). Call counts are the HTTP requests the gateway really sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import _truncate, gateway_for
from tests.graphql_gateway.test_graphql_federation import (
    STATUS_CYCLE,
    STATUS_NAMES,
    data_of,
    error_codes,
    seed_orders,
    seed_users,
)
from tests.support.envelope import data_of as envelope_data
from tests.support.envelope import error_of
from tests.support.graphql import Gateway, counted
from tests.support.procs import RunningProcess, running

STATS = "count totalAmount overdue byStatus { status count totalAmount }"


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def expected_stats(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """What the orders service must compute, computed here from the orders themselves."""

    def total(of: list[dict[str, Any]]) -> str:
        return str(sum((Decimal(o["total_amount"]) for o in of), Decimal("0.00")))

    by_status = []
    for status, name in STATUS_NAMES.items():
        these = [o for o in orders if o["status"] == status]
        by_status.append({"status": name, "count": len(these), "totalAmount": total(these)})
    return {
        "count": len(orders),
        "totalAmount": total(orders),
        "overdue": sum(o["overdue"] for o in orders),
        "byStatus": by_status,
    }


@pytest.fixture(params=[True, False], ids=["compiled", "stock"])
async def gateway_both(
    request: pytest.FixtureRequest,
    gateway_app: Gateway,
    users_process: RunningProcess,
    orders_process: RunningProcess,
) -> AsyncIterator[Gateway]:
    """The gateway with compiled plans and without, over the same (emptied) services."""
    if request.param:
        yield gateway_app
        return
    urls = users_process.url, orders_process.url
    async with gateway_for(*urls, graphql_compile=False) as stock:
        yield stock


@pytest.mark.slow
async def test_a_page_of_users_with_their_stats_costs_two_calls(
    gateway_both: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    users = await seed_users(users_process.url, 100, tag="stats")
    orders = await seed_orders(orders_process.url, [u["id"] for u in users[:60]], 5)

    body, users_calls, orders_calls = await counted(
        gateway_both, f"{{ users(limit: 100) {{ total items {{ id orderStats {{ {STATS} }} }} }} }}"
    )
    assert (users_calls, orders_calls) == (1, 1)
    page = data_of(body)["users"]
    assert len(page["items"]) == 100
    for item in page["items"]:
        assert item["orderStats"] == expected_stats(orders.get(item["id"], [])), item["id"]
    assert page["items"][0]["orderStats"]["count"] in {0, 5}

    # With each user's orders as well: one more call, still not one per user.
    query = f"{{ users(limit: 100) {{ items {{ orders {{ id }} orderStats {{ {STATS} }} }} }} }}"
    _, users_calls, orders_calls = await counted(gateway_both, query)
    assert (users_calls, orders_calls) == (1, 2)


async def test_stats_over_two_periods_are_two_batches(
    gateway_both: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    users = await seed_users(users_process.url, 3, tag="periods")
    await seed_orders(orders_process.url, [u["id"] for u in users], 2)
    query = (
        '{ users { items { all: orderStats { count } soon: orderStats(from: "2099-01-01") '
        "{ count } again: orderStats { count } } } }"
    )
    body, users_calls, orders_calls = await counted(gateway_both, query)
    assert (users_calls, orders_calls) == (1, 2)
    for item in data_of(body)["users"]["items"]:
        assert item == {"all": {"count": 2}, "soon": {"count": 0}, "again": {"count": 2}}


async def test_order_stats_and_the_rest_report_agree(
    gateway_both: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    users = await seed_users(users_process.url, 2, tag="agree")
    orders = await seed_orders(orders_process.url, [u["id"] for u in users], 5)
    everything = [o for made in orders.values() for o in made]
    client, _ = gateway_both

    body, users_calls, orders_calls = await counted(gateway_both, f"{{ orderStats {{ {STATS} }} }}")
    assert (users_calls, orders_calls) == (0, 1)
    assert data_of(body)["orderStats"] == expected_stats(everything)

    mine = users[0]["id"]
    query = f"query($u: UUID) {{ orderStats(userId: $u) {{ {STATS} }} }}"
    body, _, _ = await counted(gateway_both, query, {"u": mine})
    assert data_of(body)["orderStats"] == expected_stats(orders[mine])

    rest = await client.get("/orders/stats", params={"userId": mine})
    async with httpx.AsyncClient(base_url=orders_process.url) as service:
        direct = await service.get("/orders/stats", params={"userId": mine})
    assert rest.content == direct.content  # passed through as the service wrote it
    assert envelope_data(rest)["count"] == 5


async def test_orders_by_day_and_the_rest_series_agree(
    gateway_both: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    users = await seed_users(users_process.url, 2, tag="days")
    await seed_orders(orders_process.url, [u["id"] for u in users], 5)
    completed_each = sum(status == "completed" for status in STATUS_CYCLE)
    client, _ = gateway_both

    query = "{ ordersByDay { date created completed } }"
    body, users_calls, orders_calls = await counted(gateway_both, query)
    assert (users_calls, orders_calls) == (0, 1)
    series = data_of(body)["ordersByDay"]
    assert len(series) == 30
    assert series[-1] == {"date": day(0), "created": 10, "completed": 2 * completed_each}
    assert all(d["created"] == d["completed"] == 0 for d in series[:-1])

    params = {"from": day(-2), "to": day(0), "userId": users[0]["id"]}
    rest = envelope_data(await client.get("/orders/stats/daily", params=params))
    assert rest == [
        {"date": day(-2), "created": 0, "completed": 0},
        {"date": day(-1), "created": 0, "completed": 0},
        {"date": day(0), "created": 5, "completed": completed_each},
    ]


async def test_managers_list_overdue_work(
    gateway_both: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    (user,) = await seed_users(users_process.url, 1, tag="late")
    client, _ = gateway_both
    made = []
    for due, status in ((day(-3), "created"), (day(5), "created"), (day(-1), "completed")):
        body = {
            "user_id": user["id"],
            "items": [{"product": "Арматура", "quantity": 2, "price": "7.50"}],
            "due_date": due,
            "status": status,
        }
        made.append(envelope_data(await client.post("/orders", json=body), 201))
    assert [o["overdue"] for o in made] == [True, False, False]

    query = "{ orders(overdue: true) { total items { id dueDate overdue user { name } } } }"
    body, users_calls, orders_calls = await counted(gateway_both, query)
    assert (users_calls, orders_calls) == (1, 1)
    assert data_of(body)["orders"] == {
        "total": 1,
        "items": [
            {"id": made[0]["id"], "dueDate": day(-3), "overdue": True, "user": user_name(user)}
        ],
    }
    rest = await client.get("/orders", params={"overdue": "false"})
    assert [o["id"] for o in envelope_data(rest)] == [made[1]["id"], made[2]["id"]]

    # A deadline moves through GraphQL too, and null removes it.
    query = (
        "mutation($id: UUID!, $d: Date) { updateOrder(id: $id, input: { dueDate: $d }) "
        "{ dueDate overdue } }"
    )
    body, _, _ = await counted(gateway_both, query, {"id": made[0]["id"], "d": day(10)})
    assert data_of(body)["updateOrder"] == {"dueDate": day(10), "overdue": False}
    body, _, _ = await counted(gateway_both, query, {"id": made[0]["id"], "d": None})
    assert data_of(body)["updateOrder"] == {"dueDate": None, "overdue": False}


def user_name(user: dict[str, Any]) -> dict[str, str]:
    return {"name": user["name"]}


# --------------------------------------------------------------------------- hostile


@pytest.mark.parametrize(
    "literal",
    ['"20261201"', '"2026-W48-2"', '"2026-02-30"', "20261201", '"2026-12-01T00:00:00Z"', '""'],
)
async def test_malformed_dates_are_refused_before_any_call(
    gateway_both: Gateway, literal: str
) -> None:
    for query in (
        f"{{ orderStats(from: {literal}) {{ count }} }}",
        f"{{ ordersByDay(to: {literal}) {{ date }} }}",
        f"{{ users {{ items {{ orderStats(to: {literal}) {{ count }} }} }} }}",
    ):
        body, users_calls, orders_calls = await counted(gateway_both, query)
        assert (users_calls, orders_calls) == (0, 0), query
        assert body.get("data") is None, body
        assert error_codes(body) == ["BAD_REQUEST"], body
        assert "Date" in body["errors"][0]["message"], body


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('{ orderStats(from: "2026-12-02", to: "2026-12-01") { count } }', "from"),
        ('{ ordersByDay(from: "2024-01-01", to: "2026-01-01") { date } }', "to"),
        ('{ ordersByDay(from: "0001-01-01", to: "9999-12-31") { date } }', "to"),
    ],
)
async def test_impossible_periods_are_validation_errors(
    gateway_both: Gateway, query: str, field: str
) -> None:
    body, users_calls, orders_calls = await counted(gateway_both, query)
    assert (users_calls, orders_calls) == (0, 0)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error["extensions"]["details"]] == [field]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/orders/stats", {"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ("/orders/stats", {"to": "31.12.2026"}, "to"),
        ("/orders/stats", {"userId": "../../internal"}, "userId"),
        ("/orders/stats/daily", {"from": "2000-01-01", "to": "2026-01-01"}, "to"),
        ("/orders/stats/daily", {"from": "2026-01-01\x00"}, "from"),
        ("/orders", {"overdue": "sometimes"}, "overdue"),
    ],
)
async def test_malformed_report_requests_are_400_before_any_call(
    gateway_app: Gateway, path: str, params: dict[str, str], field: str
) -> None:
    client, app = gateway_app
    before = app.state.clients.orders.calls
    error = error_of(await client.get(path, params=params), 400, "VALIDATION_ERROR")
    assert field in {d["field"] for d in error["details"]}, error
    assert app.state.clients.orders.calls == before


@pytest.mark.slow
async def test_stats_while_the_orders_service_is_down(
    users_process: RunningProcess, users_app: FastAPI, orders_db_url: str
) -> None:
    await _truncate(users_app, "users")
    env = {"ORDERS_DATABASE_URL": orders_db_url}
    with running("service_orders", "ORDERS_", env) as orders:
        (user,) = await seed_users(users_process.url, 1, tag="down")
        async with gateway_for(users_process.url, orders.url) as gateway:
            orders.stop()
            query = (
                f'{{ users(ids: ["{user["id"]}"]) {{ items {{ name orderStats {{ count }} }} }} }}'
            )
            body, _, _ = await counted(gateway, query)
            assert body["data"] == {
                "users": {"items": [{"name": user["name"], "orderStats": None}]}
            }
            assert error_codes(body) == ["SERVICE_UNAVAILABLE"]
            assert body["errors"][0]["path"] == ["users", "items", 0, "orderStats"]

            body, _, _ = await counted(gateway, "{ orderStats { count } }")
            assert body["data"] is None
            assert error_codes(body) == ["SERVICE_UNAVAILABLE"]
            error_of(await gateway[0].get("/orders/stats"), 503, "SERVICE_UNAVAILABLE")
