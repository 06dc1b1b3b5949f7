"""Users persistence: one SQL round trip per read, one for a page plus one for its count."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from apicore.errors import EMAIL_EXISTS, ApiError
from service_users.models import User

PUBLIC_COLUMNS = (User.id, User.email, User.name, User.roles, User.created_at, User.updated_at)


def _email_taken() -> ApiError:
    return ApiError(EMAIL_EXISTS, "A user with this email already exists")


def _is_email_conflict(exc: IntegrityError) -> bool:
    return "uq_users_email_lower" in str(exc.orig)


async def get_user(engine: AsyncEngine, *, user_id: uuid.UUID) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*PUBLIC_COLUMNS).where(User.id == user_id))).first()
    return row._asdict() if row else None


async def list_users(
    engine: AsyncEngine, *, limit: int | None, offset: int, ids: list[uuid.UUID] | None
) -> tuple[list[dict[str, Any]], int]:
    query = select(*PUBLIC_COLUMNS).order_by(User.created_at, User.id).offset(offset)
    count = select(func.count()).select_from(User)
    if ids is not None:
        query = query.where(User.id.in_(ids))
        count = count.where(User.id.in_(ids))
    if limit is not None:
        query = query.limit(limit)
    async with engine.connect() as conn:
        rows = [row._asdict() for row in await conn.execute(query)]
        if limit is None and offset == 0:
            return rows, len(rows)
        total = (await conn.execute(count)).scalar_one()
    return rows, total


async def create_user(
    engine: AsyncEngine, *, email: str, name: str, roles: list[str], password_hash: str | None
) -> dict[str, Any]:
    statement = (
        insert(User)
        .values(email=email, name=name, roles=roles, password_hash=password_hash)
        .returning(*PUBLIC_COLUMNS)
    )
    try:
        async with engine.begin() as conn:
            row = (await conn.execute(statement)).one()
    except IntegrityError as exc:
        if _is_email_conflict(exc):
            raise _email_taken() from None
        raise
    return row._asdict()


async def update_user(
    engine: AsyncEngine, *, user_id: uuid.UUID, changes: dict[str, Any]
) -> dict[str, Any] | None:
    statement = (
        update(User)
        .where(User.id == user_id)
        .values(**changes, updated_at=func.clock_timestamp())
        .returning(*PUBLIC_COLUMNS)
    )
    try:
        async with engine.begin() as conn:
            row = (await conn.execute(statement)).first()
    except IntegrityError as exc:
        if _is_email_conflict(exc):
            raise _email_taken() from None
        raise
    return row._asdict() if row else None


async def delete_user(engine: AsyncEngine, *, user_id: uuid.UUID) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(delete(User).where(User.id == user_id).returning(User.id))
        return result.first() is not None
