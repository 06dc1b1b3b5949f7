"""Order books: how deleting a user and creating an order for them serialise (docs/resilience.md).

The users and the orders live in two services, so "no order for a deleted user" cannot
be a foreign key. It is a row here instead, one per user, that both writes go through:

- Creating an order share-locks the user's book row (creating it open if missing) in the
  order's own transaction, and refuses if the book is closed (422 USER_NOT_FOUND: the user
  is being deleted). Share locks let creates for one user run side by side.
- Closing a book (the first step of deleting a user, graphql_gateway/integrity.py) sets
  `closed_at` in a transaction that then counts the user's active orders: the UPDATE waits
  for every create holding the share lock to commit, and the count, a later statement,
  sees their orders. Active orders: 409 USER_HAS_ACTIVE_ORDERS, and the transaction rolls
  back, so the book is as it was. No active orders: the book stays closed, and no order
  can be created for that user any more.
- Reopening (the undo, when the user's delete did not happen) clears `closed_at`; a
  reopen of a stale book names the close it saw, so a delete that closed it again since
  keeps it closed.

An order's assignee is held the same way: creating an order share-locks its assignee's
book too, and so does assigning one; closing a book refuses while active orders are
assigned to that user (409: reassign them first). No active order is ever assigned to a
deleted user.

Every step is idempotent: closing a closed book (it is stamped again, nothing else), or
reopening an open one, changes nothing,
so a delete that died halfway can simply be run again or undone. These routes are internal:
the gateway calls them and never exposes them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from apicore.db import reading
from apicore.envelope import Envelope, EnvelopeResponse, error_responses, ok
from apicore.errors import USER_HAS_ACTIVE_ORDERS, USER_NOT_FOUND, ApiError
from apicore.params import ResourceId
from apicore.routing import ContractRoute
from apicore.service import EngineDep
from service_orders.lifecycle import ACTIVE_STATUSES
from service_orders.models import Order, OrderBook

router = APIRouter(prefix="/internal/users", tags=["internal"], route_class=ContractRoute)
IfClosedAt = Annotated[
    datetime | None, Query(alias="ifClosedAt", description="Reopen only if closed at this time")
]


class BookState(BaseModel):
    user_id: uuid.UUID
    closed: bool
    closed_at: datetime | None  # when it was (last) closed; None while open
    closed_for_s: float | None  # seconds since then; None while open


async def lock_open_book(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """In an order's transaction: share-lock the user's book, or 422 if it is closed."""
    book = (
        select(OrderBook.closed_at).where(OrderBook.user_id == user_id).with_for_update(read=True)
    )
    row = (await conn.execute(book)).first()
    if row is None:  # the user's first order: their book starts open
        await conn.execute(pg_insert(OrderBook).values(user_id=user_id).on_conflict_do_nothing())
        row = (await conn.execute(book)).first()
    if row is None or row.closed_at is not None:
        raise ApiError(USER_NOT_FOUND, f"User {user_id} does not exist (being deleted)")


async def lock_books(conn: AsyncConnection, *user_ids: uuid.UUID | None) -> None:
    """The books of an order's user and assignee (each once, in a fixed order: no deadlock
    between two orders locking the same two books the other way round)."""
    for user_id in sorted({user_id for user_id in user_ids if user_id is not None}):
        await lock_open_book(conn, user_id)


async def _state(conn: AsyncConnection, user_id: uuid.UUID) -> dict[str, object]:
    age = func.extract("epoch", func.clock_timestamp() - OrderBook.closed_at)
    row = (
        await conn.execute(select(OrderBook.closed_at, age).where(OrderBook.user_id == user_id))
    ).first()
    closed_at: datetime | None = None
    closed_for_s: float | None = None
    if row is not None and row[0] is not None:
        closed_at, closed_for_s = row[0], float(row[1])
    return {
        "user_id": user_id,
        "closed": closed_at is not None,
        "closed_at": closed_at.isoformat() if closed_at is not None else None,
        "closed_for_s": closed_for_s,
    }


async def close_book(engine: AsyncEngine, user_id: uuid.UUID) -> dict[str, object]:
    async with engine.begin() as conn:
        closing = pg_insert(OrderBook).values(user_id=user_id, closed_at=func.now())
        # Closing a closed book stamps it again: a delete running now owns it, and a stale
        # reopen that read the older stamp (reopen_book's `if_closed_at`) leaves it closed.
        closing = closing.on_conflict_do_update(
            index_elements=[OrderBook.user_id], set_={"closed_at": func.now()}
        )
        await conn.execute(closing)
        active = Order.status.in_(ACTIVE_STATUSES)
        owned = select(func.count()).where(Order.user_id == user_id, active)
        count = (await conn.execute(owned)).scalar_one()
        if count:
            raise ApiError(
                USER_HAS_ACTIVE_ORDERS,
                f"User has {count} active order(s); complete or cancel them first",
            )
        # Work assigned to them blocks the delete too: reassign it first (docs/graphql.md).
        assigned = select(func.count()).where(Order.assignee_id == user_id, active)
        count = (await conn.execute(assigned)).scalar_one()
        if count:
            raise ApiError(
                USER_HAS_ACTIVE_ORDERS,
                f"User is assigned {count} active order(s); reassign them first",
            )
        return await _state(conn, user_id)


async def reopen_book(
    engine: AsyncEngine, user_id: uuid.UUID, if_closed_at: datetime | None = None
) -> dict[str, object]:
    """Open the book; with `if_closed_at`, only if it is still the close seen then."""
    async with engine.begin() as conn:
        condition = [OrderBook.user_id == user_id]
        if if_closed_at is not None:
            condition.append(OrderBook.closed_at == if_closed_at)
        await conn.execute(update(OrderBook).where(*condition).values(closed_at=None))
        return await _state(conn, user_id)


@router.get(
    "/{id}/order-book",
    operation_id="getOrderBook",
    response_model=Envelope[BookState],
    responses=error_responses(400),
)
async def get_book(engine: EngineDep, user_id: ResourceId) -> EnvelopeResponse:
    async with reading(engine) as conn:
        return ok(await _state(conn, user_id))


@router.post(
    "/{id}/order-book/close",
    operation_id="closeOrderBook",
    response_model=Envelope[BookState],
    responses=error_responses(400, 409),
)
async def close_route(engine: EngineDep, user_id: ResourceId) -> EnvelopeResponse:
    """Internal: no order can be created for this user from now on, unless it has active ones."""
    return ok(await close_book(engine, user_id))


@router.post(
    "/{id}/order-book/reopen",
    operation_id="reopenOrderBook",
    response_model=Envelope[BookState],
    responses=error_responses(400),
)
async def reopen_route(
    engine: EngineDep, user_id: ResourceId, if_closed_at: IfClosedAt = None
) -> EnvelopeResponse:
    """Internal: undo a close whose user was not deleted after all (`ifClosedAt`: only that
    close, not a newer one: a stale book reopened while another delete closes it again)."""
    return ok(await reopen_book(engine, user_id, if_closed_at))
