from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from apicore.db import NAMING_CONVENTION
from apicore.idempotency import define_table

STATUSES = ("created", "in_progress", "completed", "cancelled")
ACTIVE = ("created", "in_progress")  # what can still be overdue (service_orders/lifecycle.py)


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# What the reports read of an order besides its time and user (completed_at: on time or late).
REPORTED = ["status", "total_amount", "due_date", "completed_at"]


def products_of(items: Any) -> Any:
    """The products of an order's items as one text (`order_products`, an IMMUTABLE SQL
    function of the migration 0007): what `?q=` searches, through a trigram index."""
    return func.order_products(items)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    if TYPE_CHECKING:
        # Every model here is declared by `__tablename__` and its columns, so its table is a
        # `Table`; SQLAlchemy's own annotation (`FromClause`) also covers a class mapped to
        # a join or a subquery.
        __table__: ClassVar[Table]


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    user_id: Mapped[uuid.UUID]
    # Who does the work (service_orders/history.py records who assigned it); None: nobody yet.
    assignee_id: Mapped[uuid.UUID | None]
    # `json`, not `jsonb`: kept as written (compact), served as it is.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(Text, server_default="created")
    total_amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    due_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When it became completed (not served): the reports' "completed per day".
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The acting users the gateway named (service_orders/acting.py); None when none was.
    created_by: Mapped[uuid.UUID | None]
    updated_by: Mapped[uuid.UUID | None]

    __table_args__ = (
        CheckConstraint(
            f"status IN ({_quoted(STATUSES)})",
            name="status_known",
        ),
        CheckConstraint("total_amount >= 0", name="total_amount_non_negative"),
        # The reports (docs/graphql.md) read only these columns: each index covers them
        # (INCLUDE), so a report is an index-only scan, never a read of the wide rows.
        # A user's orders, oldest first; a page of users' stats.
        Index(
            "ix_orders_user_id_created_at",
            "user_id",
            "created_at",
            "id",
            postgresql_include=REPORTED,
        ),
        # Pages in order; the stats of every order or of a period; orders created per day.
        Index("ix_orders_created_at_id", "created_at", "id", postgresql_include=REPORTED),
        # Overdue work: only orders that can be overdue and have a deadline.
        Index(
            "ix_orders_overdue",
            "due_date",
            postgresql_where=text(f"due_date IS NOT NULL AND status IN ({_quoted(ACTIVE)})"),
        ),
        # Orders between two totals (`minAmount`/`maxAmount`), in page order within a total.
        Index("ix_orders_total_amount", "total_amount", "created_at", "id"),
        # Orders completed per day.
        Index(
            "ix_orders_completed_at",
            "completed_at",
            postgresql_where=text("completed_at IS NOT NULL"),
        ),
        # An assignee's orders in page order (`assigneeId`, `User.assignedOrders`), and the
        # active ones a user's deletion looks for (service_orders/books.py).
        Index(
            "ix_orders_assignee_id_created_at",
            "assignee_id",
            "created_at",
            "id",
            postgresql_include=REPORTED,
            postgresql_where=text("assignee_id IS NOT NULL"),
        ),
        # Sorting pages (apicore/finding.py): each key with the id, the tie-breaker.
        Index("ix_orders_updated_at_id", "updated_at", "id"),
        Index("ix_orders_due_date_id", "due_date", "id"),
        Index("ix_orders_total_amount_id", "total_amount", "id"),
        # `?q=`: a substring of the products, any case (pg_trgm serves ILIKE '%…%').
        Index(
            "ix_orders_products_trgm",
            products_of(text("items")),
            postgresql_using="gin",
            postgresql_ops={"order_products": "gin_trgm_ops"},
        ),
    )


class OrderChange(Base):
    """One change of an order, written in the change's own transaction (history.py).

    No foreign key: an order's history outlives the order (its last entry is the delete).
    """

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID]
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(Text)
    # [{"field", "old", "new"}]: every field the change set, in the order's public form.
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint("action IN ('created', 'updated', 'deleted')", name="action_known"),
        # An order's history, newest first.
        Index("ix_order_history_order_id_at", "order_id", "at", "id"),
    )


class OrderBook(Base):
    """A user's order book: orders are created only while it is open (service_orders/books.py)."""

    __tablename__ = "order_books"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The reports' summaries (docs/reports.md): kept by PostgreSQL triggers on `orders` (the
# migration 0009 defines them), one grouped upsert per statement, in the writing transaction.
# `slot` spreads concurrent writers over several rows (pg_backend_pid() % 16): readers sum
# over the slots. Rows may hold zeros.


class OrderCreatedDay(Base):
    """Orders per UTC day of `created_at` and status: count, amount, and deadline figures."""

    __tablename__ = "order_created_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Text, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Decimal] = mapped_column(Numeric)
    # Completed with a deadline: on time when completed (UTC day) on or before it; late after.
    on_time: Mapped[int] = mapped_column(BigInteger)
    late: Mapped[int] = mapped_column(BigInteger)
    # Orders with a due date (for the active statuses: what can be overdue at all).
    with_deadline: Mapped[int] = mapped_column(BigInteger)


class OrderCompletedDay(Base):
    """Orders per UTC day of `completed_at` (any status, as the daily report counts them)."""

    __tablename__ = "order_completed_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger)


class OrderDeadline(Base):
    """Active orders (created, in_progress) with a deadline, per due date, UTC day of
    `created_at` and status: overdue = with_deadline − those due today or later."""

    __tablename__ = "order_deadlines"

    due_date: Mapped[date] = mapped_column(primary_key=True)
    created_day: Mapped[date] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Text, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger)


# Each create's Idempotency-Key (apicore/idempotency.py).
IDEMPOTENCY_KEYS = define_table(Base.metadata)
