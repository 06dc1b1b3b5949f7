"""Assignees and history: who does an order's work, and who changed what, when.

Additive: `assignee_id`, `created_by`, `updated_by` are nullable (orders made before
have none); `order_history` starts empty. The assignee's index is partial (only
assigned orders) and covers what the reports read, like the user's.

Revision ID: 0006_assignees_and_history
Revises: 0005_deadlines_and_reports
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_assignees_and_history"
down_revision: str | None = "0005_deadlines_and_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORTED = ["status", "total_amount", "due_date", "completed_at"]


def upgrade() -> None:
    op.add_column("orders", sa.Column("assignee_id", sa.Uuid(), nullable=True))
    op.add_column("orders", sa.Column("created_by", sa.Uuid(), nullable=True))
    op.add_column("orders", sa.Column("updated_by", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_orders_assignee_id_created_at",
        "orders",
        ["assignee_id", "created_at", "id"],
        postgresql_include=REPORTED,
        postgresql_where=sa.text("assignee_id IS NOT NULL"),
    )
    op.create_table(
        "order_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "action IN ('created', 'updated', 'deleted')", name="ck_order_history_action_known"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_order_history"),
    )
    op.create_index("ix_order_history_order_id_at", "order_history", ["order_id", "at", "id"])


def downgrade() -> None:
    op.drop_index("ix_order_history_order_id_at", table_name="order_history")
    op.drop_table("order_history")
    op.drop_index("ix_orders_assignee_id_created_at", table_name="orders")
    op.drop_column("orders", "updated_by")
    op.drop_column("orders", "created_by")
    op.drop_column("orders", "assignee_id")
