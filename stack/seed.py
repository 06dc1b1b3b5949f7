"""Demo data through the public API, so the playground shows something at once. Idempotent.

python -m stack.seed [GATEWAY_URL]   # default: the gateway of GATEWAY_HOST and GATEWAY_PORT,
                                     # as `make run` starts it (http://127.0.0.1:8000)

One account per persona of the roles table (docs/auth.md): an administrator, engineers,
managers, a director and a customer, each but the administrator with an order in every
status. Every new account gets a random password, printed once on the console and stored
nowhere; accounts that exist are left as they are (their passwords cannot be printed again).

With authentication on (the gateway answers `GET /users` with 401) the seed logs in as the
administrator that `python -m service_users.init_db` creates, USERS_ADMIN_EMAIL and
USERS_ADMIN_PASSWORD (or --admin-email, --admin-password), and sends its token on every
request. The administrator persona is that account when USERS_ADMIN_EMAIL is set.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

ADMIN_EMAIL_VAR = "USERS_ADMIN_EMAIL"
ADMIN_PASSWORD_VAR = "USERS_ADMIN_PASSWORD"

PEOPLE = [
    ("ivanova@site.example", "Анна Иванова", ["engineer"]),
    ("petrov@site.example", "Пётр Петров", ["engineer"]),
    ("smirnov@site.example", "Сергей Смирнов", ["manager"]),
    ("kuznetsova@site.example", "Мария Кузнецова", ["manager"]),
    ("belov@site.example", "Ярослав Белов", ["director"]),
    ("customer@site.example", "ООО Заказчик", ["customer"]),
]
# The administrator manages accounts and owns no work: no orders. Its email is
# USERS_ADMIN_EMAIL when that is set (the account init_db creates).
ADMIN = ("admin@site.example", "Администратор", ["admin"])
# (product, quantity, price) per order, the status each order is walked to, and its
# deadline in days from today (None: none). The first is overdue: managers have late work.
ORDERS = [
    ([("Бетон М300, м³", 12, "5400.00")], "created", -3),
    (
        [("Арматура А500С, т", 3, "61000.00"), ("Вязальная проволока, кг", 20, "210.50")],
        "in_progress",
        14,
    ),
    ([("Кирпич облицовочный", 1500, "32.90")], "completed", -10),
    ([("Гидроизоляция, рулон", 8, "2750.00")], "cancelled", None),
]
WALKS = {
    "created": [],
    "in_progress": ["in_progress"],
    "completed": ["in_progress", "completed"],
    "cancelled": ["cancelled"],
}
PASSWORD_BYTES = 12  # secrets.token_urlsafe: 16 characters


class SeedError(Exception):
    """The seed cannot go on; the message (one line, no secret) says why and what to do."""


@dataclass(frozen=True)
class AdminLogin:
    """The administrator's credentials, as init_db is given them."""

    email: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], email: str | None = None, password: str | None = None
    ) -> AdminLogin:
        # An empty variable counts as unset, as init_db reads it.
        return cls(
            email=email or env.get(ADMIN_EMAIL_VAR) or None,
            password=password or env.get(ADMIN_PASSWORD_VAR) or None,
        )

    @property
    def complete(self) -> bool:
        return self.email is not None and self.password is not None


@dataclass(frozen=True)
class NewAccount:
    email: str
    role: str
    password: str = field(repr=False)  # what is printed: the password, or where it comes from


def _error_of(response: httpx.Response) -> str:
    """`CODE: message` of an error envelope, else the status line."""
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.reason_phrase}"


def _data(response: httpx.Response) -> Any:
    if not response.is_success:
        request = response.request
        raise SeedError(
            f"{request.method} {request.url.path} answered {response.status_code}"
            f" ({_error_of(response)})"
        )
    return response.json()["data"]


def _log_in(client: httpx.Client, admin: AdminLogin) -> str:
    """The administrator's bearer token."""
    if not admin.complete:
        raise SeedError(
            f"The gateway at {client.base_url} has authentication on (GET /users answers 401):"
            f" set {ADMIN_EMAIL_VAR} and {ADMIN_PASSWORD_VAR} (the administrator init_db"
            " created) and run the seed again"
        )
    response = client.post("/auth/login", json={"email": admin.email, "password": admin.password})
    if response.status_code == 401:
        raise SeedError(
            f"The gateway refused the administrator's login ({_error_of(response)}): no user"
            f" {admin.email} has {ADMIN_PASSWORD_VAR} as password. Either no user has that"
            f" email (start the stack with {ADMIN_EMAIL_VAR} and {ADMIN_PASSWORD_VAR} set,"
            " and it creates that administrator), or it exists with another password: an"
            " earlier `make seed` with auth off created it with a random password, printed"
            " once. Run again with that password, or give it yours with"
            " `make run RUN_ARGS=--reset-admin-password` (the start of `make run` says which"
            " case it is)"
        )
    if response.status_code == 429:
        retry = response.headers.get("Retry-After", "a few")
        raise SeedError(f"Too many logins ({_error_of(response)}): retry in {retry} s")
    token = _data(response)
    if "admin" not in token["user"]["roles"]:
        raise SeedError(
            f"{admin.email} is no administrator (roles {token['user']['roles']}): only an"
            " administrator can create users"
        )
    return token["access_token"]


def _personas(admin: AdminLogin) -> list[tuple[str, str, list[str], bool]]:
    """(email, name, roles, with orders?) of every persona, the administrator first."""
    email, name, roles = ADMIN
    return [(admin.email or email, name, roles, False)] + [
        (email, name, roles, True) for email, name, roles in PEOPLE
    ]


def _create_user(
    client: httpx.Client, email: str, name: str, roles: list[str], password: str
) -> dict | None:
    """The new user, or None when someone has that email already."""
    body = {"email": email, "name": name, "roles": roles, "password": password}
    response = client.post("/users", json=body)
    if response.status_code == 409 and "EMAIL_EXISTS" in _error_of(response):
        return None  # beyond the first page of users, or created meanwhile
    return _data(response)


def _add_orders(client: httpx.Client, user_id: str) -> None:
    today = datetime.now(UTC).date()
    for items, status, due_in in ORDERS:
        lines = [{"product": p, "quantity": q, "price": price} for p, q, price in items]
        due = None if due_in is None else (today + timedelta(days=due_in)).isoformat()
        body = {"user_id": user_id, "items": lines, "due_date": due}
        order = _data(client.post("/orders", json=body))
        for step in WALKS[status]:
            _data(client.put(f"/orders/{order['id']}", json={"status": step}))


def credentials_table(accounts: list[NewAccount]) -> str:
    """The new accounts' credentials, as printed once."""
    rows = [("email", "role", "password")] + [(a.email, a.role, a.password) for a in accounts]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    lines = [
        "Demo credentials: printed only this once, stored nowhere (keep them if you need them):"
    ]
    for email, role, password in rows:
        lines.append(f"  {email:<{widths[0]}}  {role:<{widths[1]}}  {password}")
    return "\n".join(lines)


def seed(gateway_url: str, admin: AdminLogin | None = None) -> int:
    """Create whoever is missing, each newcomer but the administrator with one order in every
    status, and print the newcomers' passwords. The number of users created."""
    admin = admin if admin is not None else AdminLogin.from_env(os.environ)
    new: list[NewAccount] = []
    kept: list[str] = []
    orders = 0
    try:
        with httpx.Client(base_url=gateway_url, timeout=10) as client:
            listing = client.get("/users", params={"limit": 1000})
            if listing.status_code == 401:
                client.headers["Authorization"] = f"Bearer {_log_in(client, admin)}"
                listing = client.get("/users", params={"limit": 1000})
            existing = {user["email"].casefold() for user in _data(listing)}
            for email, name, roles, with_orders in _personas(admin):
                if email.casefold() in existing:
                    kept.append(email)
                    continue
                if admin.password is not None and email == admin.email:
                    # What init_db would have given it: never another password.
                    password, shown = admin.password, f"(your {ADMIN_PASSWORD_VAR})"
                else:
                    password = shown = secrets.token_urlsafe(PASSWORD_BYTES)
                user = _create_user(client, email, name, roles, password)
                if user is None:
                    kept.append(email)
                    continue
                new.append(NewAccount(user["email"], ",".join(roles), shown))
                if with_orders:
                    _add_orders(client, user["id"])
                    orders += len(ORDERS)
    finally:
        # Even when a later step failed: these accounts exist now, and nothing else knows
        # their passwords.
        if new:
            print(credentials_table(new), flush=True)
    if new:
        if kept:
            print(f"Already there, left as they are: {', '.join(kept)}", flush=True)
        print(f"Seeded {len(new)} new user(s) with {orders} order(s).", flush=True)
    else:
        print(
            "Seeded 0 new user(s) with 0 order(s): every demo account exists already and is"
            " left as it is (a password is printed only when its account is created).",
            flush=True,
        )
    return len(new)


def local_url(host: str, port: int | str) -> str:
    """Where a client on this machine reaches a server listening on `host`."""
    if host in {"", "0.0.0.0", "::"}:  # every address: loopback is one of them
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def gateway_url(env: Mapping[str, str]) -> str:
    return local_url(env.get("GATEWAY_HOST", "127.0.0.1"), env.get("GATEWAY_PORT", "8000"))


def main(argv: list[str] | None = None) -> int:
    default = gateway_url(os.environ)
    parser = argparse.ArgumentParser(
        prog="python -m stack.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("url", nargs="?", default=default, help=f"the gateway (default {default})")
    parser.add_argument(
        "--admin-email", help=f"the administrator, when auth is on (default ${ADMIN_EMAIL_VAR})"
    )
    parser.add_argument(
        "--admin-password",
        help=f"its password (default ${ADMIN_PASSWORD_VAR}; the variable keeps it out of ps)",
    )
    args = parser.parse_args(argv)
    admin = AdminLogin.from_env(os.environ, args.admin_email, args.admin_password)
    try:
        seed(args.url, admin)
    except httpx.TransportError as exc:
        print(
            f"No gateway answers at {args.url} ({exc}). Is `make run` running? "
            "If it listens elsewhere, set GATEWAY_PORT (and GATEWAY_HOST) as for `make run`.",
            file=sys.stderr,
        )
        return 1
    except SeedError as exc:
        print(f"stack.seed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
