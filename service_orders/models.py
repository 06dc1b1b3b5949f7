from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Index,
    MetaData,
    Numeric,
    Text,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from apicore.db import NAMING_CONVENTION
from apicore.idempotency import define_table

STATUSES = ("created", "in_progress", "completed", "cancelled")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    user_id: Mapped[uuid.UUID]
    # `json`, not `jsonb`: kept as written (compact), served as it is.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(Text, server_default="created")
    total_amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            f"status IN ({_quoted(STATUSES)})",
            name="status_known",
        ),
        CheckConstraint("total_amount >= 0", name="total_amount_non_negative"),
        Index("ix_orders_user_id", "user_id"),
        Index("ix_orders_created_at_id", "created_at", "id"),
    )


class OrderBook(Base):
    """A user's order book: orders are created only while it is open (service_orders/books.py)."""

    __tablename__ = "order_books"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Each create's Idempotency-Key (apicore/idempotency.py).
IDEMPOTENCY_KEYS = define_table(Base.metadata)
