"""Sessions and refresh tokens; every email in its canonical form.

Sessions: one row per login, its refresh tokens (by SHA-256) beside it; deleting a user
deletes their sessions, deleting a session its tokens (service_users/sessions.py).

Emails: each stored email becomes what `POST /users` now stores (trimmed, a bare
address, lower-cased: apicore.contract.users.canonical_email). Two users whose emails
become the same address are a collision: the migration stops, names them and changes
nothing, for someone to decide which account keeps the address. An email that is no
address at all (written around the API) is trimmed and lower-cased, and reported.

Revision ID: 0003_sessions_canonical_emails
Revises: 0002_idempotency_keys
Create Date: 2026-12-07
"""

import logging
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from apicore.contract.users import canonical_email

revision: str = "0003_sessions_canonical_emails"
down_revision: str | None = "0002_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")


class EmailCollision(RuntimeError):
    """Two or more users whose emails are one address once canonical."""


def canonical_emails(rows: Sequence[tuple[object, str]]) -> dict[object, str]:
    """Each user's new email (only those that change); EmailCollision if two would meet."""
    owners: dict[str, list[tuple[object, str]]] = defaultdict(list)
    wanted: dict[object, str] = {}
    for user_id, email in rows:
        try:
            canonical = canonical_email(email)
        except ValueError as exc:
            canonical = email.strip().lower()
            logger.warning(
                "User %s: email %r is no address (%s); kept as %r", user_id, email, exc, canonical
            )
        owners[canonical].append((user_id, email))
        wanted[user_id] = canonical
    collisions = {address: users for address, users in owners.items() if len(users) > 1}
    if collisions:
        lines = [
            f"  {address}: " + ", ".join(f"{user_id} ({email!r})" for user_id, email in users)
            for address, users in sorted(collisions.items())
        ]
        raise EmailCollision(
            f"{len(collisions)} email address(es) belong to more than one user once trimmed"
            " and lower-cased; nothing was changed. Give each of these users another email"
            " (or delete the duplicate account), then migrate again:\n" + "\n".join(lines)
        )
    return {user_id: wanted[user_id] for user_id, email in rows if wanted[user_id] != email}


def upgrade() -> None:
    conn = op.get_bind()
    rows = [(row.id, row.email) for row in conn.execute(sa.text("SELECT id, email FROM users"))]
    changes = canonical_emails(rows)
    for user_id, email in changes.items():
        conn.execute(
            sa.text("UPDATE users SET email = :email WHERE id = :id"),
            {"email": email, "id": user_id},
        )
    if changes:
        logger.warning("Canonicalised the email of %d user(s)", len(changes))

    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sessions_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_refresh_tokens_session_id_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_refresh_tokens"),
    )
    op.create_index("ix_refresh_tokens_session_id", "refresh_tokens", ["session_id"])


def downgrade() -> None:
    op.drop_table("refresh_tokens")
    op.drop_table("sessions")
    # The emails stay canonical: their earlier spellings are not kept anywhere.
