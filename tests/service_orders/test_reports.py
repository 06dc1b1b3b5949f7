"""Deadlines and reports in the orders service (docs/graphql.md), on a real PostgreSQL.

Each report must be one SQL statement: the tests count what the engine sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests.service_orders.test_orders_api import (
    assert_validation,
    create,
    fetch,
    item,
    order_in,
    put,
)
from tests.support.envelope import data_of

STATUSES = ("created", "in_progress", "completed", "cancelled")


def today() -> date:
    return datetime.now(UTC).date()


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """Every SQL statement the service sends meanwhile."""
    seen: list[str] = []
    engine = app.state.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def backdate(app: FastAPI, order_id: str, column: str, when: datetime) -> None:
    assert column in {"created_at", "completed_at"}
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(
            f"UPDATE orders SET {column} = %(when)s WHERE id = %(id)s",
            {"when": when, "id": uuid.UUID(order_id)},
        )


def by_status(report: dict[str, Any]) -> dict[str, tuple[int, str]]:
    assert [each["status"] for each in report["by_status"]] == list(STATUSES)
    return {each["status"]: (each["count"], each["total_amount"]) for each in report["by_status"]}


# --------------------------------------------------------------------------- deadlines


async def test_due_date_is_served_as_a_date_and_null_when_unset(
    orders_client: httpx.AsyncClient,
) -> None:
    dated = await create(orders_client, due_date="2030-02-28")
    assert dated["due_date"] == "2030-02-28"
    assert dated["overdue"] is False
    plain = await create(orders_client)
    assert plain["due_date"] is None
    assert plain["overdue"] is False
    assert await fetch(orders_client, dated["id"]) == dated


@pytest.mark.parametrize(
    ("status", "offset", "overdue"),
    [
        ("created", -1, True),
        ("in_progress", -30, True),
        ("completed", -1, False),
        ("cancelled", -1, False),
        ("created", 0, False),  # due today is not late yet
        ("in_progress", 1, False),
    ],
)
async def test_overdue_is_a_past_due_date_while_work_can_go_on(
    orders_client: httpx.AsyncClient, status: str, offset: int, overdue: bool
) -> None:
    order = await order_in(orders_client, status, due_date=day(offset))
    assert order["overdue"] is overdue
    assert (await fetch(orders_client, order["id"]))["overdue"] is overdue


async def test_the_overdue_filter(orders_client: httpx.AsyncClient) -> None:
    user = uuid.uuid4()
    late = [
        await order_in(orders_client, "created", user_id=user, due_date=day(-2)),
        await order_in(orders_client, "in_progress", user_id=user, due_date=day(-1)),
    ]
    fine = [
        await order_in(orders_client, "created", user_id=user, due_date=day(3)),
        await order_in(orders_client, "completed", user_id=user, due_date=day(-3)),
        await order_in(orders_client, "created", user_id=user),
    ]
    other = await order_in(orders_client, "created", due_date=day(-5))

    response = await orders_client.get("/orders", params={"overdue": "true", "userId": str(user)})
    assert [o["id"] for o in data_of(response)] == [o["id"] for o in late]
    assert response.json()["meta"]["total"] == 2
    everyone = data_of(await orders_client.get("/orders", params={"overdue": "true"}))
    assert {o["id"] for o in everyone} == {o["id"] for o in [*late, other]}
    on_time = data_of(await orders_client.get("/orders", params={"overdue": "false"}))
    assert [o["id"] for o in on_time] == [o["id"] for o in fine]
    both = data_of(
        await orders_client.get("/orders", params={"overdue": "true", "status": "in_progress"})
    )
    assert [o["id"] for o in both] == [late[1]["id"]]


async def test_due_date_changes_clears_and_stays(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client, due_date=day(5))
    moved = data_of(await put(orders_client, order["id"], due_date=day(-1)))
    assert (moved["due_date"], moved["overdue"]) == (day(-1), True)
    assert moved["updated_at"] > order["updated_at"]
    kept = data_of(await put(orders_client, order["id"], status="in_progress"))
    assert kept["due_date"] == day(-1)  # absent: no change
    same = data_of(await put(orders_client, order["id"], due_date=day(-1)))
    assert same == kept  # the value it has: nothing written, updated_at included
    cleared = data_of(await put(orders_client, order["id"], due_date=None))
    assert (cleared["due_date"], cleared["overdue"]) == (None, False)
    assert await fetch(orders_client, order["id"]) == cleared


@pytest.mark.parametrize(
    "due_date",
    [
        1764547200,  # seconds since 1970: Pydantic alone would take it
        "2026-02-30",
        "2026-13-01",
        "2026-12-01T00:00:00",
        "2026-12-01 ",
        "20261201",
        "",
        "２０２６-１２-０１",  # fullwidth digits
        "0000-01-01",
        True,
        ["2026-12-01"],
        {"date": "2026-12-01"},
        "9" * 10_000,
    ],
)
async def test_a_malformed_due_date_is_400(
    orders_client: httpx.AsyncClient, due_date: object
) -> None:
    created = await orders_client.post(
        "/orders", json={"user_id": str(uuid.uuid4()), "items": [item()], "due_date": due_date}
    )
    assert_validation(created, "due_date")
    order = await create(orders_client)
    assert_validation(await put(orders_client, order["id"], due_date=due_date), "due_date")
    assert await fetch(orders_client, order["id"]) == order


@pytest.mark.parametrize("value", ["maybe", "", "2", "truee"])
async def test_a_malformed_overdue_filter_is_400(
    orders_client: httpx.AsyncClient, value: str
) -> None:
    assert_validation(await orders_client.get("/orders", params={"overdue": value}), "overdue")


# --------------------------------------------------------------------------- stats


async def test_stats_of_nothing_are_zeros_for_every_status(
    orders_client: httpx.AsyncClient,
) -> None:
    report = data_of(await orders_client.get("/orders/stats"))
    assert report == {
        "count": 0,
        "total_amount": "0.00",
        "overdue": 0,
        "on_time": 0,
        "late": 0,
        "on_time_share": None,
        "by_status": [{"status": s, "count": 0, "total_amount": "0.00"} for s in STATUSES],
    }


async def test_on_time_and_late_count_completed_work_against_its_deadline(
    orders_client: httpx.AsyncClient,
) -> None:
    """Completed on or before the due date (UTC day): on time; after it: late."""
    user = uuid.uuid4()
    today = datetime.now(UTC).date()
    for due in (today - timedelta(days=1), today - timedelta(days=400)):  # late
        await order_in(orders_client, "completed", user_id=user, due_date=due.isoformat())
    for due in (today, today + timedelta(days=1), date.max):  # on time
        await order_in(orders_client, "completed", user_id=user, due_date=due.isoformat())
    await order_in(orders_client, "completed", user_id=user)  # no deadline: neither
    late_but_open = (today - timedelta(days=3)).isoformat()
    await order_in(orders_client, "in_progress", user_id=user, due_date=late_but_open)
    await order_in(orders_client, "cancelled", user_id=user, due_date=late_but_open)
    report = data_of(await orders_client.get("/orders/stats", params={"userId": str(user)}))
    assert (report["on_time"], report["late"], report["on_time_share"]) == (3, 2, 0.6)
    assert report["overdue"] == 1
    (mine,) = data_of(
        await orders_client.get("/orders/stats/by-user", params={"userIds": str(user)})
    )
    assert (mine["on_time"], mine["late"], mine["on_time_share"]) == (3, 2, 0.6)
    nobody = data_of(await orders_client.get("/orders/stats", params={"userId": str(uuid.uuid4())}))
    assert (nobody["on_time"], nobody["late"], nobody["on_time_share"]) == (0, 0, None)


async def test_stats_count_and_sum_in_one_query(
    orders_app: FastAPI, orders_client: httpx.AsyncClient
) -> None:
    user = uuid.uuid4()
    await order_in(orders_client, "created", user_id=user, items=[item(quantity=1, price="0.10")])
    await order_in(orders_client, "created", user_id=user, due_date=day(-1))  # 520.00, late
    await order_in(orders_client, "in_progress", user_id=user, due_date=day(-9))  # late
    await order_in(orders_client, "completed", user_id=user, due_date=day(-9))  # done: not late
    await order_in(orders_client, "created", items=[item(quantity=3, price="1.01")])  # another

    with statements(orders_app) as sent:
        mine = data_of(await orders_client.get("/orders/stats", params={"userId": str(user)}))
    assert len(sent) == 1, sent
    assert (mine["count"], mine["total_amount"], mine["overdue"]) == (4, "1560.10", 2)
    assert by_status(mine) == {
        "created": (2, "520.10"),
        "in_progress": (1, "520.00"),
        "completed": (1, "520.00"),
        "cancelled": (0, "0.00"),
    }
    everyone = data_of(await orders_client.get("/orders/stats"))
    assert (everyone["count"], everyone["total_amount"], everyone["overdue"]) == (5, "1563.13", 2)
    assert by_status(everyone)["created"] == (3, "523.13")


async def test_stats_of_a_period_take_whole_utc_days(
    orders_app: FastAPI, orders_client: httpx.AsyncClient
) -> None:
    times = {
        "before": datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "first": datetime(2026, 11, 1, 0, 0, tzinfo=UTC),
        "last": datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC),
        "after": datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
    }
    for when in times.values():
        order = await create(orders_client)
        await backdate(orders_app, order["id"], "created_at", when)

    async def counted(**params: str) -> int:
        return data_of(await orders_client.get("/orders/stats", params=params))["count"]

    assert await counted(**{"from": "2026-11-01", "to": "2026-11-30"}) == 2
    assert await counted(**{"from": "2026-11-01"}) == 3
    assert await counted(to="2026-11-30") == 3
    assert await counted(**{"from": "2026-11-30", "to": "2026-11-30"}) == 1
    assert await counted(**{"from": "2026-12-02"}) == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-29"}, "to"),
        ({"from": "2026-12-01T00:00:00Z"}, "from"),
        ({"userId": "not-a-uuid"}, "userId"),
    ],
)
async def test_malformed_stats_parameters_are_400(
    orders_client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    assert_validation(await orders_client.get("/orders/stats", params=params), field)


async def test_stats_by_user_in_one_query_in_the_order_asked(
    orders_app: FastAPI, orders_client: httpx.AsyncClient
) -> None:
    busy, idle, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await order_in(orders_client, "completed", user_id=busy)
    await order_in(orders_client, "cancelled", user_id=busy)
    await order_in(orders_client, "created", user_id=late, due_date=day(-1))
    asked = ",".join(str(u) for u in (late, idle, busy, late))
    with statements(orders_app) as sent:
        reports = data_of(
            await orders_client.get("/orders/stats/by-user", params={"userIds": asked})
        )
    assert len(sent) == 1, sent
    assert [r["user_id"] for r in reports] == [str(late), str(idle), str(busy)]
    assert [(r["count"], r["total_amount"], r["overdue"]) for r in reports] == [
        (1, "520.00", 1),
        (0, "0.00", 0),
        (2, "1040.00", 0),
    ]
    assert by_status(reports[2])["completed"] == (1, "520.00")
    assert by_status(reports[1]) == {s: (0, "0.00") for s in STATUSES}
    assert data_of(await orders_client.get("/orders/stats/by-user", params={"userIds": ""})) == []


async def test_stats_by_user_refuses_more_than_500_ids(orders_client: httpx.AsyncClient) -> None:
    ids = ",".join(str(uuid.uuid4()) for _ in range(501))
    response = await orders_client.get("/orders/stats/by-user", params={"userIds": ids})
    assert_validation(response, "userIds")


async def database_today(app: FastAPI) -> date:
    """Today in UTC as the database sees it (what `overdue` compares with)."""
    async with app.state.engine.connect() as conn:
        result = await conn.exec_driver_sql("SELECT (now() AT TIME ZONE 'UTC')::date")
        return result.scalar_one()


async def test_due_today_is_not_overdue_in_the_filter_either(
    orders_app: FastAPI, orders_client: httpx.AsyncClient
) -> None:
    user, today_there = uuid.uuid4(), await database_today(orders_app)
    due_today = await create(orders_client, user_id=user, due_date=today_there.isoformat())
    late = await create(
        orders_client, user_id=user, due_date=(today_there - timedelta(days=1)).isoformat()
    )
    assert (due_today["overdue"], late["overdue"]) == (False, True)
    for overdue, expected in (("true", [late["id"]]), ("false", [due_today["id"]])):
        params = {"userId": str(user), "overdue": overdue}
        page = data_of(await orders_client.get("/orders", params=params))
        assert [order["id"] for order in page] == expected, overdue


async def completed_today(app: FastAPI, client: httpx.AsyncClient, user: uuid.UUID) -> int:
    today_there = (await database_today(app)).isoformat()
    params = {"from": today_there, "to": today_there, "userId": str(user)}
    [only] = data_of(await client.get("/orders/stats/daily", params=params))
    return only["completed"]


async def test_an_order_created_completed_is_completed_that_day(
    orders_app: FastAPI, orders_client: httpx.AsyncClient
) -> None:
    user = uuid.uuid4()
    for status in ("created", "in_progress", "cancelled"):
        await create(orders_client, user_id=user, status=status)
    assert await completed_today(orders_app, orders_client, user) == 0
    await create(orders_client, user_id=user, status="completed")
    assert await completed_today(orders_app, orders_client, user) == 1


async def test_only_the_move_to_completed_counts_an_order_completed(
    orders_app: FastAPI, orders_client: httpx.AsyncClient
) -> None:
    user = uuid.uuid4()
    await order_in(orders_client, "cancelled", user_id=user)
    order = await order_in(orders_client, "in_progress", user_id=user)
    assert await completed_today(orders_app, orders_client, user) == 0
    data_of(await put(orders_client, order["id"], status="completed"))
    assert await completed_today(orders_app, orders_client, user) == 1


# --------------------------------------------------------------------------- per day


async def test_orders_by_day_count_created_and_completed_per_utc_day(
    orders_app: FastAPI, orders_client: httpx.AsyncClient
) -> None:
    user = uuid.uuid4()
    made = await create(orders_client, user_id=user)  # created today
    finished = await order_in(orders_client, "completed", user_id=user)  # today, both
    await backdate(orders_app, finished["id"], "created_at", datetime(2026, 11, 2, tzinfo=UTC))
    old = await order_in(orders_client, "completed")
    await backdate(orders_app, old["id"], "created_at", datetime(2026, 11, 1, 23, 30, tzinfo=UTC))
    await backdate(orders_app, old["id"], "completed_at", datetime(2026, 11, 3, 1, tzinfo=UTC))
    assert made["id"]

    params = {"from": "2026-11-01", "to": "2026-11-04"}
    with statements(orders_app) as sent:
        days = data_of(await orders_client.get("/orders/stats/daily", params=params))
    assert len(sent) == 1, sent
    assert days == [
        {"date": "2026-11-01", "created": 1, "completed": 0},
        {"date": "2026-11-02", "created": 1, "completed": 0},
        {"date": "2026-11-03", "created": 0, "completed": 1},
        {"date": "2026-11-04", "created": 0, "completed": 0},
    ]
    mine = data_of(
        await orders_client.get("/orders/stats/daily", params={**params, "userId": str(user)})
    )
    assert [d["created"] for d in mine] == [0, 1, 0, 0]

    recent = data_of(await orders_client.get("/orders/stats/daily"))
    assert len(recent) == 30
    assert recent[-1] == {"date": day(0), "created": 1, "completed": 1}
    assert recent[0]["date"] == day(-29)


async def test_orders_by_day_span_at_most_a_year(orders_client: httpx.AsyncClient) -> None:
    year = {"from": "2025-01-01", "to": "2026-01-01"}  # 366 days
    assert len(data_of(await orders_client.get("/orders/stats/daily", params=year))) == 366
    longer = {"from": "2025-01-01", "to": "2026-01-02"}
    assert_validation(await orders_client.get("/orders/stats/daily", params=longer), "to")
    huge = {"from": "0001-01-01", "to": "9999-12-31"}
    assert_validation(await orders_client.get("/orders/stats/daily", params=huge), "to")
    backwards = {"from": "2026-01-02", "to": "2026-01-01"}
    assert_validation(await orders_client.get("/orders/stats/daily", params=backwards), "from")


async def test_stats_is_not_taken_for_an_order_id(orders_client: httpx.AsyncClient) -> None:
    """`/orders/stats` is the report, never `/orders/{id}` with a bad id."""
    assert data_of(await orders_client.get("/orders/stats"))["count"] == 0
    assert (await orders_client.put("/orders/stats", json={})).status_code in {400, 405}
