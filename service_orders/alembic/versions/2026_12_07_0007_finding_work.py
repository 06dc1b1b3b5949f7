"""Finding work: indexes for sorting pages, and a trigram search over items' products;
the reports' covering indexes also cover `completed_at` (on time or late).

`order_products(items)` is the products of an order's items as one text; being
IMMUTABLE (it reads only its argument) it can be indexed. The GIN trigram index over it
serves `ILIKE '%…%'` (`?q=`) without reading every order. Sorting by `updated_at`,
`due_date` or `total_amount` (with the id, the tie-breaker) reads an index in order
instead of sorting every match. Built with plain CREATE INDEX (a lock on writes while it
runs): on a large table, build them CONCURRENTLY by hand first, under the same names.

Revision ID: 0007_finding_work
Revises: 0006_assignees_and_history
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_finding_work"
down_revision: str | None = "0006_assignees_and_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORTED = ["status", "total_amount", "due_date", "completed_at"]
BEFORE = ["status", "total_amount", "due_date"]


def _reports_cover(included: list[str]) -> None:
    op.drop_index("ix_orders_user_id_created_at", table_name="orders")
    op.create_index(
        "ix_orders_user_id_created_at",
        "orders",
        ["user_id", "created_at", "id"],
        postgresql_include=included,
    )
    op.drop_index("ix_orders_created_at_id", table_name="orders")
    op.create_index(
        "ix_orders_created_at_id", "orders", ["created_at", "id"], postgresql_include=included
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        """
        CREATE FUNCTION order_products(items json) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT string_agg(item ->> 'product', ' ') FROM json_array_elements(items) AS item $$
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_orders_products_trgm ON orders"
        " USING gin (order_products(items) gin_trgm_ops)"
    )
    op.create_index("ix_orders_updated_at_id", "orders", ["updated_at", "id"], if_not_exists=True)
    op.create_index("ix_orders_due_date_id", "orders", ["due_date", "id"], if_not_exists=True)
    op.create_index(
        "ix_orders_total_amount_id", "orders", ["total_amount", "id"], if_not_exists=True
    )
    _reports_cover(REPORTED)


def downgrade() -> None:
    _reports_cover(BEFORE)
    op.drop_index("ix_orders_total_amount_id", table_name="orders")
    op.drop_index("ix_orders_due_date_id", table_name="orders")
    op.drop_index("ix_orders_updated_at_id", table_name="orders")
    op.drop_index("ix_orders_products_trgm", table_name="orders")
    op.execute("DROP FUNCTION order_products(json)")
    # pg_trgm stays: another schema of the database may use it.
