"""Orders persistence: one SQL round trip per read, one for a page plus one for its count.

Reads and writes answer with the order's public JSON, built by PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    FromClause,
    Text,
    cast,
    false,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from apicore.db import reading
from apicore.errors import not_found, validation_error
from apicore.finding import Finding
from apicore.idempotency import Created, Idempotency, create_once
from apicore.keyset import Keyset
from apicore.paging import DayCounts
from apicore.params import day_after
from apicore.sqljson import (
    COUNT_ROWS,
    JsonPage,
    Total,
    among,
    json_array_page,
    json_object,
    utc_timestamp,
)
from apicore.versions import delete_at_version, matches
from service_orders import history, summaries
from service_orders.books import lock_books
from service_orders.lifecycle import check_items_editable, check_transition
from service_orders.models import ACTIVE, Order, OrderCreatedDay, products_of


def utc_today() -> ColumnElement[date]:
    """Today's date in UTC, as the database sees it (the transaction's start)."""
    return cast(func.timezone(literal_column("'UTC'"), func.now()), Date)


def is_overdue(c: Any) -> ColumnElement[bool]:
    """Past its deadline while it can still be worked on; NULL when there is no deadline.

    Written so that `WHERE is_overdue(...)` matches the partial index ix_orders_overdue.
    """
    return (c.due_date < utc_today()) & c.status.in_(ACTIVE)


def public(source: FromClause) -> dict[str, Any]:
    """The order's public fields, read from the table or from a page of it."""
    c = source.c
    return {
        "id": c.id,
        "user_id": c.user_id,
        "assignee_id": c.assignee_id,
        "items": c["items"],  # `json` as written: compact already
        "status": c.status,
        "total_amount": cast(c.total_amount, Text),  # "520.00": NUMERIC(10,2) as text
        "due_date": c.due_date,  # "2026-12-24" or null
        "overdue": func.coalesce(is_overdue(c), false()),
        "created_at": utc_timestamp(c.created_at),
        "updated_at": utc_timestamp(c.updated_at),
        "created_by": c.created_by,
        "updated_by": c.updated_by,
    }


class KEEP:
    """An update that leaves the deadline as it is (None removes it)."""


def _owned_by(user_id: uuid.UUID | None, user_ids: list[uuid.UUID] | None) -> list[Any]:
    conditions: list[Any] = []
    if user_id is not None:
        conditions.append(Order.user_id == user_id)
    if user_ids is not None:
        conditions.append(among(Order.user_id, user_ids))
    return conditions


def _amount_between(low: Decimal | None, high: Decimal | None) -> list[Any]:
    """`minAmount`/`maxAmount`: both ends included (ix_orders_total_amount)."""
    conditions: list[Any] = []
    if low is not None:
        conditions.append(Order.total_amount >= low)
    if high is not None:
        conditions.append(Order.total_amount <= high)
    return conditions


def _assigned_to(assignee_id: uuid.UUID | None, assignee_ids: list[uuid.UUID] | None) -> list[Any]:
    """`assigneeId`/`assigneeIds`: orders assigned to that user (those users)."""
    conditions: list[Any] = []
    if assignee_id is not None:
        conditions.append(Order.assignee_id == assignee_id)
    if assignee_ids is not None:
        conditions.append(among(Order.assignee_id, assignee_ids))
    return conditions


def _found(finding: Finding | None) -> list[Any]:
    """The conditions of apicore/finding.py's filters (ranges, statuses, the search)."""
    if finding is None:
        return []
    conditions: list[Any] = []
    for column, first, last in (
        (Order.created_at, finding.created_from, finding.created_to),
        (Order.due_date, finding.due_from, finding.due_to),
    ):
        is_date = column is Order.due_date
        if first is not None:
            conditions.append(column >= (first if is_date else start_of_day(first)))
        if last is not None:
            if is_date:
                conditions.append(column <= last)
            elif (after := day_after(last)) is not None:  # 9999-12-31: no upper bound
                conditions.append(column < start_of_day(after))
    if finding.statuses is not None:
        conditions.append(among(Order.status, list(finding.statuses)))
    if finding.q is not None:
        # The trigram index ix_orders_products_trgm serves this (ILIKE, case-insensitive).
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", finding.q) + "%"
        conditions.append(products_of(Order.items).ilike(pattern, escape="\\"))
    return conditions


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


PUBLIC_FIELDS = tuple(public(Order.__table__))
ORDER_JSON = json_object(public(Order.__table__))
ORDERING = ("created_at", "id")


async def get_order(engine: AsyncEngine, *, order_id: uuid.UUID) -> str | None:
    async with reading(engine) as conn:
        return (await conn.execute(select(ORDER_JSON).where(Order.id == order_id))).scalar()


def _no_scan_total(
    status: str | None, overdue: bool | None, finding: Finding | None
) -> tuple[ColumnElement[int] | None, DayCounts | None]:
    """The list's total from the summaries (service_orders/summaries.py), and its matches per
    UTC day for a deep page's jump (apicore/paging.py) when the filters allow one.

    The summaries know statuses, created days and overdue; a list filtered by anything
    else gets (None, None). Overdue has no per-day figure: it has a total, no jump.
    """
    statuses = None if finding is None else finding.statuses
    if status is not None:
        statuses = (status,) if statuses is None or status in statuses else ()
    first = None if finding is None else finding.created_from
    last = None if finding is None else finding.created_to
    total = summaries.orders_count(
        statuses=statuses, created_from=first, created_to=last, overdue=overdue
    )
    if overdue is not None:
        return total, None
    days: DayCounts = select(OrderCreatedDay.day, OrderCreatedDay.orders.label("n")).where(
        *summaries.Days(first, last).conditions(OrderCreatedDay.day)
    )
    if statuses is not None:
        days = days.where(among(OrderCreatedDay.status, list(statuses)))
    return total, days


async def list_orders(
    engine: AsyncEngine,
    *,
    limit: int | None,
    offset: int,
    user_id: uuid.UUID | None = None,
    user_ids: list[uuid.UUID] | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    fields: list[str] | None = None,
    min_amount: Decimal | None = None,
    max_amount: Decimal | None = None,
    assignee_id: uuid.UUID | None = None,
    assignee_ids: list[uuid.UUID] | None = None,
    finding: Finding | None = None,
    want_total: bool = False,
    keyset: Keyset | None = None,
) -> JsonPage:
    """The page as a JSON array (only `fields`, when given), the total count of matches, and
    the last row's keys when more follow; `keyset`: the rows after a cursor's row.

    Where the total comes from (docs/totals.md): a list bounded by its owner or assignee
    counts its rows (an index range); one the summaries can answer (statuses, created days,
    overdue) reads them in the page's statement; any other (a search, an amount or due
    range) would count every match, so its total is None unless `want_total`.
    """
    owners = _owned_by(user_id, user_ids) + _assigned_to(assignee_id, assignee_ids)
    amounts = _amount_between(min_amount, max_amount)
    scanned = bool(amounts) or (  # filters only the rows answer
        finding is not None
        and (finding.q is not None or finding.due_from is not None or finding.due_to is not None)
    )
    conditions = owners + amounts + _found(finding)
    ordering = ORDERING if finding is None else (finding.sort, "id")
    if status is not None:
        conditions.append(Order.status == status)
    if overdue is not None:
        late = is_overdue(Order.__table__.c)
        conditions.append(late if overdue else func.coalesce(late, false()).is_(False))
    total: Total = COUNT_ROWS
    days = None
    if not owners and not scanned:
        summed, days = _no_scan_total(status, overdue, finding)
        if summed is not None:
            total = summed
        elif not want_total:
            total = None
    elif not owners and not want_total:
        total = None
    async with reading(engine) as conn:
        return await json_array_page(
            conn,
            Order.__table__,
            public,
            where=conditions,
            order_by=ordering,
            limit=limit,
            offset=offset,
            fields=fields,
            descending=finding is not None and finding.descending,
            total=total,
            days=days,
            keyset=keyset,
        )


async def create_order(
    engine: AsyncEngine,
    *,
    user_id: uuid.UUID,
    items: list[dict[str, Any]],
    total: Decimal,
    status: str,
    due_date: date | None = None,
    idempotency: Idempotency | None = None,
    assignee_id: uuid.UUID | None = None,
    actor: uuid.UUID | None = None,
) -> Created:
    values = {
        "user_id": user_id,
        "assignee_id": assignee_id,
        "items": items,
        "total_amount": total,
        "status": status,
        "due_date": due_date,
    }
    statement = (
        insert(Order)
        .values(
            **values,
            completed_at=func.now() if status == "completed" else None,
            created_by=actor,
            updated_by=actor,
        )
        .returning(ORDER_JSON, Order.id)
    )
    async with engine.begin() as conn:

        async def create() -> str:
            # No order for, or assigned to, a user being deleted (books.py).
            await lock_books(conn, user_id, assignee_id)
            order, order_id = (await conn.execute(statement)).one()
            await history.record(
                conn,
                order_id=order_id,
                actor=actor,
                action="created",
                changed=history.changes({}, values),
            )
            return order

        return await create_once(conn, idempotency, create)


async def update_order(
    engine: AsyncEngine,
    *,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
    items: list[dict[str, Any]] | None,
    total: Decimal | None,
    status: str | None,
    due_date: date | type[KEEP] | None = KEEP,
    if_match: list[datetime] | None = None,
    assignee_id: uuid.UUID | type[KEEP] | None = KEEP,
    actor: uuid.UUID | None = None,
) -> str:
    """Apply a change under a row lock, so concurrent transitions cannot both pass the check.

    `if_match`: the versions the caller expects (412 PRECONDITION_FAILED otherwise).

    A field sent with the value it already has is no change (legacy clients send whole
    objects back): it is not checked, and when nothing changes the row is not written,
    so `updated_at` stays where it was.
    """
    async with engine.begin() as conn:
        locked = (
            select(
                Order.status,
                Order.user_id,
                Order.assignee_id,
                Order.items,
                Order.total_amount,
                Order.due_date,
                Order.updated_at,
            )
            .where(Order.id == order_id)
            .with_for_update()
        )
        current = (await conn.execute(locked)).first()
        if current is None:
            raise not_found("Order")
        matches(current.updated_at, if_match)
        if user_id is not None and user_id != current.user_id:
            raise validation_error("user_id", "An order's user cannot change")
        values: dict[str, Any] = {}
        if items is not None and items != current.items:
            check_items_editable(current.status)
            values.update(items=items, total_amount=total)
        if due_date is not KEEP and due_date != current.due_date:
            values["due_date"] = due_date
        if assignee_id is not KEEP and assignee_id != current.assignee_id:
            if isinstance(assignee_id, uuid.UUID):  # not KEEP, not None (no assignee)
                await lock_books(conn, assignee_id)  # not to a user being deleted
            values["assignee_id"] = assignee_id
        if status is not None and status != current.status:
            check_transition(current.status, status)
            values["status"] = status
            if status == "completed":
                values["completed_at"] = func.clock_timestamp()
        if not values:
            unchanged = select(ORDER_JSON).where(Order.id == order_id)
            return (await conn.execute(unchanged)).scalar_one()
        changed = history.changes(current._asdict(), values)
        values.update(updated_at=func.clock_timestamp(), updated_by=actor)
        statement = update(Order).where(Order.id == order_id).values(**values).returning(ORDER_JSON)
        order = (await conn.execute(statement)).scalar_one()
        await history.record(
            conn, order_id=order_id, actor=actor, action="updated", changed=changed
        )
        return order


async def delete_order(
    engine: AsyncEngine,
    *,
    order_id: uuid.UUID,
    if_match: list[datetime] | None = None,
    actor: uuid.UUID | None = None,
) -> bool:
    """False if there is no such order; 412 if it is not at a version `if_match` names."""

    async def recorded(conn: AsyncConnection) -> None:
        await history.record(conn, order_id=order_id, actor=actor, action="deleted", changed=[])

    return await delete_at_version(engine, Order.__table__, order_id, if_match, recorded)
