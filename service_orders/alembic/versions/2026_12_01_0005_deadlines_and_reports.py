"""Deadlines and reports (docs/graphql.md): `due_date`, `completed_at`, the reports' indexes.

Additive: both columns are nullable. `completed_at` of orders already completed is their
last change (a completed order cannot change any more: service_orders/lifecycle.py).
The two existing indexes are rebuilt covering what the reports read, so every report is
an index-only scan.

Revision ID: 0005_deadlines_and_reports
Revises: 0004_idempotency_keys
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_deadlines_and_reports"
down_revision: str | None = "0004_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORTED = ["status", "total_amount", "due_date"]


def upgrade() -> None:
    op.add_column("orders", sa.Column("due_date", sa.Date(), nullable=True))
    op.add_column("orders", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE orders SET completed_at = updated_at WHERE status = 'completed'")
    op.drop_index("ix_orders_user_id", table_name="orders")
    op.create_index(
        "ix_orders_user_id_created_at",
        "orders",
        ["user_id", "created_at", "id"],
        postgresql_include=REPORTED,
    )
    op.drop_index("ix_orders_created_at_id", table_name="orders")
    op.create_index(
        "ix_orders_created_at_id", "orders", ["created_at", "id"], postgresql_include=REPORTED
    )
    op.create_index(
        "ix_orders_overdue",
        "orders",
        ["due_date"],
        postgresql_where=sa.text("due_date IS NOT NULL AND status IN ('created', 'in_progress')"),
    )
    op.create_index(
        "ix_orders_completed_at",
        "orders",
        ["completed_at"],
        postgresql_where=sa.text("completed_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_completed_at", table_name="orders")
    op.drop_index("ix_orders_overdue", table_name="orders")
    op.drop_index("ix_orders_created_at_id", table_name="orders")
    op.create_index("ix_orders_created_at_id", "orders", ["created_at", "id"])
    op.drop_index("ix_orders_user_id_created_at", table_name="orders")
    op.create_index("ix_orders_user_id", "orders", ["user_id"])
    op.drop_column("orders", "completed_at")
    op.drop_column("orders", "due_date")
