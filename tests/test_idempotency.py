"""Idempotency keys on creates: once per key, replayed after, refused when reused or in flight.

Through the gateway (REST and GraphQL) over real service processes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.procs import RunningProcess
from tests.support.services import own_gateway

ITEMS = [{"product": "Цемент", "quantity": 1, "price": "300.00"}]


@pytest.fixture(scope="module")
def gateway_process(pg_server: str, logs_dir: Path) -> Iterator[RunningProcess]:
    """A gateway over services of this module's own: the data it writes stays here."""
    with own_gateway(pg_server, logs_dir, "idempotency") as (gateway, _, _):
        yield gateway


@pytest.fixture
async def http(gateway_process: RunningProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_process.url, timeout=15) as client:
        yield client


async def a_user(http: httpx.AsyncClient) -> str:
    email = f"idem-{uuid.uuid4().hex[:10]}@keys.example"
    response = await http.post("/users", json={"email": email, "name": "Ключ"})
    assert response.status_code == 201
    return response.json()["data"]["id"]


async def orders_of(http: httpx.AsyncClient, user_id: str) -> list[dict]:
    return (await http.get("/orders", params={"userId": user_id})).json()["data"]


async def test_a_repeat_with_its_key_is_the_original_answer(http: httpx.AsyncClient) -> None:
    user_id = await a_user(http)
    key = {"idempotency-key": uuid.uuid4().hex}
    body = {"user_id": user_id, "items": ITEMS}
    first = await http.post("/orders", json=body, headers=key)
    again = await http.post("/orders", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert len(await orders_of(http, user_id)) == 1
    # Without a key, the same body is another order, as it always was.
    assert (await http.post("/orders", json=body)).status_code == 201
    assert len(await orders_of(http, user_id)) == 2


async def test_a_key_used_for_another_request_is_422(http: httpx.AsyncClient) -> None:
    user_id = await a_user(http)
    key = {"idempotency-key": uuid.uuid4().hex}
    assert (
        await http.post("/orders", json={"user_id": user_id, "items": ITEMS}, headers=key)
    ).status_code == 201
    other = {"user_id": user_id, "items": [{**ITEMS[0], "quantity": 2}]}
    reused = await http.post("/orders", json=other, headers=key)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(await orders_of(http, user_id)) == 1


async def test_concurrent_repeats_create_one_order(http: httpx.AsyncClient) -> None:
    user_id = await a_user(http)
    key = {"idempotency-key": uuid.uuid4().hex}
    body = {"user_id": user_id, "items": ITEMS}
    answers = await asyncio.gather(
        *(http.post("/orders", json=body, headers=key) for _ in range(12))
    )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    for answer in answers:
        if answer.status_code == 409:  # the first was still being served
            assert answer.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
            assert answer.headers["retry-after"] == "1"
    ids = {a.json()["data"]["id"] for a in answers if a.status_code == 201}
    assert len(ids) == 1
    assert len(await orders_of(http, user_id)) == 1


@pytest.mark.parametrize(
    "key",
    ["", "a" * 256, "with space", "tab\tkey", "ключ"],
    ids=["empty", "long", "space", "tab", "utf8"],
)
async def test_a_malformed_key_is_400_before_anything(http: httpx.AsyncClient, key: str) -> None:
    user_id = await a_user(http)
    response = await http.post(
        "/orders",
        json={"user_id": user_id, "items": ITEMS},
        headers={b"idempotency-key": key.encode()},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await orders_of(http, user_id) == []


async def test_users_and_graphql_creates_take_keys_too(http: httpx.AsyncClient) -> None:
    key = {"idempotency-key": uuid.uuid4().hex}
    email = f"idem-{uuid.uuid4().hex[:10]}@keys.example"
    first = await http.post("/users", json={"email": email, "name": "Один"}, headers=key)
    again = await http.post("/users", json={"email": email, "name": "Один"}, headers=key)
    assert first.status_code == again.status_code == 201  # not 409 EMAIL_EXISTS
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    user_id = first.json()["data"]["id"]
    mutation = (
        "mutation($u: UUID!, $k: String) { createOrder(input: {userId: $u, items: "
        '[{product: "Цемент", quantity: 1, price: "300.00"}]}, idempotencyKey: $k) { id } }'
    )
    variables = {"u": user_id, "k": uuid.uuid4().hex}
    made = [
        (await http.post("/graphql", json={"query": mutation, "variables": variables})).json()
        for _ in range(2)
    ]
    assert made[0]["data"]["createOrder"]["id"] == made[1]["data"]["createOrder"]["id"]
    assert len(await orders_of(http, user_id)) == 1
