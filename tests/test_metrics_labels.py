"""`http_requests_total` labels a request with the route it was for, whoever answered it.

A 401 from the front door, a 403 of the roles policy, a static file and a 405 are
labelled with their route's template (one label, `/static/{path}`, for every file);
only a path no route has is `<unmatched>`. The gateway runs in process, auth on: none
of these requests reaches a service but the 403's (its caller logs in, and the front door
checks the session with the users service).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from apicore.metrics import UNMATCHED
from graphql_gateway.app import create_app
from graphql_gateway.auth.tokens import TokenService
from graphql_gateway.clients import Clients
from graphql_gateway.config import Settings
from tests.conftest import gateway_for
from tests.support.metrics import requests_counted
from tests.support.procs import ROOT, RunningProcess

NOWHERE = "http://127.0.0.1:9"  # never called: every request here is answered before
SECRET = "metrics-" + "x" * 40
PASSWORD = "labels password 1"


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, TokenService]]:
    settings = Settings(auth="on", jwt_secret=SECRET, users_url=NOWHERE, orders_url=NOWHERE)
    app = create_app(settings)
    app.state.clients = Clients.from_settings(settings)  # as the lifespan does
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http, TokenService(settings)
    finally:
        await app.state.clients.aclose()


def counted(route: str, method: str, status: str) -> float:
    return requests_counted(generate_latest().decode(), route, method, status)


async def _labelled(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    route: str,
    status: int,
    headers: dict[str, str] | None = None,
) -> None:
    before = counted(route, method, str(status))
    response = await http.request(method, url, headers=headers)
    assert response.status_code == status, response.text
    assert counted(route, method, str(status)) == before + 1


async def test_401s_carry_their_route(client: tuple[httpx.AsyncClient, TokenService]) -> None:
    http, _ = client
    await _labelled(http, "GET", "/orders", "/orders", 401)
    await _labelled(http, "GET", f"/users/{uuid.uuid4()}", "/users/{id}", 401)
    await _labelled(http, "GET", "/orders/not-even-a-uuid", "/orders/{id}", 401)
    await _labelled(http, "PATCH", f"/orders/{uuid.uuid4()}", "/orders/{id}", 401)
    bad = {"Authorization": "Bearer not.a.token"}
    await _labelled(http, "GET", "/users", "/users", 401, headers=bad)


async def test_a_403_carries_its_route(users_process: RunningProcess) -> None:
    email = f"labels-{uuid.uuid4().hex[:10]}@metrics.example"
    async with httpx.AsyncClient(base_url=users_process.url, timeout=10) as users:
        made = await users.post(
            "/users",
            json={"email": email, "name": "Метрика", "roles": ["user"], "password": PASSWORD},
        )
        assert made.status_code == 201, made.text
    settings = {"auth": "on", "jwt_secret": SECRET}
    async with gateway_for(users_process.url, NOWHERE, **settings) as (http, _):
        login = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
        path = f"/users/{uuid.uuid4()}"
        await _labelled(http, "DELETE", path, "/users/{id}", 403, headers=headers)


async def test_static_files_share_one_label(
    client: tuple[httpx.AsyncClient, TokenService],
) -> None:
    http, _ = client
    await _labelled(http, "GET", "/static/pages/playground.js", "/static/{path}", 200)
    await _labelled(http, "GET", "/static/pages/swagger-ui.js", "/static/{path}", 200)
    await _labelled(http, "GET", "/static/no-such-file.js", "/static/{path}", 404)


async def test_only_unknown_paths_are_unmatched(
    client: tuple[httpx.AsyncClient, TokenService],
) -> None:
    http, _ = client
    await _labelled(http, "GET", "/no-such-route", UNMATCHED, 401)
    await _labelled(http, "GET", "/users/a/b/c", UNMATCHED, 401)
    await _labelled(http, "GET", "/openapi.json", "/openapi.json", 200)


def test_the_docs_say_what_these_labels_are() -> None:
    page = (Path(ROOT) / "docs" / "operations.md").read_text(encoding="utf-8")
    assert '`GET /orders` is `route="/orders"`' in page
    assert '`route="/static/{path}"`' in page
    assert f"is `{UNMATCHED}`" in page
