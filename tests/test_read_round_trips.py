"""A read is one round trip to the database (apicore.db.reading): no BEGIN before it and
no ROLLBACK after it, on either service. Writes keep their transactions. The commands
are recorded where psycopg sends them (its connection's `_exec_command`, which BEGIN,
COMMIT and ROLLBACK go through; statements go another way)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from psycopg._connection_base import BaseConnection

from tests.support.envelope import data_of


@contextmanager
def commands(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    sent: list[bytes] = []
    real = BaseConnection._exec_command

    def recording(self, command, *args, **kwargs):
        sent.append(bytes(command) if isinstance(command, bytes | bytearray) else b"<sql>")
        return real(self, command, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(BaseConnection, "_exec_command", recording)
        yield sent


async def test_the_orders_services_reads_send_no_transaction_commands(
    orders_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = str(uuid.uuid4())
    body = {"user_id": user, "items": [{"product": "Цемент", "quantity": 1, "price": "1.00"}]}
    with commands(monkeypatch) as sent:
        order = data_of(await orders_client.post("/orders", json=body), 201)
    # A write is a transaction (and the spy sees it). After the pool has set a connection
    # back to its isolation level, psycopg names it: BEGIN ISOLATION LEVEL READ COMMITTED.
    assert [command.split()[0] for command in sent] == [b"BEGIN", b"COMMIT"], sent
    reads = [
        f"/orders/{order['id']}",
        "/orders",
        f"/orders?userIds={user}",
        "/orders/stats",
        f"/orders/stats/by-user?userIds={user}",
        "/orders/stats/daily",
        f"/internal/users/{user}/order-book",
        "/health",
    ]
    for path in reads:
        with commands(monkeypatch) as sent:
            assert (await orders_client.get(path)).status_code == 200, path
        assert sent == [], (path, sent)


async def test_the_users_services_reads_send_no_transaction_commands(
    users_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"email": f"{uuid.uuid4().hex}@example.com", "name": "Читатель"}
    with commands(monkeypatch) as sent:
        user = data_of(await users_client.post("/users", json=body), 201)
    assert [command.split()[0] for command in sent] == [b"BEGIN", b"COMMIT"], sent
    for path in (f"/users/{user['id']}", "/users", f"/users?ids={user['id']}", "/health"):
        with commands(monkeypatch) as sent:
            assert (await users_client.get(path)).status_code == 200, path
        assert sent == [], (path, sent)
