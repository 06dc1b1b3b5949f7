"""The reports' summary tables (docs/reports.md) against plain SQL over the orders' rows.

After random writes through the real service process (creates, item and due date changes,
status moves, deletes; one at a time and many at once, racing on the same orders) and SQL
written behind the service (backdated times, bulk inserts, updates and deletes), every
figure of `/orders/stats` (all, and periods whose edges go to 0001-01-01 and 9999-12-31),
`/orders/stats/daily` and `summaries.count_orders` equals a count or sum over `orders`.
The rebuild command puts corrupted or emptied tables right again.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from service_orders import summaries
from service_orders.lifecycle import TRANSITIONS
from tests.service_orders.test_orders_api import STATUSES, item
from tests.support.envelope import data_of
from tests.support.procs import RunningProcess

pytestmark = pytest.mark.slow  # random and concurrent writes through a service process

ACTIVE = ("created", "in_progress")
TODAY_SQL = "(now() AT TIME ZONE 'UTC')::date"
EDGES = (date.min, date.max)  # 0001-01-01 and 9999-12-31


# --------------------------------------------------------------------------- plain SQL

PLAIN_STATS = f"""
SELECT status, count(*), coalesce(sum(total_amount), 0),
       count(*) FILTER (WHERE due_date < {TODAY_SQL} AND status IN ('created', 'in_progress')),
       count(*) FILTER (WHERE status = 'completed'
                        AND (completed_at AT TIME ZONE 'UTC')::date <= due_date),
       count(*) FILTER (WHERE status = 'completed'
                        AND (completed_at AT TIME ZONE 'UTC')::date > due_date)
FROM orders
WHERE (created_at AT TIME ZONE 'UTC')::date BETWEEN %(first)s AND %(last)s
GROUP BY status
"""
PLAIN_DAILY = """
SELECT day::date,
       (SELECT count(*) FROM orders WHERE (created_at AT TIME ZONE 'UTC')::date = day::date),
       (SELECT count(*) FROM orders WHERE (completed_at AT TIME ZONE 'UTC')::date = day::date)
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS day
ORDER BY 1
"""
PLAIN_COUNT = f"""
SELECT count(*) FROM orders
WHERE (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s::text[]))
  AND (created_at AT TIME ZONE 'UTC')::date BETWEEN %(first)s AND %(last)s
  AND (%(overdue)s::boolean IS NULL
       OR coalesce(due_date < {TODAY_SQL} AND status IN ('created', 'in_progress'), false)
          = %(overdue)s::boolean)
"""


def cents(amount: Decimal) -> str:
    return str(Decimal(amount).quantize(Decimal("0.01")))


async def plain_stats(engine: AsyncEngine, first: date | None, last: date | None) -> dict:
    """What `/orders/stats?from=&to=` must say, counted over the rows."""
    params = {"first": first or date.min, "last": last or date.max}
    async with engine.connect() as conn:
        rows: list[Any] = list((await conn.exec_driver_sql(PLAIN_STATS, params)).all())
    found = {row[0]: row for row in rows}
    on_time = sum(row[4] for row in rows)
    late = sum(row[5] for row in rows)
    return {
        "count": sum(row[1] for row in rows),
        "total_amount": cents(sum((row[2] for row in rows), Decimal(0))),
        "overdue": sum(row[3] for row in rows),
        "on_time": on_time,
        "late": late,
        "on_time_share": None if on_time + late == 0 else round(on_time / (on_time + late), 4),
        "by_status": [
            {
                "status": status,
                "count": found[status][1] if status in found else 0,
                "total_amount": cents(found[status][2] if status in found else Decimal(0)),
            }
            for status in STATUSES
        ],
    }


async def plain_daily(engine: AsyncEngine, first: date, last: date) -> list[dict]:
    async with engine.connect() as conn:
        rows: list[Any] = list(
            await conn.exec_driver_sql(PLAIN_DAILY, {"first": first, "last": last})
        )
        return [{"date": d.isoformat(), "created": c, "completed": k} for d, c, k in rows]


def utc_today() -> date:
    return datetime.now(UTC).date()


def shifted(day: date, days: int) -> date:
    """`day` moved by `days`, held within the dates Python and PostgreSQL share."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.min if days < 0 else date.max


def periods(extra: list[date]) -> list[tuple[date | None, date | None]]:
    """Open and closed periods: to the edges of the date type, around today, on `extra`."""
    today = utc_today()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    chosen: list[tuple[date | None, date | None]] = [
        (None, None),
        EDGES,
        (date.min, yesterday),
        (today, date.max),
        (today, today),
        (yesterday, tomorrow),
        (None, date.min),
        (date.max, None),
        (tomorrow, None),
    ]
    for day in extra:
        chosen += [(day, day), (None, day), (day, None), (shifted(day, -3), shifted(day, 3))]
    return chosen


async def assert_reports_match(
    client: httpx.AsyncClient, engine: AsyncEngine, days: list[date]
) -> None:
    """Every figure of every report, and count_orders, against plain SQL over the rows."""
    for first, last in periods(days):
        params = {
            key: value.isoformat()
            for key, value in (("from", first), ("to", last))
            if value is not None
        }
        served = data_of(await client.get("/orders/stats", params=params))
        assert served == await plain_stats(engine, first, last), params
    today = utc_today()
    windows = [(today - timedelta(days=45), today + timedelta(days=2))]
    windows += [
        (date.min, date.min + timedelta(days=365)),
        (date.max - timedelta(days=365), date.max),
    ]
    windows += [(shifted(day, -2), shifted(day, 2)) for day in days]
    for first, last in windows:
        params = {"from": first.isoformat(), "to": last.isoformat()}
        served = data_of(await client.get("/orders/stats/daily", params=params))
        assert served == await plain_daily(engine, first, last), params
    await assert_counts_match(engine, days)


async def assert_counts_match(engine: AsyncEngine, days: list[date]) -> None:
    """count_orders for every combination, in one transaction with the plain counts."""
    choices: list[tuple[str, ...] | None] = [
        None,
        ("created",),
        ("in_progress",),
        ("completed",),
        ("cancelled",),
        ("created", "completed"),
        ("in_progress", "cancelled"),
        STATUSES,
        (),
    ]
    async with engine.begin() as conn:
        for first, last in periods(days):
            for statuses in choices:
                for overdue in (None, True, False):
                    counted = await summaries.count_orders(
                        conn,
                        statuses=statuses,
                        created_from=first,
                        created_to=last,
                        overdue=overdue,
                    )
                    params = {
                        "statuses": None if statuses is None else list(statuses),
                        "first": first or date.min,
                        "last": last or date.max,
                        "overdue": overdue,
                    }
                    plain = (await conn.exec_driver_sql(PLAIN_COUNT, params)).scalar_one()
                    assert counted == plain, (statuses, first, last, overdue)


# --------------------------------------------------------------------------- writes


@pytest.fixture
async def service(
    orders_app: FastAPI, orders_process: RunningProcess
) -> AsyncIterator[httpx.AsyncClient]:
    """The orders service as a real process, on an empty orders table."""
    async with orders_app.state.engine.begin() as conn:
        await conn.exec_driver_sql("TRUNCATE orders")
    async with httpx.AsyncClient(base_url=orders_process.url, timeout=60) as client:
        yield client


def a_due_date(rng: random.Random) -> str | None:
    """Yesterday, today and tomorrow above all (overdue turns on them), and the edges."""
    today = utc_today()
    choice = rng.choice(["none", "yesterday", "today", "tomorrow", "near", "min", "max"])
    due = {
        "none": None,
        "yesterday": today - timedelta(days=1),
        "today": today,
        "tomorrow": today + timedelta(days=1),
        "near": today + timedelta(days=rng.randint(-40, 40)),
        "min": date.min,
        "max": date.max,
    }[choice]
    return None if due is None else due.isoformat()


def some_items(rng: random.Random) -> list[dict[str, Any]]:
    return [
        item(quantity=rng.randint(1, 20), price=f"{rng.randint(0, 99999) / 100:.2f}")
        for _ in range(rng.randint(1, 3))
    ]


class Writer:
    """Random writes through the HTTP API; keeps the ids it created (some deleted since)."""

    def __init__(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        self.client, self.rng = client, rng
        self.ids: list[str] = []
        self.users = [str(uuid.uuid4()) for _ in range(5)]
        self.answers: list[int] = []

    async def create(self) -> None:
        body = {
            "user_id": self.rng.choice(self.users),
            "items": some_items(self.rng),
            "status": self.rng.choice(STATUSES),
            "due_date": a_due_date(self.rng),
        }
        response = await self.client.post("/orders", json=body)
        self.answers.append(response.status_code)
        if response.status_code == 201:
            self.ids.append(data_of(response, 201)["id"])

    async def change(self) -> None:
        if not self.ids:
            return await self.create()
        order_id = self.rng.choice(self.ids)
        kind = self.rng.choice(["items", "due", "status", "status", "delete"])
        if kind == "delete":
            response = await self.client.delete(f"/orders/{order_id}")
        else:
            if kind == "items":
                body: dict[str, Any] = {"items": some_items(self.rng)}
            elif kind == "due":
                body = {"due_date": a_due_date(self.rng)}
            else:
                current = await self.client.get(f"/orders/{order_id}")
                status = current.json()["data"]["status"] if current.status_code == 200 else None
                moves = sorted(TRANSITIONS.get(status or "", ())) or list(STATUSES)
                body = {"status": self.rng.choice(moves)}
            response = await self.client.put(f"/orders/{order_id}", json=body)
        self.answers.append(response.status_code)

    async def step(self) -> None:
        await (self.create() if self.rng.random() < 0.45 else self.change())


async def backdate(engine: AsyncEngine, rng: random.Random, ids: list[str]) -> list[date]:
    """Move some orders' creation (and completion) to other days, in SQL behind the service:
    days a month back, and the first and last instants PostgreSQL's dates allow."""
    today = utc_today()
    moved: list[date] = []
    instants = [
        datetime.combine(date.min, time(), tzinfo=UTC),
        datetime.combine(date.max, time(23, 59, 59, 999999), tzinfo=UTC),
    ]
    async with engine.begin() as conn:
        for order_id in rng.sample(ids, min(len(ids), 25)):
            when = rng.choice(
                [
                    *instants,
                    *(
                        datetime.combine(today - timedelta(days=back), time(23, 30), UTC)
                        for back in (1, 7, 30)
                    ),
                ]
            )
            await conn.exec_driver_sql(
                "UPDATE orders SET created_at = %(when)s,"
                " completed_at = CASE WHEN completed_at IS NOT NULL THEN %(when)s END"
                " WHERE id = %(id)s",
                {"when": when, "id": uuid.UUID(order_id)},
            )
            moved.append(when.date())
    return sorted(set(moved))


BULK_INSERT = """
INSERT INTO orders (user_id, items, status, total_amount, due_date, created_at, completed_at)
SELECT gen_random_uuid(), '[]'::json, s, n * 1.25,
       CASE WHEN n % 4 = 0 THEN NULL ELSE (now() AT TIME ZONE 'UTC')::date + (n % 7 - 3) END,
       now() - (n % 20) * interval '1 day',
       CASE WHEN s = 'completed' THEN now() - (n % 5) * interval '1 day' END
FROM generate_series(1, 600) AS n,
     LATERAL (SELECT (ARRAY['created', 'in_progress', 'completed', 'cancelled'])[1 + n % 4]) AS t(s)
"""


async def write_behind_the_service(engine: AsyncEngine) -> None:
    """SQL loads and changes no service call made: a bulk insert, updates and deletes."""
    async with engine.begin() as conn:
        await conn.exec_driver_sql(BULK_INSERT.replace("%", "%%"))
        await conn.exec_driver_sql(
            "UPDATE orders SET status = 'in_progress' WHERE status = 'created'"
            " AND total_amount < 100"
        )
        await conn.exec_driver_sql(
            "UPDATE orders SET status = 'completed', completed_at = now()"
            " WHERE status = 'in_progress' AND total_amount BETWEEN 100 AND 200"
        )
        await conn.exec_driver_sql("UPDATE orders SET due_date = NULL WHERE total_amount > 700")
        await conn.exec_driver_sql("DELETE FROM orders WHERE total_amount BETWEEN 300 AND 350")
        await conn.exec_driver_sql("UPDATE orders SET assignee_id = gen_random_uuid()")


def no_server_errors(answers: list[int]) -> None:
    assert answers
    assert all(code < 500 for code in answers), sorted(set(answers))


async def test_reports_equal_plain_counts_after_random_writes_one_at_a_time(
    service: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    engine, rng = orders_app.state.engine, random.Random(2512)
    writer = Writer(service, rng)
    for _ in range(150):
        await writer.step()
    no_server_errors(writer.answers)
    assert 201 in writer.answers
    assert 200 in writer.answers
    await assert_reports_match(service, engine, [])
    days = await backdate(engine, rng, writer.ids)
    await assert_reports_match(service, engine, days)
    await write_behind_the_service(engine)
    await assert_reports_match(service, engine, days)


async def test_reports_equal_plain_counts_after_concurrent_writes(
    service: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    """Many simultaneous writes, racing on the same orders (moves, edits, deletes): the
    triggers' upserts neither lose an update nor deadlock (a deadlock would be a 500)."""
    engine, rng = orders_app.state.engine, random.Random(7)
    writer = Writer(service, rng)
    for _ in range(40):
        await writer.create()
    gate = asyncio.Semaphore(32)

    async def one() -> None:
        async with gate:
            await writer.step()

    for _ in range(2):
        await asyncio.gather(*(one() for _ in range(200)))
        no_server_errors(writer.answers)
        await assert_reports_match(service, engine, [])
    async with engine.connect() as conn:
        slots = await conn.exec_driver_sql("SELECT count(DISTINCT slot) FROM order_created_days")
        assert slots.scalar_one() >= 2  # concurrent writers spread over rows

    async def sql_writer(n: int) -> None:  # concurrent bulk statements behind the service
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "UPDATE orders SET due_date = due_date + 1 WHERE due_date < '9999-12-01'"
                " AND (get_byte(uuid_send(id), 0) %% 3) = %(n)s",
                {"n": n},
            )

    await asyncio.gather(*(sql_writer(n) for n in range(3)), *(one() for _ in range(60)))
    no_server_errors(writer.answers)
    await assert_reports_match(service, engine, [])


async def test_due_yesterday_today_and_tomorrow(
    service: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    """Overdue is relative to today: due yesterday is late, today and tomorrow are not."""
    today = utc_today()
    for offset in (-1, 0, 1):
        for status in STATUSES:
            body = {
                "user_id": str(uuid.uuid4()),
                "items": [item()],
                "status": status,
                "due_date": (today + timedelta(days=offset)).isoformat(),
            }
            data_of(await service.post("/orders", json=body), 201)
    report = data_of(await service.get("/orders/stats"))
    assert report["overdue"] == 2  # due yesterday, created and in_progress
    assert report["count"] == 12
    everything = data_of(await service.get("/orders/stats", params={"from": today.isoformat()}))
    assert everything["overdue"] == 2
    assert data_of(await service.get("/orders/stats", params={"to": "2000-01-01"}))["count"] == 0
    async with orders_app.state.engine.connect() as conn:
        assert await summaries.count_orders(conn, overdue=True) == 2
        assert await summaries.count_orders(conn, overdue=False) == 10
        assert await summaries.count_orders(conn, statuses=("created",), overdue=True) == 1
        assert await summaries.count_orders(conn, statuses=("completed",), overdue=True) == 0
    await assert_reports_match(service, orders_app.state.engine, [today])


# --------------------------------------------------------------------------- rebuild


def rebuild_command(url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "service_orders.rebuild_summaries", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


async def test_the_rebuild_puts_corrupted_and_emptied_summaries_right(
    service: httpx.AsyncClient, orders_app: FastAPI, orders_db_url: str
) -> None:
    engine, rng = orders_app.state.engine, random.Random(99)
    writer = Writer(service, rng)
    for _ in range(60):
        await writer.step()
    await write_behind_the_service(engine)
    await assert_reports_match(service, engine, [])
    assert "0 groups differed" in rebuild_command(orders_db_url)  # nothing to repair

    async with engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE order_created_days SET orders = orders + 7")
        await conn.exec_driver_sql("DELETE FROM order_deadlines")
        await conn.exec_driver_sql("INSERT INTO order_completed_days VALUES ('2001-01-01', 3, 5)")
    corrupted = data_of(await service.get("/orders/stats"))
    assert corrupted != await plain_stats(engine, None, None)
    said = rebuild_command(orders_db_url)
    assert "order_created_days: 0 groups" not in said
    assert "order_completed_days: 1 group differed" in said, said
    await assert_reports_match(service, engine, [date(2001, 1, 1)])
    assert rebuild_command(orders_db_url).count(" 0 groups differed") == 3

    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {', '.join(summaries.TABLES)}")
    assert data_of(await service.get("/orders/stats"))["count"] == 0
    rebuild_command(orders_db_url)
    await assert_reports_match(service, engine, [])


async def test_a_load_with_the_triggers_off_is_counted_after_the_rebuild(
    service: httpx.AsyncClient, orders_app: FastAPI, orders_db_url: str
) -> None:
    """What the rebuild is for: rows that reached `orders` without the triggers."""
    engine = orders_app.state.engine
    data_of(
        await service.post("/orders", json={"user_id": str(uuid.uuid4()), "items": [item()]}), 201
    )
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE orders DISABLE TRIGGER USER")
        await conn.exec_driver_sql(BULK_INSERT.replace("%", "%%"))
        await conn.exec_driver_sql("ALTER TABLE orders ENABLE TRIGGER USER")
    assert data_of(await service.get("/orders/stats"))["count"] == 1
    said = rebuild_command(orders_db_url)
    assert "order_created_days: 0 groups" not in said
    await assert_reports_match(service, engine, [])
    assert data_of(await service.get("/orders/stats"))["count"] == 601
