"""A system with authentication on, on its own databases and processes.

The users and orders services run as real processes over databases of their own (no
other test truncates them); the gateway runs as `python -m graphql_gateway` with
GATEWAY_AUTH=on. Every persona of the roles table has an account with a password,
created on the users service directly (as `init_db` and an administrator would), and
logs in through the gateway as a client does.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.procs import RunningProcess, running
from tests.support.services import own_services

SECRET = "test-secret-" + "x" * 40
# The gateway names the acting user to the orders service with it (service_orders/acting.py).
SERVICE_TOKEN = "test-service-token-" + "s" * 32
PASSWORD = "persona password 1"
PERSONAS = ("admin", "manager", "engineer", "director", "customer", "user")


@dataclass
class Account:
    role: str
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def session_id(self) -> str:
        """The login's session, as its token names it (`sid`)."""
        return jwt.decode(self.token, options={"verify_signature": False})["sid"]


@dataclass
class AuthStack:
    users: RunningProcess
    orders: RunningProcess
    gateway: RunningProcess
    accounts: dict[str, Account]

    @property
    def url(self) -> str:
        return self.gateway.url


def auth_env(users: RunningProcess, orders: RunningProcess, **overrides: str) -> dict[str, str]:
    return {
        "GATEWAY_USERS_URL": users.url,
        "GATEWAY_ORDERS_URL": orders.url,
        "GATEWAY_AUTH": "on",
        "GATEWAY_JWT_SECRET": SECRET,
        "GATEWAY_LOGIN_RATE_LIMIT": "1000/minute",
        "GATEWAY_SERVICE_TOKEN": SERVICE_TOKEN,
        **overrides,
    }


def create_account(users_url: str, role: str, password: str | None = None) -> dict:
    """A user (with a password if given), made on the users service itself (internal)."""
    email = f"{role}-{uuid.uuid4().hex[:10]}@auth.example"
    body = {"email": email, "name": f"{role.title()} Persona", "roles": [role]}
    if password is not None:
        body["password"] = password
    response = httpx.post(f"{users_url}/users", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def login(gateway_url: str, email: str, password: str = PASSWORD) -> str:
    response = httpx.post(
        f"{gateway_url}/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["access_token"]


@pytest.fixture(scope="session")
def auth_services(
    pg_server: str, logs_dir: Path
) -> Iterator[tuple[RunningProcess, RunningProcess]]:
    with own_services(pg_server, logs_dir, "auth", gateway_token=SERVICE_TOKEN) as services:
        yield services


@contextmanager
def another_gateway(
    services: tuple[RunningProcess, RunningProcess], logs_dir: Path, name: str, **env: str
) -> Iterator[RunningProcess]:
    """One more gateway over the auth services, with these GATEWAY_* settings on top."""
    users, orders = services
    settings = auth_env(users, orders, **env)
    log = str(logs_dir / f"auth-gateway-{name}.log")
    with running("graphql_gateway", "GATEWAY_", settings, log_path=log) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def auth_stack(
    auth_services: tuple[RunningProcess, RunningProcess], logs_dir: Path
) -> Iterator[AuthStack]:
    users, orders = auth_services
    # The personas' access tokens are made once and used by every test of the run: they
    # must outlive it (the default, 300 s, is tested on gateways of its own).
    env = auth_env(users, orders, GATEWAY_JWT_TTL="3600")
    log = str(logs_dir / "auth-gateway.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as gateway:
        accounts = {}
        for role in PERSONAS:
            user = create_account(users.url, role, PASSWORD)
            token = login(gateway.url, user["email"])
            accounts[role] = Account(role, user["id"], user["email"], token)
        yield AuthStack(users, orders, gateway, accounts)


@pytest.fixture
def unique() -> str:
    return secrets.token_hex(4)
