"""Reading the reports' summary tables (docs/reports.md), and rebuilding them from the rows.

PostgreSQL triggers keep the tables (migration 0009, declared in service_orders/models.py)
in the transaction of every write, so what they sum is exactly what `orders` holds in the
same snapshot. Readers sum over `slot`s: the triggers spread concurrent writers over
several rows of a day. Every figure here costs the number of days (and statuses) it
covers, never the number of orders.

Overdue (past its due date while created or in_progress, due_date < today UTC, as
`service_orders/repository.py:is_overdue`) depends on today, so no table can hold it:
it is the active orders with a deadline (`order_created_days.with_deadline`) minus those
due today or later (`order_deadlines` from today on: the deadlines still ahead, a few
weeks of rows, however long the history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Select,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from service_orders.models import (
    ACTIVE,
    OrderCompletedDay,
    OrderCreatedDay,
    OrderDeadline,
)

TABLES = ("order_created_days", "order_completed_days", "order_deadlines")


def utc_today() -> ColumnElement[date]:
    """Today's date in UTC as the database sees it (the transaction's start), as
    `service_orders/repository.py:utc_today`; not imported from there, so that the
    repository can read the summaries (list totals) without an import cycle."""
    return cast(func.timezone(literal_column("'UTC'"), func.now()), Date)


@dataclass(frozen=True, slots=True)
class Days:
    """Whole UTC days, both ends included; an end left open is unbounded."""

    first: date | None = None
    last: date | None = None

    def conditions(self, column: Any) -> list[ColumnElement[bool]]:
        conditions = []
        if self.first is not None:
            conditions.append(column >= self.first)
        if self.last is not None:
            conditions.append(column <= self.last)
        return conditions


def _total(column: Any) -> Any:
    """A sum over slots (and days) as an integer; 0 over no rows."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def _statuses(column: Any, statuses: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    return [] if statuses is None else [column.in_(statuses)]


def _pending(days: Days, statuses: tuple[str, ...] | None = None) -> list[Any]:
    """Conditions on `order_deadlines` for the active orders not overdue yet (due today or
    later): a range of the primary key, which starts with the due date."""
    return [
        OrderDeadline.due_date >= utc_today(),
        *days.conditions(OrderDeadline.created_day),
        *_statuses(OrderDeadline.status, statuses),
    ]


async def count_orders(
    conn: AsyncConnection,
    *,
    statuses: tuple[str, ...] | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    overdue: bool | None = None,
) -> int | None:
    """The exact number of orders matching, in the caller's transaction (its snapshot).

    `statuses`: any of them (None: all); `created_from`/`created_to`: UTC days of
    `created_at`, both included; `overdue`: as the list's `?overdue=` filter. One
    statement over the summaries (`orders_count`). Every combination can be answered;
    None is kept in the signature for a future filter the summaries could not answer.
    """
    figure = orders_count(
        statuses=statuses, created_from=created_from, created_to=created_to, overdue=overdue
    )
    if figure is None:
        return None
    return int((await conn.execute(select(figure))).scalar_one())


def orders_count(
    *,
    statuses: tuple[str, ...] | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    overdue: bool | None = None,
) -> ColumnElement[int] | None:
    """`count_orders` as an SQL expression, for a statement of the caller's: the list reads
    it in its page's statement (one snapshot, one round trip: service_orders/repository.py)."""
    days = Days(created_from, created_to)
    if statuses is not None and not statuses:
        return literal(0)
    created = [*days.conditions(OrderCreatedDay.day), *_statuses(OrderCreatedDay.status, statuses)]
    everything = select(_total(OrderCreatedDay.orders)).where(*created).scalar_subquery()
    if overdue is None:
        return everything
    active = tuple(s for s in (statuses or ACTIVE) if s in ACTIVE)
    if not active:  # only finished statuses asked for: none can be overdue
        late: Any = literal(0)
    else:
        dated = (
            select(_total(OrderCreatedDay.with_deadline))
            .where(*days.conditions(OrderCreatedDay.day), OrderCreatedDay.status.in_(active))
            .scalar_subquery()
        )
        ahead = (
            select(_total(OrderDeadline.orders)).where(*_pending(days, active)).scalar_subquery()
        )
        late = dated - ahead
    return late if overdue else everything - late


def figures_by_status(days: Days) -> Select[Any]:
    """Per status: count, amount, overdue, on_time, late of the orders created in `days`:
    the rows `service_orders/reports.py` adds up (the same labels as its per-user query)."""
    created = (
        select(
            OrderCreatedDay.status,
            _total(OrderCreatedDay.orders).label("count"),
            func.coalesce(func.sum(OrderCreatedDay.amount), 0).label("amount"),
            _total(OrderCreatedDay.on_time).label("on_time"),
            _total(OrderCreatedDay.late).label("late"),
            _total(OrderCreatedDay.with_deadline).label("dated"),
        )
        .where(*days.conditions(OrderCreatedDay.day))
        .group_by(OrderCreatedDay.status)
        .subquery()
    )
    ahead = (
        select(OrderDeadline.status, _total(OrderDeadline.orders).label("ahead"))
        .where(*_pending(days))
        .group_by(OrderDeadline.status)
        .subquery()
    )
    overdue = case(
        (created.c.status.in_(ACTIVE), created.c.dated - func.coalesce(ahead.c.ahead, 0)),
        else_=0,
    )
    return select(
        created.c.status,
        created.c["count"],
        created.c.amount,
        cast(overdue, BigInteger).label("overdue"),
        created.c.on_time,
        created.c.late,
    ).outerjoin_from(created, ahead, ahead.c.status == created.c.status)


def created_per_day(days: Days) -> Any:
    """Orders created per UTC day in `days` (days without orders absent)."""
    return (
        select(OrderCreatedDay.day, _total(OrderCreatedDay.orders).label("created"))
        .where(*days.conditions(OrderCreatedDay.day))
        .group_by(OrderCreatedDay.day)
        .subquery()
    )


def completed_per_day(days: Days) -> Any:
    """Orders completed per UTC day in `days` (days without any absent)."""
    return (
        select(OrderCompletedDay.day, _total(OrderCompletedDay.orders).label("completed"))
        .where(*days.conditions(OrderCompletedDay.day))
        .group_by(OrderCompletedDay.day)
        .subquery()
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """A summary table: its keys besides the slot, its figures, and those figures computed
    from the rows of `orders` (the migration 0009 fills the tables the same way, and the
    trigger functions add the same sums, signed, per statement)."""

    table: str
    keys: tuple[str, ...]
    figures: tuple[str, ...]
    from_rows: str


SUMMARIES = (
    Summary(
        "order_created_days",
        ("day", "status"),
        ("orders", "amount", "on_time", "late", "with_deadline"),
        """
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status,
               count(*) AS orders,
               sum(total_amount) AS amount,
               count(*) FILTER (WHERE status = 'completed' AND due_date IS NOT NULL
                                AND (completed_at AT TIME ZONE 'UTC')::date <= due_date)
                   AS on_time,
               count(*) FILTER (WHERE status = 'completed' AND due_date IS NOT NULL
                                AND (completed_at AT TIME ZONE 'UTC')::date > due_date)
                   AS late,
               count(due_date) AS with_deadline
        FROM orders
        GROUP BY 1, 2
        """,
    ),
    Summary(
        "order_completed_days",
        ("day",),
        ("orders",),
        """
        SELECT (completed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS orders
        FROM orders
        WHERE completed_at IS NOT NULL
        GROUP BY 1
        """,
    ),
    Summary(
        "order_deadlines",
        ("due_date", "created_day", "status"),
        ("orders",),
        """
        SELECT due_date, (created_at AT TIME ZONE 'UTC')::date AS created_day, status,
               count(*) AS orders
        FROM orders
        WHERE due_date IS NOT NULL AND status IN ('created', 'in_progress')
        GROUP BY 1, 2, 3
        """,
    ),
)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What the rebuild of one table found and did."""

    table: str
    rows_before: int
    rows_after: int
    # Groups (keys, summed over slots) whose figures differed from the rows' (or were missing).
    differed: int


async def rebuild(conn: AsyncConnection) -> list[Rebuilt]:
    """Recompute every summary from the rows, in the caller's transaction.

    Locks `orders` in SHARE mode first: reads go on, writes (and their triggers) wait until
    the caller commits, so nothing is added to a table while it is rebuilt. Each table is
    then emptied and filled again from the rows, in slot 0.
    """
    await conn.execute(text("LOCK TABLE orders IN SHARE MODE"))
    return [await _rebuild(conn, summary) for summary in SUMMARIES]


async def _rebuild(conn: AsyncConnection, summary: Summary) -> Rebuilt:
    keys, figures = ", ".join(summary.keys), ", ".join(summary.figures)
    fresh = f"fresh_{summary.table}"
    await conn.execute(
        text(f"CREATE TEMPORARY TABLE {fresh} ON COMMIT DROP AS {summary.from_rows}")
    )
    summed = ", ".join(f"sum({figure})" for figure in summary.figures)
    zeros = ", ".join("0" for _ in summary.figures)
    kept = (
        f"SELECT {keys}, {summed} FROM {summary.table} GROUP BY {keys}"
        f" HAVING ROW({summed}) <> ROW({zeros})"  # rows may hold zeros: absent
    )
    expected = f"SELECT {keys}, {figures} FROM {fresh}"
    differed = await _scalar(
        conn,
        f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM (({kept}) EXCEPT ({expected})"
        f" UNION ALL (({expected}) EXCEPT ({kept}))) AS difference) AS differing",
    )
    before = await _scalar(conn, f"SELECT count(*) FROM {summary.table}")
    await conn.execute(text(f"DELETE FROM {summary.table}"))
    inserted = await conn.execute(
        text(
            f"INSERT INTO {summary.table} ({keys}, slot, {figures})"
            f" SELECT {keys}, 0, {figures} FROM {fresh}"
        )
    )
    return Rebuilt(summary.table, before, inserted.rowcount, differed)


async def _scalar(conn: AsyncConnection, statement: str) -> int:
    return int((await conn.execute(text(statement))).scalar_one())
