"""An index on orders' totals, for the `minAmount`/`maxAmount` filters of the order list.

Additive: one index, built without blocking writes (CONCURRENTLY, outside the
migration's transaction), so the table stays writable while it is built.

Revision ID: 0008_total_amount_index
Revises: 0007_finding_work
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_total_amount_index"
down_revision: str | None = "0007_finding_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_orders_total_amount",
            "orders",
            ["total_amount", "created_at", "id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_orders_total_amount",
            table_name="orders",
            postgresql_concurrently=True,
            if_exists=True,
        )
