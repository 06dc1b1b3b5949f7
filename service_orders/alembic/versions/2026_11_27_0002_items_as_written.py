"""Keep items as written: `json`, compact, keys in the order the API serves them.

`jsonb` prints itself with spaces and its keys sorted by length
(`[{"price": "52.00", "product": …}]`); re-formatting that on every read cost more than
building the rest of the order. A `json` value is kept as its text, which the service
writes compactly (`apicore.db.create_engine`).

Revision ID: 0002_items_as_written
Revises: 0001_create_orders
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_items_as_written"
down_revision: str | None = "0001_create_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ALTER … USING takes no subquery, but a function (this session's only) may hold one.
COMPACT_ITEMS = """
CREATE FUNCTION pg_temp.compact_items(items jsonb) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT concat('[', string_agg(
        concat('{"product":', to_json(item ->> 'product'),
               ',"quantity":', item -> 'quantity',
               ',"price":', to_json(item ->> 'price'), '}'),
        ',' ORDER BY position), ']')::json
    FROM jsonb_array_elements(items) WITH ORDINALITY AS element(item, position)
$$
"""


def upgrade() -> None:
    op.execute(COMPACT_ITEMS)
    op.execute(
        "ALTER TABLE orders ALTER COLUMN items TYPE json"
        " USING coalesce(pg_temp.compact_items(items), '[]'::json)"
    )
    op.execute("DROP FUNCTION pg_temp.compact_items(jsonb)")


def downgrade() -> None:
    op.execute("ALTER TABLE orders ALTER COLUMN items TYPE jsonb USING items::jsonb")
