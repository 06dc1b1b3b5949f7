"""How many users were created on each UTC day: the list's total and deep pages, without a scan.

`user_days` holds one row per (UTC day of `created_at`, slot) with the number of users
created that day. PostgreSQL keeps it, in the same transaction as every write of `users`:
statement-level triggers read the statement's rows from transition tables, so a bulk
`INSERT ... SELECT`, a restore or a plain SQL write keeps it exact as well as the API does.
A `TRUNCATE users` empties it. `slot` spreads concurrent writers of one day over several
rows (the writer's backend pid picks it), so creating users does not queue on one row
lock; readers sum over the slots. Rows may hold zeros. See docs/totals.md.

Filled from the existing users in the migration's transaction (the table is locked against
writes meanwhile, so none is counted twice or missed). Its functions run with this
migration's search_path (`SET search_path FROM CURRENT`), so a data-only restore, which
writes with an empty search_path, finds `user_days` too.

Revision ID: 0004_user_days
Revises: 0003_sessions_canonical_emails
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_user_days"
down_revision: str | None = "0003_sessions_canonical_emails"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 8  # service_users/models.py USER_DAY_SLOTS

_FUNCTIONS = f"""
CREATE FUNCTION user_days_add() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    -- Days in order: two writers lock the rows they share in the same order (no deadlock).
    INSERT INTO user_days (day, slot, users)
    SELECT (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % {SLOTS}, count(*)
    FROM added GROUP BY 1 ORDER BY 1
    ON CONFLICT (day, slot) DO UPDATE SET users = user_days.users + EXCLUDED.users;
    RETURN NULL;
END $$;

CREATE FUNCTION user_days_remove() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO user_days (day, slot, users)
    SELECT (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % {SLOTS}, -count(*)
    FROM removed GROUP BY 1 ORDER BY 1
    ON CONFLICT (day, slot) DO UPDATE SET users = user_days.users + EXCLUDED.users;
    RETURN NULL;
END $$;

-- An update that moves `created_at` to another day (only SQL can: the API never does).
CREATE FUNCTION user_days_move() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO user_days (day, slot, users)
    SELECT day, pg_backend_pid() % {SLOTS}, sum(change)
    FROM (
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, 1 AS change FROM added
        UNION ALL
        SELECT (created_at AT TIME ZONE 'UTC')::date, -1 FROM removed
    ) AS moved
    GROUP BY day HAVING sum(change) <> 0 ORDER BY day
    ON CONFLICT (day, slot) DO UPDATE SET users = user_days.users + EXCLUDED.users;
    RETURN NULL;
END $$;

CREATE FUNCTION user_days_clear() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM user_days;
    RETURN NULL;
END $$;
"""

_TRIGGERS = """
CREATE TRIGGER user_days_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION user_days_add();
CREATE TRIGGER user_days_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION user_days_remove();
CREATE TRIGGER user_days_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION user_days_move();
CREATE TRIGGER user_days_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION user_days_clear();
"""

_FILL = """
INSERT INTO user_days (day, slot, users)
SELECT (created_at AT TIME ZONE 'UTC')::date, 0, count(*) FROM users GROUP BY 1
"""


def upgrade() -> None:
    op.execute(
        "CREATE TABLE user_days ("
        " day date NOT NULL, slot smallint NOT NULL, users bigint NOT NULL DEFAULT 0,"
        " CONSTRAINT pk_user_days PRIMARY KEY (day, slot))"
    )
    op.execute(_FUNCTIONS)
    # No write between the fill and the triggers: each user is counted exactly once.
    op.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
    op.execute(_TRIGGERS)
    op.execute(_FILL)


def downgrade() -> None:
    for trigger in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS user_days_{trigger} ON users")
    for function in ("add", "remove", "move", "clear"):
        op.execute(f"DROP FUNCTION IF EXISTS user_days_{function}()")
    op.execute("DROP TABLE IF EXISTS user_days")
