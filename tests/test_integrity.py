"""No order for a deleted user, however the requests race or the processes die (issue: orphans).

Real processes on databases of their own: both services and a gateway. The order book
(service_orders/books.py) and the delete saga (graphql_gateway/integrity.py) are what
these tests hold to account.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.procs import RunningProcess, free_port, running
from tests.support.proxy import Forward, Proxy
from tests.support.services import own_services

pytestmark = pytest.mark.slow  # processes and databases of its own, killed mid-request

ITEMS = [{"product": "Арматура", "quantity": 2, "price": "10.00"}]
TRIES = int(os.environ.get("INTEGRITY_TRIES", "1000"))  # each API; the goal is 1,000
IN_PARALLEL = 8


@pytest.fixture(scope="module")
def services(pg_server: str, logs_dir: Path) -> Iterator[tuple[RunningProcess, RunningProcess]]:
    with own_services(pg_server, logs_dir, "integrity", pool=5, access_log=False) as pair:
        yield pair


@pytest.fixture(scope="module")
def gateway(
    services: tuple[RunningProcess, RunningProcess], logs_dir: Path
) -> Iterator[RunningProcess]:
    users, orders = services
    env = {
        "GATEWAY_USERS_URL": users.url,
        "GATEWAY_ORDERS_URL": orders.url,
        "GATEWAY_ACCESS_LOG": "0",
        "GATEWAY_DELETE_STALE_AFTER": "1",
    }
    log = str(logs_dir / "integrity-gateway.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as process:
        yield process


async def new_user(client: httpx.AsyncClient, users: RunningProcess) -> str:
    email = f"race-{uuid.uuid4().hex[:12]}@integrity.example"
    response = await client.post(f"{users.url}/users", json={"email": email, "name": "Гонка"})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def rest_delete(client: httpx.AsyncClient, url: str, user_id: str) -> int:
    return (await client.delete(f"{url}/users/{user_id}")).status_code


async def rest_create(client: httpx.AsyncClient, url: str, user_id: str) -> int:
    response = await client.post(f"{url}/orders", json={"user_id": user_id, "items": ITEMS})
    return response.status_code


async def graphql_delete(client: httpx.AsyncClient, url: str, user_id: str) -> int:
    query = f'mutation {{ deleteUser(id: "{user_id}") }}'
    body = (await client.post(f"{url}/graphql", json={"query": query})).json()
    return 200 if body.get("data") else 409


async def graphql_create(client: httpx.AsyncClient, url: str, user_id: str) -> int:
    query = (
        f'mutation {{ createOrder(input: {{userId: "{user_id}", items: '
        '[{product: "Арматура", quantity: 2, price: "10.00"}]}) { id } }'
    )
    body = (await client.post(f"{url}/graphql", json={"query": query})).json()
    return 201 if body.get("data") else 422


async def race(
    client: httpx.AsyncClient,
    gateway: RunningProcess,
    users: RunningProcess,
    n: int,
    api: str,
) -> tuple[str, int, int]:
    """One try: a new user, then its delete and an order for it 2 ms apart, either first."""
    user_id = await new_user(client, users)
    delete, create = (
        (rest_delete, rest_create) if api == "rest" else (graphql_delete, graphql_create)
    )

    async def later(call, delay: float) -> int:
        await asyncio.sleep(delay)
        return await call(client, gateway.url, user_id)

    first_delete = n % 2 == 0
    deleted, created = await asyncio.gather(
        later(delete, 0 if first_delete else 0.002), later(create, 0.002 if first_delete else 0)
    )
    return user_id, deleted, created


@pytest.mark.parametrize("api", ["rest", "graphql"])
async def test_no_order_outlives_its_user_in_racing_tries(
    gateway: RunningProcess, services: tuple[RunningProcess, RunningProcess], api: str
) -> None:
    users, orders = services
    limits = httpx.Limits(max_connections=2 * IN_PARALLEL + 4)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        slots = asyncio.Semaphore(IN_PARALLEL)

        async def one(n: int) -> tuple[str, int, int]:
            async with slots:
                return await race(client, gateway, users, n, api)

        results = await asyncio.gather(*(one(n) for n in range(TRIES)))
        deleted = [user_id for user_id, d, _ in results if d == 200]
        # Every deleted user's orders, asked of the orders service itself, 500 ids a call.
        orphans = []
        for start in range(0, len(deleted), 500):
            chunk = ",".join(deleted[start : start + 500])
            response = await client.get(f"{orders.url}/orders", params={"userIds": chunk})
            orphans += response.json()["data"]
    outcomes = {(d, c) for _, d, c in results}
    print(
        f"{api}: {TRIES} tries in {time.monotonic() - started:.1f} s; outcomes "
        f"(delete, create) {sorted(outcomes)}; deleted {len(deleted)}; orphans {len(orphans)}"
    )
    assert orphans == []
    # Both orders of events happened: some deletes won, some orders did.
    assert (200, 422) in outcomes
    assert (409, 201) in outcomes
    assert outcomes <= {(200, 422), (409, 201)}


class OnDelete(Proxy):
    """In front of a users service: forwards everything, but a DELETE (the saga's second
    step) either kills the service (SIGKILL) and drops the connection (`kill`), or is
    done and answered only after `late` seconds, past the gateway's timeout."""

    def __init__(self, victim: RunningProcess, *, kill: bool = False, late: float = 0) -> None:
        super().__init__(victim.url, self._on_delete)
        self.victim = victim
        self.kill = kill
        self.late = late
        self.killed = False

    async def _on_delete(self, method: str, target: str, forward: Forward) -> bytes | None:
        if method != "DELETE":
            return await forward()
        if self.kill:
            self.killed = True
            self.victim.process.send_signal(signal.SIGKILL)
            self.victim.process.wait(10)
            return None
        answer = await forward()
        await asyncio.sleep(self.late)
        return answer


async def test_a_users_service_killed_mid_delete_leaves_nothing_half_done(
    services: tuple[RunningProcess, RunningProcess], logs_dir: Path, gateway: RunningProcess
) -> None:
    gateway_of_module = gateway
    users, orders = services
    env = {"USERS_DATABASE_URL": users.env["USERS_DATABASE_URL"]}
    log = str(logs_dir / "victim-users.log")
    with running("service_users", "USERS_", env, log_path=log) as victim:
        async with OnDelete(victim, kill=True) as proxy:
            gateway_env = {
                "GATEWAY_USERS_URL": proxy.url,
                "GATEWAY_ORDERS_URL": orders.url,
                # Its /health probes the proxy, which this test's loop serves: it is blocked
                # while `running` waits for /health, so don't wait on the probe for long.
                "GATEWAY_HEALTH_PROBE_TIMEOUT": "0.1",
            }
            glog = str(logs_dir / "integrity-kill-gateway.log")
            with running("graphql_gateway", "GATEWAY_", gateway_env, log_path=glog) as gateway:
                async with httpx.AsyncClient(timeout=10) as client:
                    user_id = await new_user(client, users)
                    response = await client.delete(f"{gateway.url}/users/{user_id}")
                    assert proxy.killed  # the book was closed; the service died on the delete
                    assert response.status_code in (502, 503)
                    # Whether the user was deleted cannot be told (its service is dead): the
                    # book stays closed, and the user is still there.
                    state = await client.get(f"{orders.url}/internal/users/{user_id}/order-book")
                    assert state.json()["data"]["closed"] is True
                    still = await client.get(f"{users.url}/users/{user_id}")
                    assert still.status_code == 200
    # Finished by the next order, through a gateway whose users service answers: the book is
    # stale (GATEWAY_DELETE_STALE_AFTER=1), the user exists, so it is reopened.
    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.sleep(1.2)
        assert await rest_create(client, gateway_of_module.url, user_id) == 201


async def test_a_delete_whose_answer_is_lost_keeps_the_book_closed(
    services: tuple[RunningProcess, RunningProcess], logs_dir: Path
) -> None:
    """The users service deletes, but answers after the gateway gave up: the delete
    happened, so the book must stay closed (no order for the deleted user, ever)."""
    users, orders = services
    async with OnDelete(users, late=1.5) as proxy:
        gateway_env = {
            "GATEWAY_USERS_URL": proxy.url,
            "GATEWAY_ORDERS_URL": orders.url,
            "GATEWAY_UPSTREAM_TIMEOUT": "0.5",
            "GATEWAY_HEALTH_PROBE_TIMEOUT": "0.1",
        }
        glog = str(logs_dir / "integrity-late-gateway.log")
        with running("graphql_gateway", "GATEWAY_", gateway_env, log_path=glog) as gateway:
            async with httpx.AsyncClient(timeout=10) as client:
                user_id = await new_user(client, users)
                response = await client.delete(f"{gateway.url}/users/{user_id}")
                await asyncio.sleep(1.5)  # the late answer comes and goes
                state = await client.get(f"{orders.url}/internal/users/{user_id}/order-book")
                gone = await client.get(f"{users.url}/users/{user_id}")
    assert response.status_code == 200, response.text  # it was deleted: the saga says so
    assert response.json()["data"] == {"id": user_id}
    assert gone.status_code == 404
    assert state.json()["data"]["closed"] is True


async def test_a_book_left_closed_by_a_dead_delete_is_reopened_by_the_next_order(
    gateway: RunningProcess, services: tuple[RunningProcess, RunningProcess]
) -> None:
    users, orders = services
    async with httpx.AsyncClient(timeout=10) as client:
        user_id = await new_user(client, users)
        # What a gateway killed after the saga's first step leaves: a closed book, the user.
        closed = await client.post(f"{orders.url}/internal/users/{user_id}/order-book/close")
        assert closed.json()["data"]["closed"] is True
        # While a delete may still be under way, the order is refused...
        assert await rest_create(client, gateway.url, user_id) == 422
        # ...once the book is older than any delete (GATEWAY_DELETE_STALE_AFTER=1), it is
        # reopened and the order goes through; the user was never deleted.
        await asyncio.sleep(1.2)
        assert await rest_create(client, gateway.url, user_id) == 201
        state = await client.get(f"{orders.url}/internal/users/{user_id}/order-book")
        assert state.json()["data"]["closed"] is False


async def test_the_order_book_steps_are_idempotent(
    services: tuple[RunningProcess, RunningProcess],
) -> None:
    users, orders = services
    async with httpx.AsyncClient(timeout=10, base_url=orders.url) as client:
        user_id = await new_user(client, users)
        assert (
            await client.post(f"/internal/users/{user_id}/order-book/reopen")
        ).status_code == 200
        order = await client.post("/orders", json={"user_id": user_id, "items": ITEMS})
        assert order.status_code == 201
        # Active orders: 409, and the book stays open (an order can still be created).
        refused = await client.post(f"/internal/users/{user_id}/order-book/close")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "USER_HAS_ACTIVE_ORDERS"
        assert (
            await client.post("/orders", json={"user_id": user_id, "items": ITEMS})
        ).status_code == 201
        for each in (await client.get("/orders", params={"userId": user_id})).json()["data"]:
            await client.put(f"/orders/{each['id']}", json={"status": "cancelled"})
        first = (await client.post(f"/internal/users/{user_id}/order-book/close")).json()["data"]
        await asyncio.sleep(0.05)
        again = (await client.post(f"/internal/users/{user_id}/order-book/close")).json()["data"]
        assert first["closed"] is again["closed"] is True
        assert again["closed_at"] > first["closed_at"]  # stamped again: the latest delete owns it
        # A stale reopen naming the older close leaves the newer one closed...
        stale = await client.post(
            f"/internal/users/{user_id}/order-book/reopen",
            params={"ifClosedAt": first["closed_at"]},
        )
        assert stale.json()["data"]["closed"] is True
        created = await client.post("/orders", json={"user_id": user_id, "items": ITEMS})
        assert created.status_code == 422
        assert created.json()["error"]["code"] == "USER_NOT_FOUND"
        for _ in range(2):
            reopened = await client.post(f"/internal/users/{user_id}/order-book/reopen")
            assert reopened.json()["data"]["closed"] is False
        assert (
            await client.post("/orders", json={"user_id": user_id, "items": ITEMS})
        ).status_code == 201


async def test_creates_retried_with_their_keys_happen_exactly_once_across_a_kill_9(
    services: tuple[RunningProcess, RunningProcess], logs_dir: Path
) -> None:
    """20 clients, each creating 15 orders with a key each and retrying every failure with
    the same key; the orders service is killed with SIGKILL mid-way and started again."""
    users, orders = services
    env = {"ORDERS_DATABASE_URL": orders.env["ORDERS_DATABASE_URL"], "ORDERS_ACCESS_LOG": "0"}
    port = free_port()
    log = str(logs_dir / "kill9-orders.log")
    victim = running("service_orders", "ORDERS_", env, port=port, log_path=log)
    victim_process = victim.__enter__()
    gateway_env = {
        "GATEWAY_USERS_URL": users.url,
        "GATEWAY_ORDERS_URL": victim_process.url,
        "GATEWAY_BREAKER_RESET_TIMEOUT": "0.5",
        "GATEWAY_ACCESS_LOG": "0",
    }
    glog = str(logs_dir / "kill9-gateway.log")
    failures: list[int] = []
    replays = 0
    try:
        with running("graphql_gateway", "GATEWAY_", gateway_env, log_path=glog) as gateway:
            async with httpx.AsyncClient(timeout=10) as client:
                user_ids = [await new_user(client, users) for _ in range(20)]

                async def create_all(user_id: str) -> None:
                    nonlocal replays
                    for n in range(15):
                        key = f"{user_id}-{n}"
                        body = {
                            "user_id": user_id,
                            "items": [{"product": key, "quantity": 1, "price": "1.00"}],
                        }
                        for _attempt in range(200):  # bounded: about 20 s at most
                            try:
                                response = await client.post(
                                    f"{gateway.url}/orders",
                                    json=body,
                                    headers={"idempotency-key": key},
                                )
                            except httpx.TransportError:
                                await asyncio.sleep(0.1)
                                continue
                            if response.status_code == 201:
                                replays += response.headers.get("idempotent-replayed") == "true"
                                break
                            failures.append(response.status_code)
                            await asyncio.sleep(0.1)
                        else:
                            raise AssertionError(f"{key} never created")

                async def kill_and_restart() -> None:
                    await asyncio.sleep(0.8)
                    victim_process.process.send_signal(signal.SIGKILL)
                    await asyncio.to_thread(victim_process.process.wait, 10)
                    await asyncio.sleep(1.0)
                    again = running("service_orders", "ORDERS_", env, port=port, log_path=log)
                    nonlocal victim
                    victim = again
                    await asyncio.to_thread(again.__enter__)

                await asyncio.gather(kill_and_restart(), *(create_all(u) for u in user_ids))
                found = (
                    await client.get(f"{orders.url}/orders", params={"userIds": ",".join(user_ids)})
                ).json()["data"]
    finally:
        victim.__exit__(None, None, None)
    products = [order["items"][0]["product"] for order in found]
    intended = {f"{u}-{n}" for u in user_ids for n in range(15)}
    print(
        f"kill -9: {len(intended)} intended, {len(products)} created, "
        f"{len(failures)} failed attempts retried ({sorted(set(failures))}), "
        f"{replays} answered by a replay"
    )
    assert failures  # the kill was felt: some creates failed and were retried
    assert sorted(products) == sorted(intended)  # every intended order, exactly once
