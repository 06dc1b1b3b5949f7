"""Users persistence: one SQL round trip per read, one for a page plus one for its count.

Reads and writes answer with the user's public JSON, built by PostgreSQL; the
password hash is never part of it. Only find_credentials reads the hash, for the
credentials check (service_users.credentials), which keeps it to itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import FromClause, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from apicore.db import reading
from apicore.errors import EMAIL_EXISTS, ApiError
from apicore.idempotency import Created, Idempotency, create_once
from apicore.keyset import Keyset
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
from service_users.models import Session, User, UserDay


def public(source: FromClause) -> dict[str, Any]:
    """The user's public fields (never the password hash), from the table or a page of it."""
    c = source.c
    return {
        "id": c.id,
        "email": c.email,
        "name": c.name,
        "roles": c.roles,
        "created_at": utc_timestamp(c.created_at),
        "updated_at": utc_timestamp(c.updated_at),
    }


PUBLIC_FIELDS = tuple(public(User.__table__))
USER_JSON = json_object(public(User.__table__))
ORDERING = ("created_at", "id")
SORT = ("created_at", False)  # the one order of the list (a cursor names it)
_days = UserDay.__table__.c
ALL_USERS = select(func.coalesce(func.sum(_days.users), 0)).scalar_subquery()
USERS_PER_DAY = select(_days.day, _days.users.label("n"))


def _email_taken() -> ApiError:
    return ApiError(EMAIL_EXISTS, "A user with this email already exists")


def _is_email_conflict(exc: IntegrityError) -> bool:
    return "uq_users_email_lower" in str(exc.orig)


async def get_user(engine: AsyncEngine, *, user_id: uuid.UUID) -> str | None:
    async with reading(engine) as conn:
        return (await conn.execute(select(USER_JSON).where(User.id == user_id))).scalar()


async def list_users(
    engine: AsyncEngine,
    *,
    limit: int | None,
    offset: int,
    ids: list[uuid.UUID] | None,
    fields: list[str] | None = None,
    keyset: Keyset | None = None,
) -> JsonPage:
    """The page as a JSON array (only `fields`, when given), the total count of matches, and
    the last row's keys when more follow; `keyset`: the rows after a cursor's row.

    `ids` bounds the list (at most 500 rows, by the primary key): counted over them. The
    whole list's total is the sum of `user_days`, read in the page's statement, and a deep
    page jumps to its day through it (apicore/paging.py, docs/totals.md).
    """
    total: Total
    if ids is not None:
        conditions, total, days = [among(User.id, ids)], COUNT_ROWS, None
    else:
        conditions, total, days = [], ALL_USERS, USERS_PER_DAY
    async with reading(engine) as conn:
        found = await json_array_page(
            conn,
            User.__table__,
            public,
            where=conditions,
            order_by=ORDERING,
            limit=limit,
            offset=offset,
            fields=fields,
            total=total,
            days=days,
            keyset=keyset,
        )
    assert found.total is not None  # every total here is exact
    return found


async def create_user(
    engine: AsyncEngine,
    *,
    email: str,
    name: str,
    roles: Sequence[str],
    password_hash: str | None,
    idempotency: Idempotency | None = None,
) -> Created:
    statement = (
        insert(User)
        .values(email=email, name=name, roles=roles, password_hash=password_hash)
        .returning(USER_JSON)
    )
    try:
        async with engine.begin() as conn:

            async def create() -> str:
                return (await conn.execute(statement)).scalar_one()

            return await create_once(conn, idempotency, create)
    except IntegrityError as exc:
        if _is_email_conflict(exc):
            raise _email_taken() from None
        raise


async def update_user(
    engine: AsyncEngine,
    *,
    user_id: uuid.UUID,
    changes: dict[str, Any],
    if_match: list[datetime] | None = None,
) -> str | None:
    """Apply what really changes, under a row lock; None if there is no such user.

    A field sent with the value it has is no change: when nothing changes the row is not
    written, so `updated_at` (the version, apicore.versions) stays. A new password always
    is one. `if_match`: the versions the caller expects (412 otherwise).

    A change of roles or password ends every session of the user in the same transaction
    (service_users/sessions.py): their access tokens are refused from the gateway's next
    check, and they log in again with what they now are.
    """
    try:
        async with engine.begin() as conn:
            locked = (
                select(User.email, User.name, User.roles, User.updated_at)
                .where(User.id == user_id)
                .with_for_update()
            )
            current = (await conn.execute(locked)).first()
            if current is None:
                return None
            matches(current.updated_at, if_match)
            real = {
                key: value
                for key, value in changes.items()
                if key == "password_hash" or getattr(current, key) != value
            }
            if not real:
                return (await conn.execute(select(USER_JSON).where(User.id == user_id))).scalar()
            statement = (
                update(User)
                .where(User.id == user_id)
                .values(**real, updated_at=func.clock_timestamp())
                .returning(USER_JSON)
            )
            updated = (await conn.execute(statement)).scalar()
            if "roles" in real or "password_hash" in real:
                await conn.execute(delete(Session).where(Session.user_id == user_id))
            return updated
    except IntegrityError as exc:
        if _is_email_conflict(exc):
            raise _email_taken() from None
        raise


async def delete_user(
    engine: AsyncEngine, *, user_id: uuid.UUID, if_match: list[datetime] | None = None
) -> bool:
    """False if there is no such user; 412 if it is not at a version `if_match` names."""
    return await delete_at_version(engine, User.__table__, user_id, if_match)


async def find_credentials(
    engine: AsyncEngine, *, email: str
) -> tuple[uuid.UUID, str, str | None] | None:
    """The user with this email, case-insensitively, as (id, public JSON, password hash).

    One round trip, on the unique index on lower(email) (PostgreSQL's lower() on both sides,
    as the index has it). The hash is for checking a password in this process, never for
    an answer.
    """
    statement = select(User.id, USER_JSON, User.password_hash).where(
        func.lower(User.email) == func.lower(email)
    )
    async with reading(engine) as conn:
        row = (await conn.execute(statement)).first()
    return None if row is None else (row[0], row[1], row[2])


async def replace_password_hash(
    engine: AsyncEngine, *, user_id: uuid.UUID, old: str, new: str
) -> bool:
    """Store a fresher hash of the same password, if the stored one is still `old`.

    Not a change of the user: `updated_at` stays. A password changed meanwhile stays changed.
    """
    statement = (
        update(User)
        .where(User.id == user_id, User.password_hash == old)
        .values(password_hash=new)
        .returning(User.id)
    )
    async with engine.begin() as conn:
        return (await conn.execute(statement)).first() is not None
