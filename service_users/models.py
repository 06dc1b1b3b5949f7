from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from apicore.db import NAMING_CONVENTION
from apicore.idempotency import define_table

ROLES = ("user", "engineer", "manager", "director", "customer", "admin")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    if TYPE_CHECKING:
        # Every model here is declared by `__tablename__` and its columns, so its table is a
        # `Table`; SQLAlchemy's own annotation (`FromClause`) also covers a class mapped to
        # a join or a subquery.
        __table__: ClassVar[Table]


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{user}'::text[]"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            f"roles <@ ARRAY[{', '.join(repr(role) for role in ROLES)}]::text[]"
            " AND cardinality(roles) >= 1",
            name="roles_known",
        ),
        Index("uq_users_email_lower", func.lower(email), unique=True),
        Index("ix_users_created_at_id", "created_at", "id"),
    )


USER_DAY_SLOTS = 8  # rows per day that concurrent writers spread over (the 0004 migration)


class UserDay(Base):
    """How many users were created on one UTC day, in one slot: kept by PostgreSQL
    triggers on `users` (migration 0004), read for the list's total and deep pages
    (docs/totals.md). A day's count is the sum over its slots."""

    __tablename__ = "user_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    users: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class Session(Base):
    """One login: its refresh tokens are one family (RefreshToken). Ending it (logout,
    a reused refresh token, a change of the user's roles or password, the user's deletion)
    deletes the row, its tokens with it; the gateway then refuses its access tokens."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Renewed by each refresh: a session nobody refreshes for this long is over.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """A refresh token, by its SHA-256 (the token itself is given out once, never stored).
    Used once: `used_at` set; presented again, its whole session ends."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Each create's Idempotency-Key (apicore/idempotency.py).
IDEMPOTENCY_KEYS = define_table(Base.metadata)
