"""Idempotency keys respect the caller: one caller's key never replays another's create."""

from __future__ import annotations

import uuid

import httpx

from tests.auth.conftest import AuthStack, create_account, login

ITEMS = [{"product": "Песок", "quantity": 1, "price": "5.00"}]


def test_the_same_key_from_two_callers_is_two_creates(auth_stack: AuthStack) -> None:
    key = {"idempotency-key": f"order-{uuid.uuid4().hex[:6]}"}
    ids = []
    for _ in range(2):
        engineer = create_account(auth_stack.users.url, "engineer", "engineer password 1")
        token = login(auth_stack.url, engineer["email"], "engineer password 1")
        headers = {"Authorization": f"Bearer {token}", **key}
        body = {"user_id": engineer["id"], "items": ITEMS}
        first = httpx.post(f"{auth_stack.url}/orders", json=body, headers=headers, timeout=10)
        again = httpx.post(f"{auth_stack.url}/orders", json=body, headers=headers, timeout=10)
        assert first.status_code == again.status_code == 201
        assert "idempotent-replayed" not in first.headers  # not the other caller's answer
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["data"]["id"] == first.json()["data"]["id"]
        ids.append(first.json()["data"]["id"])
    assert len(set(ids)) == 2
