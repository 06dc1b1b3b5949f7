"""Create the users database if it is missing, then migrate it to head. Idempotent.

Then, when USERS_ADMIN_EMAIL and USERS_ADMIN_PASSWORD are set (USERS_ADMIN_NAME
optional), the first administrator: a user with roles ["admin"] and that password,
created if and only if no user has that email (case-insensitively). A user who has it
is left as it is, password, roles and name included, so running this again changes
nothing. The two go together, and follow the rules of `POST /users`; a missing or
invalid one stops init_db with one line, before it touches any database.

When the administrator exists, init_db says whether USERS_ADMIN_PASSWORD is its password
and, when it is not, what to do (`admin_report`). With `--reset-admin-password` it gives an
existing administrator USERS_ADMIN_PASSWORD (its sessions end, as on any password change).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from pydantic import ValidationError

from apicore.db import init_database, libpq_url
from service_users.config import Settings
from service_users.passwords import hash_password_blocking, verify_password
from service_users.schemas import UserCreate

PACKAGE_DIR = Path(__file__).resolve().parent
logger = logging.getLogger("service_users.init_db")

EMAIL_VAR = "USERS_ADMIN_EMAIL"
PASSWORD_VAR = "USERS_ADMIN_PASSWORD"
_VARIABLES = {"email": EMAIL_VAR, "password": PASSWORD_VAR, "name": "USERS_ADMIN_NAME"}
ADMIN_ROLES = ["admin"]

# The unique index on lower(email) decides: two init_db at once create one administrator.
_INSERT_ADMIN = """
INSERT INTO users (email, name, roles, password_hash)
VALUES (%(email)s, %(name)s, %(roles)s::text[], %(password_hash)s)
ON CONFLICT ((lower(email))) DO NOTHING
RETURNING id
"""
_EMAIL_TAKEN = "SELECT 1 FROM users WHERE lower(email) = lower(%(email)s)"
_ACCOUNT = "SELECT id, roles, password_hash FROM users WHERE lower(email) = lower(%(email)s)"
_RESET = """
UPDATE users SET password_hash = %(password_hash)s, updated_at = clock_timestamp()
WHERE id = %(id)s
"""
_END_SESSIONS = "DELETE FROM sessions WHERE user_id = %(id)s"
RESET_FLAG = "--reset-admin-password"


class AdminSettingsError(ValueError):
    """The first administrator's settings are incomplete or invalid (one line, no secret)."""


@dataclass(frozen=True)
class FirstAdmin:
    email: str  # as POST /users stores it (normalised)
    name: str
    password: str = field(repr=False)


def first_admin(settings: Settings) -> FirstAdmin | None:
    """The administrator the settings ask for; None when they ask for none."""
    email = settings.admin_email or None  # an empty variable counts as unset
    secret = settings.admin_password
    password = (secret.get_secret_value() if secret is not None else "") or None
    if email is None and password is None:
        return None
    if email is None or password is None:
        missing = EMAIL_VAR if email is None else PASSWORD_VAR
        raise AdminSettingsError(f"{EMAIL_VAR} and {PASSWORD_VAR} go together: {missing} is unset")
    try:
        checked = UserCreate(
            email=email, name=settings.admin_name, password=password, roles=ADMIN_ROLES
        )
    except ValidationError as exc:
        # Each problem's message only: pydantic's full text would repeat the input, the password.
        problems = "; ".join(
            f"{_VARIABLES.get(str(error['loc'][0]), error['loc'][0])}: "
            f"{str(error['msg']).removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise AdminSettingsError(f"Invalid first administrator: {problems}") from None
    return FirstAdmin(email=checked.email, name=checked.name, password=password)


def ensure_admin(database_url: str, admin: FirstAdmin) -> bool:
    """Create the administrator unless a user has that email. True when it was created."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        created = False
        if conn.execute(_EMAIL_TAKEN, {"email": admin.email}).fetchone() is None:
            values = {
                "email": admin.email,
                "name": admin.name,
                "roles": ADMIN_ROLES,
                "password_hash": hash_password_blocking(admin.password),
            }
            created = conn.execute(_INSERT_ADMIN, values).fetchone() is not None
    if created:
        logger.info("Created the first administrator %s", admin.email)
    else:
        logger.info("Administrator %s exists; left unchanged", admin.email)
        report = admin_report(database_url, admin)
        if report is not None:
            logger.warning("%s", report)
    return created


def admin_report(database_url: str, admin: FirstAdmin) -> str | None:
    """None when the account with USERS_ADMIN_EMAIL is an administrator whose password is
    USERS_ADMIN_PASSWORD (or there is none); else what is wrong and what to do."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        row = conn.execute(_ACCOUNT, {"email": admin.email}).fetchone()
    if row is None:
        return None
    _, roles, password_hash = row
    matches = password_hash is not None and verify_password(password_hash, admin.password)
    if "admin" not in roles:
        return (
            f"{admin.email} ({EMAIL_VAR}) is a user with roles {list(roles)}, not an"
            f" administrator: nobody can log in as an administrator with it. Set {EMAIL_VAR}"
            " to an address no user has (a new administrator is created with it), or have an"
            " administrator give this user the admin role."
        )
    if matches:
        return None
    how = (
        "has no password" if password_hash is None else f"has another password than {PASSWORD_VAR}"
    )
    return (
        f"Administrator {admin.email} ({EMAIL_VAR}) {how}, so logging in with"
        f" {PASSWORD_VAR} is refused (INVALID_CREDENTIALS). It was created before with"
        " another password: by an earlier run with other settings, or by `make seed` with auth"
        " off, which printed its random password once. Log in with that password, or give it"
        f" {PASSWORD_VAR}: `make run RUN_ARGS={RESET_FLAG}` (or `python -m"
        f" service_users.init_db {RESET_FLAG}` with USERS_DATABASE_URL); its sessions end."
    )


def reset_admin_password(database_url: str, admin: FirstAdmin) -> str:
    """Give the existing administrator USERS_ADMIN_PASSWORD; what happened, in one line.
    Only an administrator's: this never makes anyone an administrator."""
    with psycopg.connect(libpq_url(database_url)) as conn, conn.transaction():
        row = conn.execute(_ACCOUNT, {"email": admin.email}).fetchone()
        if row is None:
            return f"No user has {admin.email} ({EMAIL_VAR}): nothing to reset"
        user_id, roles, _ = row
        if "admin" not in roles:
            return (
                f"{admin.email} ({EMAIL_VAR}) is no administrator (roles {list(roles)}):"
                " its password is left as it is"
            )
        values = {"id": user_id, "password_hash": hash_password_blocking(admin.password)}
        conn.execute(_RESET, values)
        conn.execute(_END_SESSIONS, values)
    return f"Administrator {admin.email}: its password is now {PASSWORD_VAR}; its sessions ended"


def main(
    database_url: str | None = None, settings: Settings | None = None, *, reset: bool = False
) -> None:
    settings = settings or Settings()
    admin = first_admin(settings)  # checked before anything is touched
    if reset and admin is None:
        raise AdminSettingsError(f"{RESET_FLAG} needs {EMAIL_VAR} and {PASSWORD_VAR}")
    url = database_url or settings.database_url
    init_database(PACKAGE_DIR, url)
    if admin is not None and reset:
        logger.warning("%s", reset_admin_password(url, admin))
    elif admin is not None:
        ensure_admin(url, admin)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m service_users.init_db")
    parser.add_argument(
        RESET_FLAG, action="store_true", help=f"give the administrator {PASSWORD_VAR}"
    )
    arguments = parser.parse_args()
    try:
        main(reset=arguments.reset_admin_password)
    except AdminSettingsError as exc:
        logger.error("%s", exc)
        raise SystemExit(1) from None
