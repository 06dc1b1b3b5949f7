"""The reports' summary tables, kept by PostgreSQL triggers (docs/reports.md).

Three tables sum up the orders so that a report reads a few rows per day, never every
order: `order_created_days` (per UTC day of `created_at` and status: count, amount, on
time, late, with a deadline), `order_completed_days` (per UTC day of `completed_at`) and
`order_deadlines` (active orders with a deadline, per due date, creation day and status).

Statement-level AFTER triggers with transition tables keep them: each INSERT, UPDATE or
DELETE on `orders` adds its grouped difference (new rows minus old rows) in one upsert per
table, in the writing transaction, so a bulk `INSERT … SELECT` of a million rows is one
aggregate, and SQL loaded behind the service is counted too. A TRUNCATE of `orders`
empties them. Writers spread over `slot`s (`pg_backend_pid() % 16`: the pool's long-lived
connections mostly get a row each), so concurrent writes of the same day do not queue on
one row; readers sum over the slots. A group whose difference is all zeros (an update of
the assignee, say) is not written at all.

Each function runs with the search_path of this migration (`SET search_path FROM
CURRENT`): a data-only pg_dump/pg_restore writes with an empty search_path, and the
functions must still find their tables. A TRUNCATE empties the tables with DELETE (row
locks), not TRUNCATE, so it never waits on a reader holding them in the opposite order.

The tables are filled from the existing rows in this migration's transaction, after the
triggers exist: CREATE TRIGGER locks `orders` against writes until the commit, so no
write falls between the fill and the triggers.

Revision ID: 0009_summaries
Revises: 0008_total_amount_index
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_summaries"
down_revision: str | None = "0008_total_amount_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 16

# What each summary adds up, over a relation of orders with a `sign` (+1 new, -1 old).
# `{slot}` is the slot written; `{source}` the rows. Kept literally here (a migration is
# frozen); service_orders/summaries.py holds the same for the rebuild.
CREATED = """
INSERT INTO order_created_days AS t
    (day, status, slot, orders, amount, on_time, late, with_deadline)
SELECT * FROM (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, {slot} AS slot,
           sum(sign) AS orders,
           sum(sign * total_amount) AS amount,
           sum(CASE WHEN status = 'completed' AND due_date IS NOT NULL
                     AND (completed_at AT TIME ZONE 'UTC')::date <= due_date
                    THEN sign ELSE 0 END) AS on_time,
           sum(CASE WHEN status = 'completed' AND due_date IS NOT NULL
                     AND (completed_at AT TIME ZONE 'UTC')::date > due_date
                    THEN sign ELSE 0 END) AS late,
           sum(CASE WHEN due_date IS NOT NULL THEN sign ELSE 0 END) AS with_deadline
    FROM {source}
    GROUP BY 1, 2
) AS delta
WHERE (orders, amount, on_time, late, with_deadline) <> (0, 0, 0, 0, 0)
ORDER BY day, status
ON CONFLICT (day, status, slot) DO UPDATE SET
    orders = t.orders + excluded.orders,
    amount = t.amount + excluded.amount,
    on_time = t.on_time + excluded.on_time,
    late = t.late + excluded.late,
    with_deadline = t.with_deadline + excluded.with_deadline
"""
COMPLETED = """
INSERT INTO order_completed_days AS t (day, slot, orders)
SELECT (completed_at AT TIME ZONE 'UTC')::date, {slot}, sum(sign)
FROM {source}
WHERE completed_at IS NOT NULL
GROUP BY 1
HAVING sum(sign) <> 0
ORDER BY 1
ON CONFLICT (day, slot) DO UPDATE SET orders = t.orders + excluded.orders
"""
DEADLINES = """
INSERT INTO order_deadlines AS t (due_date, created_day, status, slot, orders)
SELECT due_date, (created_at AT TIME ZONE 'UTC')::date, status, {slot}, sum(sign)
FROM {source}
WHERE due_date IS NOT NULL AND status IN ('created', 'in_progress')
GROUP BY 1, 2, 3
HAVING sum(sign) <> 0
ORDER BY 1, 2, 3
ON CONFLICT (due_date, created_day, status, slot) DO UPDATE SET orders = t.orders + excluded.orders
"""

# Each event's rows with their sign (transition tables: one per trigger and event).
CHANGES = {
    "insert": ("REFERENCING NEW TABLE AS new_rows", "SELECT 1 AS sign, * FROM new_rows"),
    "delete": ("REFERENCING OLD TABLE AS old_rows", "SELECT -1 AS sign, * FROM old_rows"),
    "update": (
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1 AS sign, * FROM old_rows",
    ),
}
TABLES = ("order_created_days", "order_completed_days", "order_deadlines")


def _trigger_function(event: str, rows: str) -> str:
    source = f"({rows}) AS changed"
    slot = f"(pg_backend_pid() % {SLOTS})::smallint"
    body = ";\n".join(
        each.format(source=source, slot=slot).strip() for each in (CREATED, COMPLETED, DEADLINES)
    )
    return f"""
        CREATE FUNCTION order_summaries_{event}() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        BEGIN
        {body};
        RETURN NULL;
        END
        $$
    """


def _create_tables() -> None:
    op.create_table(
        "order_created_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("on_time", sa.BigInteger(), nullable=False),
        sa.Column("late", sa.BigInteger(), nullable=False),
        sa.Column("with_deadline", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "status", "slot", name="pk_order_created_days"),
    )
    op.create_table(
        "order_completed_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "slot", name="pk_order_completed_days"),
    )
    op.create_table(
        "order_deadlines",
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "due_date", "created_day", "status", "slot", name="pk_order_deadlines"
        ),
    )


def upgrade() -> None:
    _create_tables()
    for event, (referencing, rows) in CHANGES.items():
        op.execute(_trigger_function(event, rows))
        op.execute(
            f"CREATE TRIGGER order_summaries_{event} AFTER {event.upper()} ON orders"
            f" {referencing} FOR EACH STATEMENT EXECUTE FUNCTION order_summaries_{event}()"
        )
    op.execute(
        f"""
        CREATE FUNCTION order_summaries_truncate() RETURNS trigger LANGUAGE plpgsql
        SET search_path FROM CURRENT AS $$
        BEGIN
        {" ".join(f"DELETE FROM {table};" for table in TABLES)}
        RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER order_summaries_truncate AFTER TRUNCATE ON orders"
        " FOR EACH STATEMENT EXECUTE FUNCTION order_summaries_truncate()"
    )
    # The existing rows, in slot 0 (the triggers now hold writes off until the commit).
    source = "(SELECT 1 AS sign, * FROM orders) AS changed"
    for each in (CREATED, COMPLETED, DEADLINES):
        op.execute(each.format(source=source, slot="0::smallint"))


def downgrade() -> None:
    for event in (*CHANGES, "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS order_summaries_{event} ON orders")
        op.execute(f"DROP FUNCTION IF EXISTS order_summaries_{event}()")
    for table in reversed(TABLES):
        op.drop_table(table)
