"""The /v1 routes exist only with authentication on (graphql_gateway/rest/v1/): a gateway
with auth on over the same services, and an administrator's token to call it with."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import PASSWORD, SECRET
from tests.support.procs import RunningProcess, running

UNLIMITED = "1000000/minute"  # the limits have tests of their own (tests/auth/test_v1_*)


@dataclass
class V1Gateway:
    url: str
    headers: dict[str, str]  # an administrator's bearer token


@pytest.fixture(scope="module")
def v1_gateway(
    users_process: RunningProcess, orders_process: RunningProcess, logs_dir: Path
) -> Iterator[V1Gateway]:
    env = {
        "GATEWAY_USERS_URL": users_process.url,
        "GATEWAY_ORDERS_URL": orders_process.url,
        "GATEWAY_AUTH": "on",
        "GATEWAY_JWT_SECRET": SECRET,
        "GATEWAY_LOGIN_RATE_LIMIT": UNLIMITED,
        "GATEWAY_V1_RATE_LIMIT": UNLIMITED,
        "GATEWAY_V1_CREATE_RATE_LIMIT": UNLIMITED,
    }
    log = str(logs_dir / "gateway-hostile-v1.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as gateway:
        email = f"hostile-admin-{uuid.uuid4().hex[:8]}@example.com"
        account = {"email": email, "name": "Admin", "roles": ["admin"], "password": PASSWORD}
        created = httpx.post(f"{users_process.url}/users", json=account, timeout=10)
        assert created.status_code == 201, created.text
        login = httpx.post(
            f"{gateway.url}/v1/users/login",
            json={"email": email, "password": PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        token = login.json()["data"]["token"]
        yield V1Gateway(gateway.url, {"Authorization": f"Bearer {token}"})
