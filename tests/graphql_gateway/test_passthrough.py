"""The plain-form `GET /users/{id}` and `GET /orders/{id}` answered below FastAPI's routing
(graphql_gateway/rest/passthrough.py) answer exactly what the routes answer, and every
other form of the same path still reaches the routes."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.envelope import data_of, error_of
from tests.support.graphql import Gateway
from tests.support.metrics import requests_counted
from tests.support.procs import RunningProcess


async def made(gateway: httpx.AsyncClient) -> tuple[dict, dict]:
    user = data_of(
        await gateway.post("/users", json={"email": "p@example.com", "name": "Passed Through"}),
        201,
    )
    body = {"user_id": user["id"], "items": [{"product": "x", "quantity": 1, "price": 1}]}
    order = data_of(await gateway.post("/orders", json=body), 201)
    return user, order


@pytest.mark.parametrize("kind", ["users", "orders"])
async def test_the_service_answer_comes_back_byte_for_byte(
    gateway_app: Gateway,
    users_process: RunningProcess,
    orders_process: RunningProcess,
    kind: str,
) -> None:
    gateway, app = gateway_app
    user, order = await made(gateway)
    resource = user if kind == "users" else order
    service = users_process if kind == "users" else orders_process
    path = f"/{kind}/{resource['id']}"
    calls = getattr(app.state.clients, kind).calls

    through = await gateway.get(path)
    async with httpx.AsyncClient(base_url=service.url) as direct_client:
        direct = await direct_client.get(path)
    assert through.status_code == direct.status_code == 200
    assert through.content == direct.content
    assert through.headers["etag"] == direct.headers["etag"]
    assert through.headers["content-type"] == "application/json"
    assert through.headers["x-request-id"]
    assert getattr(app.state.clients, kind).calls == calls + 1

    missing = f"/{kind}/{uuid.uuid4()}"
    error_of(await gateway.get(missing), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("suffix", "status", "code"),
    [
        ("?unknown=1", 400, "VALIDATION_ERROR"),  # a query string: the route checks it
        ("?id=1&id=2", 400, "VALIDATION_ERROR"),
        ("/", 404, "NOT_FOUND"),
        ("%00", 400, "VALIDATION_ERROR"),
        ("x", 400, "VALIDATION_ERROR"),
    ],
)
async def test_other_forms_of_the_path_reach_the_routes(
    gateway_app: Gateway, suffix: str, status: int, code: str
) -> None:
    gateway, _ = gateway_app
    user, _ = await made(gateway)
    response = await gateway.get(f"/users/{user['id']}{suffix}")
    if code is None:
        assert data_of(response, status) == {"id": user["id"]}
    else:
        error_of(response, status, code)


async def test_an_upper_case_id_is_the_same_user(gateway_app: Gateway) -> None:
    gateway, _ = gateway_app
    user, order = await made(gateway)
    assert data_of(await gateway.get(f"/users/{user['id'].upper()}")) == user
    assert data_of(await gateway.get(f"/orders/{order['id'].upper()}")) == order


async def test_a_head_or_another_method_is_not_passed_through(gateway_app: Gateway) -> None:
    gateway, _ = gateway_app
    user, _ = await made(gateway)
    assert (await gateway.post(f"/users/{user['id']}", json={})).status_code == 405


async def test_the_service_down_is_our_envelope(
    users_process: RunningProcess, orders_db_url: str
) -> None:
    from tests.conftest import gateway_for
    from tests.support.procs import free_port

    gone = f"http://127.0.0.1:{free_port()}"
    async with gateway_for(gone, gone) as (gateway, _):
        for kind in ("users", "orders"):
            response = await gateway.get(f"/{kind}/{uuid.uuid4()}")
            error = error_of(response, 503, "SERVICE_UNAVAILABLE")
            assert kind.title() in error["message"]
            assert int(response.headers["retry-after"]) >= 1


async def test_passed_through_requests_are_counted_under_their_route(
    gateway_app: Gateway,
) -> None:
    gateway, _ = gateway_app
    user, _ = await made(gateway)

    async def count() -> float:
        text = (await gateway.get("/metrics")).text
        return requests_counted(text, "/users/{id}", "GET", "200")

    before = await count()
    for _ in range(3):
        await gateway.get(f"/users/{user['id']}")
    assert await count() == before + 3
