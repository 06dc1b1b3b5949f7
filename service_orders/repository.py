"""Orders persistence: one SQL round trip per read, one for a page plus one for its count."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, cast, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from apicore.errors import not_found, validation_error
from service_orders.lifecycle import check_items_editable, check_transition
from service_orders.models import Order

# Money leaves the database as text with two decimals: no Decimal round trip in Python.
PUBLIC_COLUMNS = (
    Order.id,
    Order.user_id,
    Order.items,
    Order.status,
    cast(Order.total_amount, Text).label("total_amount"),
    Order.created_at,
    Order.updated_at,
)


async def get_order(engine: AsyncEngine, *, order_id: uuid.UUID) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*PUBLIC_COLUMNS).where(Order.id == order_id))).first()
    return row._asdict() if row else None


async def list_orders(
    engine: AsyncEngine,
    *,
    limit: int | None,
    offset: int,
    user_id: uuid.UUID | None = None,
    user_ids: list[uuid.UUID] | None = None,
    status: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    conditions = []
    if user_id is not None:
        conditions.append(Order.user_id == user_id)
    if user_ids is not None:
        conditions.append(Order.user_id.in_(user_ids))
    if status is not None:
        conditions.append(Order.status == status)
    query = (
        select(*PUBLIC_COLUMNS)
        .where(*conditions)
        .order_by(Order.created_at, Order.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    async with engine.connect() as conn:
        rows = [row._asdict() for row in await conn.execute(query)]
        if limit is None and offset == 0:
            return rows, len(rows)
        count = select(func.count()).select_from(Order).where(*conditions)
        total = (await conn.execute(count)).scalar_one()
    return rows, total


async def create_order(
    engine: AsyncEngine,
    *,
    user_id: uuid.UUID,
    items: list[dict[str, Any]],
    total: Decimal,
    status: str,
) -> dict[str, Any]:
    statement = (
        insert(Order)
        .values(user_id=user_id, items=items, total_amount=total, status=status)
        .returning(*PUBLIC_COLUMNS)
    )
    async with engine.begin() as conn:
        return (await conn.execute(statement)).one()._asdict()


async def update_order(
    engine: AsyncEngine,
    *,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
    items: list[dict[str, Any]] | None,
    total: Decimal | None,
    status: str | None,
) -> dict[str, Any]:
    """Apply a change under a row lock, so concurrent transitions cannot both pass the check."""
    async with engine.begin() as conn:
        locked = select(Order.status, Order.user_id).where(Order.id == order_id).with_for_update()
        current = (await conn.execute(locked)).first()
        if current is None:
            raise not_found("Order")
        if user_id is not None and user_id != current.user_id:
            raise validation_error("user_id", "An order's user cannot change")
        values: dict[str, Any] = {"updated_at": func.clock_timestamp()}
        if items is not None:
            check_items_editable(current.status)
            values.update(items=items, total_amount=total)
        if status is not None:
            check_transition(current.status, status)
            values["status"] = status
        statement = (
            update(Order).where(Order.id == order_id).values(**values).returning(*PUBLIC_COLUMNS)
        )
        return (await conn.execute(statement)).one()._asdict()


async def delete_order(engine: AsyncEngine, *, order_id: uuid.UUID) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(delete(Order).where(Order.id == order_id).returning(Order.id))
        return result.first() is not None
