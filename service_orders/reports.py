"""Reports: each one SQL query, computed where the orders are (docs/reports.md).

Every order's figures, or a period's, are read from the summary tables the triggers keep
(service_orders/summaries.py): a few rows per day, whatever the number of orders. One
user's figures (`userId`, the stats by user) are plain GROUP BYs (hashed, a few groups)
over the covering index on (user_id, created_at): an index-only scan of that user's
orders, flat in the size of the table. Periods are whole UTC days, both ends included,
on `created_at`; "completed" per day counts orders by when they were completed. Money is
summed as NUMERIC and served as text with two decimals, like `total_amount`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from apicore.contract.orders import empty_order_stats
from apicore.db import reading
from apicore.params import day_after
from apicore.sqljson import among
from service_orders import summaries
from service_orders.models import Order
from service_orders.repository import is_overdue

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days, both ends included; an end left open is unbounded."""

    first: date | None = None
    last: date | None = None

    def days(self) -> summaries.Days:
        return summaries.Days(self.first, self.last)

    def conditions(self, column: Any) -> list[Any]:
        conditions = []
        if self.first is not None:
            conditions.append(column >= _midnight(self.first))
        after = None if self.last is None else day_after(self.last)
        if after is not None:  # a last day of 9999-12-31 leaves the period open-ended
            conditions.append(column < _midnight(after))
        return conditions


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _figures(owner: Any, conditions: list[Any]) -> Any:
    """Count, amount and overdue per (owner,) status: one GROUP BY of at most four groups per
    owner, hashed (a ROLLUP would sort every row first: ~1 s on a million orders)."""
    late = is_overdue(Order.__table__.c)
    keys = [*([owner] if owner is not None else []), Order.status]
    # Completed with a deadline: on time when completed (UTC day) on or before it.
    completed_on = cast(func.timezone(literal_column("'UTC'"), Order.completed_at), Date)
    judged = (Order.status == "completed") & Order.due_date.is_not(None)
    columns = [
        *keys,
        func.count().label("count"),
        func.coalesce(func.sum(Order.total_amount), 0).label("amount"),
        func.count().filter(late).label("overdue"),
        func.count().filter(judged & (completed_on <= Order.due_date)).label("on_time"),
        func.count().filter(judged & (completed_on > Order.due_date)).label("late"),
    ]
    return select(*columns).where(*conditions).group_by(*keys)


def _fill(report: dict[str, Any], row: Any) -> None:
    """One status's figures into the report, and into its totals (added up here: four rows)."""
    for each in report["by_status"]:
        if each["status"] == row.status:
            each["count"] = row.count
            each["total_amount"] = _cents(row.amount)
    report["count"] += row.count
    report["total_amount"] = _cents(Decimal(report["total_amount"]) + row.amount)
    report["overdue"] += row.overdue
    report["on_time"] += row.on_time
    report["late"] += row.late
    report["on_time_share"] = on_time_share(report["on_time"], report["late"])


def on_time_share(on_time: int, late: int) -> float | None:
    """On time among the completed orders that had a deadline (4 decimals); None if none."""
    judged = on_time + late
    return None if judged == 0 else round(on_time / judged, 4)


def _cents(amount: Decimal) -> str:
    """As `total_amount` is served: two decimals ("0.00", "1560.10")."""
    return str(Decimal(amount).quantize(CENT))


async def order_stats(
    engine: AsyncEngine, *, user_id: uuid.UUID | None = None, period: Period = Period()
) -> dict[str, Any]:
    """Counts and amounts of the matching orders, in all and per status (zeros included):
    one user's from their orders, everyone's from the summaries."""
    if user_id is None:
        statement = summaries.figures_by_status(period.days())
    else:
        conditions = [Order.user_id == user_id, *period.conditions(Order.created_at)]
        statement = _figures(None, conditions)
    report = empty_order_stats()
    async with reading(engine) as conn:
        for row in await conn.execute(statement):
            _fill(report, row)
    return report


async def order_stats_by_user(
    engine: AsyncEngine, *, user_ids: Sequence[uuid.UUID], period: Period = Period()
) -> list[dict[str, Any]]:
    """One report per user asked for, in their order (zeros for a user without orders)."""
    reports = {user_id: {"user_id": str(user_id), **empty_order_stats()} for user_id in user_ids}
    if not reports:
        return []
    conditions = [among(Order.user_id, list(reports)), *period.conditions(Order.created_at)]
    async with reading(engine) as conn:
        for row in await conn.execute(_figures(Order.user_id, conditions)):
            _fill(reports[row.user_id], row)
    return list(reports.values())


def _per_day(column: Any, period: Period, conditions: list[Any], label: str) -> Any:
    day = cast(func.timezone(literal_column("'UTC'"), column), Date).label("day")
    where = [*period.conditions(column), *conditions]
    return select(day, func.count().label(label)).where(*where).group_by(day).subquery()


async def orders_by_day(
    engine: AsyncEngine, *, first: date, last: date, user_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """Every day from `first` to `last`, in order: orders created and completed that day
    (one user's from their orders, everyone's from the summaries)."""
    period = Period(first, last)
    days = select(
        cast(
            func.generate_series(first, last, literal_column("interval '1 day'")),
            Date,
        ).label("day")
    ).subquery()
    if user_id is None:
        created = summaries.created_per_day(period.days())
        completed = summaries.completed_per_day(period.days())
    else:
        owner = [Order.user_id == user_id]
        created = _per_day(Order.created_at, period, owner, "created")
        completed = _per_day(
            Order.completed_at, period, [Order.completed_at.is_not(None), *owner], "completed"
        )
    statement = (
        select(
            days.c.day,
            cast(func.coalesce(created.c.created, 0), Integer),
            cast(func.coalesce(completed.c.completed, 0), Integer),
        )
        .select_from(days)
        .outerjoin(created, created.c.day == days.c.day)
        .outerjoin(completed, completed.c.day == days.c.day)
        .order_by(days.c.day)
    )
    async with reading(engine) as conn:
        rows = await conn.execute(statement)
        return [
            {"date": day.isoformat(), "created": made, "completed": done}
            for day, made, done in rows
        ]
