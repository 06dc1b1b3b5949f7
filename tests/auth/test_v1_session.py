"""A client of the original API's later version, replayed on real processes, auth on.

It knows only its base URL and that version's facts: `/health` with a top-level
`status`, self-registration, a login answering `{token, user}`, its profile, its own
orders with numbered pages and `processing`, a status change, its figures, and the
limits (10 registrations or logins a minute per address, 20 creates and 100 requests a
minute per user). Every step must get the status and the fields that client expects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import PASSWORD, another_gateway, create_account
from tests.support.envelope import data_of, error_of
from tests.support.procs import RunningProcess

pytestmark = pytest.mark.slow  # a whole client session, step by step, over its own stack

Services = tuple[RunningProcess, RunningProcess]


def item(price: str, quantity: int = 1) -> dict[str, object]:
    return {"product": "Арматура A500C", "quantity": quantity, "price": price}


@pytest.fixture(scope="module")
def legacy_gateway(auth_services: Services, logs_dir: Path) -> Iterator[RunningProcess]:
    """A gateway with the published limits (the auth stack's logins are unlimited)."""
    with another_gateway(
        auth_services, logs_dir, "v1", GATEWAY_LOGIN_RATE_LIMIT="10/minute"
    ) as gateway:
        yield gateway


def register(http: httpx.Client, email: str, password: str = "legacy pass 1") -> httpx.Response:
    return http.post(
        "/v1/users/register", json={"email": email, "password": password, "name": "Legacy Client"}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_legacy_client_runs_its_whole_session(
    legacy_gateway: RunningProcess, auth_services: Services
):
    users, _ = auth_services
    admin = create_account(users.url, "admin", PASSWORD)
    email = f"legacy-{uuid.uuid4().hex[:8]}@client.example"
    with httpx.Client(base_url=legacy_gateway.url, timeout=10) as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "OK" == health.json()["data"]["status"]

        created = data_of(register(http, email), 201)
        assert created["email"] == email
        assert created["roles"] == ["user"]
        assert "password" not in created
        assert "password_hash" not in created
        error_of(register(http, email), 409, "EMAIL_EXISTS")

        error_of(
            http.post("/v1/users/login", json={"email": email, "password": "nope"}),
            401,
            "INVALID_CREDENTIALS",
        )
        login = http.post("/v1/users/login", json={"email": email, "password": "legacy pass 1"})
        session = data_of(login)
        assert set(session) == {"token", "user"}
        assert session["user"]["id"] == created["id"]
        assert login.headers["cache-control"] == "no-store"
        me = bearer(session["token"])

        error_of(http.get("/v1/users/profile"), 401, "UNAUTHENTICATED")
        error_of(http.get("/v1/users/profile", headers=bearer("not.a.jwt")), 401, "UNAUTHENTICATED")
        assert data_of(http.get("/v1/users/profile", headers=me))["email"] == email

        orders = []
        for price in ("10.00", "250.50", "999.99"):
            order = data_of(
                http.post("/v1/orders", json={"items": [item(price, 2)]}, headers=me), 201
            )
            assert order["user_id"] == created["id"]
            assert order["status"] == "created"
            orders.append(order)
        assert orders[1]["total_amount"] == "501.00"
        assert data_of(http.get(f"/v1/orders/{orders[0]['id']}", headers=me)) == orders[0]
        error_of(http.get(f"/v1/orders/{uuid.uuid4()}", headers=me), 404, "NOT_FOUND")

        first = http.get("/v1/orders", params={"page": 1, "per_page": 2}, headers=me).json()
        assert [o["id"] for o in first["data"]] == [o["id"] for o in orders[:2]]
        assert first["meta"] == {"page": 1, "per_page": 2, "total": 3, "total_pages": 2}
        second = http.get("/v1/orders", params={"page": 2, "per_page": 2}, headers=me).json()
        assert [o["id"] for o in second["data"]] == [orders[2]["id"]]
        between = {"min_amount": "20.01", "max_amount": "1999.97"}
        middle = data_of(http.get("/v1/orders", params=between, headers=me))
        assert [o["id"] for o in middle] == [orders[1]["id"]]

        # A `user` may not change a status (the roles table); an administrator may.
        status_path = f"/v1/orders/{orders[0]['id']}/status"
        error_of(http.put(status_path, json={"status": "processing"}, headers=me), 403, "FORBIDDEN")
        admin_token = data_of(
            http.post("/v1/users/login", json={"email": admin["email"], "password": PASSWORD})
        )["token"]
        changed = data_of(
            http.put(status_path, json={"status": "processing"}, headers=bearer(admin_token))
        )
        assert changed["status"] == "processing"
        processing = data_of(http.get("/v1/orders", params={"status": "processing"}, headers=me))
        assert [o["id"] for o in processing] == [orders[0]["id"]]
        assert (
            data_of(http.get(f"/v1/orders/{orders[0]['id']}", headers=me))["status"] == "processing"
        )

        mine = data_of(http.get("/v1/orders/my-stats", headers=me))
        assert mine["count"] == 3
        assert mine["total_amount"] == "2520.98"
        by_status = {s["status"]: s["count"] for s in mine["by_status"]}
        assert by_status == {"created": 2, "processing": 1, "completed": 0, "cancelled": 0}
        error_of(http.get("/v1/orders/stats", headers=me), 403, "FORBIDDEN")
        everything = data_of(http.get("/v1/orders/stats", headers=bearer(admin_token)))
        assert everything["count"] >= 3
        error_of(http.get("/v1/users", headers=me), 403, "FORBIDDEN")
        people = http.get("/v1/users", params={"per_page": 1}, headers=bearer(admin_token)).json()
        assert len(people["data"]) == 1
        assert people["meta"]["total"] >= 2

        # The limit's step: registrations share the logins' 10 a minute per address.
        statuses = [
            register(http, f"burst-{i}-{uuid.uuid4().hex[:6]}@client.example").status_code
            for i in range(15)
        ]
        assert 429 in statuses, statuses
        assert set(statuses) <= {201, 429}, statuses
        refused = register(http, f"late-{uuid.uuid4().hex[:6]}@client.example")
        error_of(refused, 429, "RATE_LIMITED")
        assert int(refused.headers["retry-after"]) >= 1
