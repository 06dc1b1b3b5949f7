from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, DateTime, Index, MetaData, String, Text, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from apicore.db import NAMING_CONVENTION
from apicore.idempotency import define_table

ROLES = ("user", "engineer", "manager", "director", "customer", "admin")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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


# Each create's Idempotency-Key (apicore/idempotency.py).
IDEMPOTENCY_KEYS = define_table(Base.metadata)
