"""An order's history: every change, written by the change's own transaction.

Each create, update and delete adds one entry: the acting user (service_orders/acting.py),
the time, and each field it set with its value before and after, as the order serves
them (money as "520.00", dates as "2026-12-24", ids as strings). Being in the same
transaction, an entry exists exactly when its change does: a change that rolls back
(a refused transition, a lost If-Match) leaves none. Entries are never changed or
deleted; an order's history outlives the order, its last entry being the delete.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from apicore.db import reading
from apicore.sqljson import json_array_page, utc_timestamp
from service_orders.models import OrderChange

# Fields recorded, in the order an entry lists them.
TRACKED = ("user_id", "assignee_id", "status", "items", "total_amount", "due_date")


def served(value: Any) -> Any:
    """A value as the order's JSON serves it."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Each tracked field whose value differs, old and new, as served."""
    found = []
    for field in TRACKED:
        if field not in after:
            continue
        old, new = served(before.get(field)), served(after[field])
        if old != new:
            found.append({"field": field, "old": old, "new": new})
    return found


async def record(
    conn: AsyncConnection,
    *,
    order_id: uuid.UUID,
    actor: uuid.UUID | None,
    action: str,
    changed: list[dict[str, Any]],
) -> None:
    """In the change's transaction: one entry (the clock's time, as `updated_at` has it)."""
    await conn.execute(
        insert(OrderChange).values(
            order_id=order_id,
            actor_id=actor,
            action=action,
            changes=changed,
            at=func.clock_timestamp(),
        )
    )


def _public(source: Any) -> dict[str, Any]:
    c = source.c
    return {
        "id": c.id,
        "order_id": c.order_id,
        "at": utc_timestamp(c.at),
        "actor_id": c.actor_id,
        "action": c.action,
        "changes": c.changes,
    }


HISTORY_FIELDS = tuple(_public(OrderChange.__table__))


async def has_history(conn: AsyncConnection, order_id: uuid.UUID) -> bool:
    found = select(OrderChange.id).where(OrderChange.order_id == order_id).limit(1)
    return (await conn.execute(found)).first() is not None


async def history_page(
    engine: AsyncEngine, *, order_id: uuid.UUID, limit: int, offset: int
) -> tuple[str, int] | None:
    """The order's entries, newest first, as one JSON array and their count; None if none."""
    async with reading(engine) as conn:
        text, total, _ = await json_array_page(
            conn,
            OrderChange.__table__,
            _public,
            where=[OrderChange.order_id == order_id],
            order_by=("at", "id"),
            descending=True,
            limit=limit,
            offset=offset,
        )
        assert total is not None  # counted over the rows (the default)
        if total == 0 and not await has_history(conn, order_id):
            return None
        return text, total
