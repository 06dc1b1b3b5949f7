"""Heavy readers against everyone else: does the gateway shed its own overload, and keep the
orders circuit closed?

    python -m bench.shed [--readers 40] [--duration 30] [--gateway-workers 2]

Starts the two services and the gateway (`--gateway-workers` processes) on fresh databases
of the machine's PostgreSQL (TEST_PG_URL, else an embedded one), gives one engineer 400
orders of 100 items with 200-character Cyrillic product names (a `limit=1000` page of them
is ~17 MB), then for `--duration` seconds runs `--readers` clients each reading that page
over and over (`GET /orders?userId=…&limit=1000`) and one manager polling the first page
of all orders (`GET /orders`). Prints what each side got, the manager's latency, and how
often the orders circuit left closed (the gateway's own breaker state changes).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import time
import uuid

import httpx

from service_orders import init_db as orders_init_db
from service_users import init_db as users_init_db
from tests.support.metrics import sample
from tests.support.pg import migrated_database, postgres_server
from tests.support.procs import running

PRODUCT = ("Бетон М300 для фундамента секции " * 8)[:200]


async def seed(users_url: str, orders_url: str, orders: int) -> str:
    async with httpx.AsyncClient(timeout=60) as http:
        made = await http.post(
            users_url + "/users",
            json={"email": f"engineer-{uuid.uuid4().hex[:8]}@site.example", "name": "Инженер"},
        )
        user_id = made.json()["data"]["id"]
        items = [{"product": PRODUCT, "quantity": 1 + n, "price": "10.00"} for n in range(100)]
        semaphore = asyncio.Semaphore(8)

        async def one() -> None:
            async with semaphore:
                answer = await http.post(
                    orders_url + "/orders", json={"user_id": user_id, "items": items}
                )
                answer.raise_for_status()

        await asyncio.gather(*(one() for _ in range(orders)))
    return user_id


async def loop(
    http: httpx.AsyncClient, path: str, until: float, got: collections.Counter, times: list
) -> None:
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            answer = await http.get(path)
            await answer.aread()
            got[answer.status_code] += 1
        except httpx.HTTPError as exc:
            got[type(exc).__name__] += 1
        times.append(time.perf_counter() - started)


async def measure(gateway: str, user_id: str, readers: int, duration: float) -> None:
    limits = httpx.Limits(max_connections=readers + 4)
    async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as http:
        page = await http.get(f"/orders?userId={user_id}&limit=1000")
        print(f"one reader's page: {len(page.content) / 1e6:.1f} MB, status {page.status_code}")
        until = time.monotonic() + duration
        heavy: collections.Counter = collections.Counter()
        manager: collections.Counter = collections.Counter()
        heavy_times: list[float] = []
        manager_times: list[float] = []
        await asyncio.gather(
            *(
                loop(http, f"/orders?userId={user_id}&limit=1000", until, heavy, heavy_times)
                for _ in range(readers)
            ),
            loop(http, "/orders", until, manager, manager_times),
        )
        metrics = (await http.get("/metrics")).text
        health = (await http.get("/health")).json()["data"]["circuit_breakers"]
    total = sum(manager.values())
    ok = manager.get(200, 0)
    print(f"readers ({readers}): {dict(heavy)}")
    print(
        f"manager: {dict(manager)}: {100 * ok / max(total, 1):.1f} % 200,"
        f" p50 {1000 * statistics.median(manager_times):.0f} ms,"
        f" p99 {1000 * sorted(manager_times)[int(0.99 * (len(manager_times) - 1))]:.0f} ms"
    )
    changes = sum(
        sample(metrics, "gateway_breaker_state_changes_total", service="orders_service", state=s)
        or 0
        for s in ("open", "half_open")
    )
    shed = (
        sample(
            metrics, "gateway_downstream_requests_total", service="orders_service", outcome="shed"
        )
        or 0
    )
    print(f"orders circuit: {changes:.0f} moves out of closed; now {health['orders_service']}")
    print(f"calls shed by the gateway: {shed:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=40)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--gateway-workers", type=int, default=2)
    args = parser.parse_args()
    with (
        postgres_server() as server,
        migrated_database(server, "shed_users", users_init_db.main) as users_db,
        migrated_database(server, "shed_orders", orders_init_db.main) as orders_db,
        running(
            "service_users", "USERS_", {"USERS_DATABASE_URL": users_db, "USERS_ACCESS_LOG": "false"}
        ) as users,
        running(
            "service_orders",
            "ORDERS_",
            {"ORDERS_DATABASE_URL": orders_db, "ORDERS_ACCESS_LOG": "false"},
        ) as orders,
    ):
        user_id = asyncio.run(seed(users.url, orders.url, args.orders))
        env = {
            "GATEWAY_USERS_URL": users.url,
            "GATEWAY_ORDERS_URL": orders.url,
            "GATEWAY_WORKERS": str(args.gateway_workers),
            "GATEWAY_ACCESS_LOG": "false",
        }
        with running("graphql_gateway", "GATEWAY_", env) as gateway:
            asyncio.run(measure(gateway.url, user_id, args.readers, args.duration))


if __name__ == "__main__":
    main()
