"""Order books: one row per user the orders service has heard of, closed while it is deleted.

Deleting a user and creating an order for them are two services' writes; this row is
where they meet (service_orders/books.py): creating an order share-locks it and refuses a
closed one, closing it waits for those orders and then counts the user's active orders.

Revision ID: 0003_order_books
Revises: 0002_items_as_written
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_order_books"
down_revision: str | None = "0002_items_as_written"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_books",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_order_books"),
    )
    # Every user who already has orders gets an open book.
    op.execute("INSERT INTO order_books (user_id) SELECT DISTINCT user_id FROM orders")


def downgrade() -> None:
    op.drop_table("order_books")
