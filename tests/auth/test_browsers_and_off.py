"""Browsers (CORS, CSRF), GATEWAY_AUTH=off, and what scoping costs in downstream calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import AuthStack, another_gateway
from tests.support.procs import RunningProcess

Services = tuple[RunningProcess, RunningProcess]
DASHBOARD = "https://dashboards.example"


@pytest.fixture(scope="module")
def cors_gateway(auth_services: Services, logs_dir: Path) -> Iterator[RunningProcess]:
    origins = f"{DASHBOARD}, https://other.example"
    with another_gateway(auth_services, logs_dir, "cors", GATEWAY_CORS_ORIGINS=origins) as gateway:
        yield gateway


def preflight(
    url: str, origin: str, method: str = "POST", headers: str = "authorization, content-type"
) -> httpx.Response:
    return httpx.options(
        f"{url}/graphql",
        headers={
            "origin": origin,
            "access-control-request-method": method,
            "access-control-request-headers": headers,
        },
        timeout=10,
    )


@pytest.mark.slow
def test_a_preflight_from_an_allowed_origin_is_answered(cors_gateway: RunningProcess) -> None:
    response = preflight(cors_gateway.url, DASHBOARD)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type"} <= allowed
    assert "access-control-allow-credentials" not in response.headers  # tokens, not cookies


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("https://evil.example", "POST", "authorization"),
        (DASHBOARD, "PATCH", "authorization"),
        (DASHBOARD, "POST", "x-custom-header"),
    ],
)
def test_a_refused_preflight_is_400_in_our_envelope(
    cors_gateway: RunningProcess, origin: str, method: str, headers: str
) -> None:
    response = preflight(cors_gateway.url, origin, method, headers)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "BAD_REQUEST"
    assert "access-control-allow-origin" not in response.headers or origin == DASHBOARD


@pytest.mark.slow
def test_errors_carry_cors_headers_so_a_browser_can_read_them(
    cors_gateway: RunningProcess, auth_stack: AuthStack
) -> None:
    refused = httpx.get(f"{cors_gateway.url}/users", headers={"origin": DASHBOARD}, timeout=10)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == DASHBOARD
    exposed = refused.headers["access-control-expose-headers"].lower()
    assert "www-authenticate" in exposed
    assert "retry-after" in exposed
    served = httpx.get(
        f"{cors_gateway.url}/users",
        headers={"origin": DASHBOARD, **auth_stack.accounts["director"].headers},
        timeout=10,
    )
    assert served.status_code == 200
    assert served.headers["access-control-allow-origin"] == DASHBOARD
    stranger = httpx.get(
        f"{cors_gateway.url}/health", headers={"origin": "https://evil.example"}, timeout=10
    )
    assert "access-control-allow-origin" not in stranger.headers


def test_no_cors_unless_origins_are_configured(auth_stack: AuthStack) -> None:
    response = preflight(auth_stack.url, DASHBOARD)
    assert "access-control-allow-origin" not in response.headers
    get = httpx.get(f"{auth_stack.url}/health", headers={"origin": DASHBOARD}, timeout=10)
    assert "access-control-allow-origin" not in get.headers


def work_calls(url: str) -> dict[str, int]:
    """Downstream calls but the front door's session checks (at most one a second per
    session: graphql_gateway/auth/sessions.py), which /status counts apart too."""
    data = httpx.get(f"{url}/status", timeout=10).json()["data"]
    calls = dict(data["downstream_calls"])
    calls["users_service"] -= data["session_checks"]
    return calls


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
@pytest.mark.parametrize("auth", ["on", "off"])
def test_graphql_refuses_what_a_form_can_send_cross_site(
    auth_stack: AuthStack, gateway_process: RunningProcess, content_type: str, auth: str
) -> None:
    url = auth_stack.url if auth == "on" else gateway_process.url
    headers = {"content-type": content_type, **auth_stack.accounts["admin"].headers}
    mutation = (
        b'{"query": "mutation { deleteOrder(id: \\"00000000-0000-0000-0000-000000000000\\") }"}'
    )
    before = work_calls(url)
    response = httpx.post(f"{url}/graphql", content=mutation, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "cross-site" in response.json()["errors"][0]["message"]
    assert work_calls(url) == before


# ------------------------------------------------------------------ auth off


def test_off_is_open_and_says_so(gateway_process: RunningProcess, logs_dir: Path) -> None:
    assert httpx.get(f"{gateway_process.url}/users", timeout=10).status_code == 200
    login = httpx.post(
        f"{gateway_process.url}/auth/login",
        json={"email": "a@b.example", "password": "whatever"},
        timeout=10,
    )
    assert login.status_code == 404
    assert "GATEWAY_AUTH=off" in login.json()["error"]["message"]
    assert httpx.get(f"{gateway_process.url}/auth/me", timeout=10).status_code == 404
    me = httpx.post(f"{gateway_process.url}/graphql", json={"query": "{ me { id } }"}, timeout=10)
    assert me.json() == {"data": {"me": None}}
    logs = [p.read_text() for p in logs_dir.glob("gateway-test_browsers_and_off.log")]
    assert logs
    assert logs[0].count("Authentication is off (GATEWAY_AUTH=off)") == 1


def test_health_is_unchanged_without_redis(gateway_process: RunningProcess) -> None:
    data = httpx.get(f"{gateway_process.url}/health", timeout=10).json()["data"]
    assert list(data) == ["status", "service", "timestamp", "circuit_breakers"]


# ------------------------------------------------------------------ what scoping costs


def calls(stack: AuthStack) -> tuple[int, int]:
    counts = work_calls(stack.url)
    return counts["users_service"], counts["orders_service"]


@pytest.mark.parametrize("role", ["manager", "customer"])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ users(limit: 100) { items { id orders { id status } } total } }", (1, 1)),
        ("{ orders(limit: 100) { items { id user { id name } } total } }", (1, 1)),
        ("{ me { id orders { id user { id orders { id } } } } }", (1, 1)),
    ],
)
def test_scoping_costs_no_downstream_call(
    auth_stack: AuthStack, role: str, query: str, expected: tuple[int, int]
) -> None:
    account = auth_stack.accounts[role]
    for owner in (account, auth_stack.accounts["engineer"]):  # theirs, and someone else's
        order = {"user_id": owner.id, "items": [{"product": "Щебень", "quantity": 1, "price": 1}]}
        created = httpx.post(f"{auth_stack.orders.url}/orders", json=order, timeout=10)
        assert created.status_code == 201
    before = calls(auth_stack)
    response = httpx.post(
        f"{auth_stack.url}/graphql", json={"query": query}, headers=account.headers, timeout=10
    )
    after = calls(auth_stack)
    body = response.json()
    assert "errors" not in body, body
    assert (after[0] - before[0], after[1] - before[1]) == expected
    assert '"id"' in response.text
    if role == "customer":
        text = response.text
        others = [a.id for r, a in auth_stack.accounts.items() if r != "customer"]
        assert all(other not in text for other in others)
