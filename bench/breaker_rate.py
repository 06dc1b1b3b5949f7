"""When does the users circuit open, for a given share of failing calls?

    python -m bench.breaker_rate [--calls 2000] [--shares 50 20 5]

For each share, a fresh gateway process sits in front of the real users service behind a
proxy (tests/support/proxy.py) that answers that share of `GET /users/{id}` with a 500,
spread evenly (never more failures in a row than the share makes). 2,000 sequential reads
go through the gateway (one worker); the figures are how many calls and seconds it took
for the circuit to open (the first 503), and what the clients got.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Iterator

import httpx

from service_orders import init_db as orders_init_db
from service_users import init_db as users_init_db
from tests.support.fake_servers import http_response
from tests.support.pg import migrated_database, postgres_server
from tests.support.procs import running
from tests.support.proxy import Forward, Proxy

BOOM = http_response(500, "boom", content_type="text/plain")


def spread(percent: int):
    """Fail `percent` of the calls, as evenly spread as whole calls allow."""
    seen = 0

    async def doctor(method: str, target: str, forward: Forward) -> bytes | None:
        nonlocal seen
        if method == "GET" and target.startswith("/users/"):
            seen += 1
            if (seen * percent) // 100 != ((seen - 1) * percent) // 100:
                return BOOM
        return await forward()

    return doctor


@contextlib.contextmanager
def proxied(service_url: str, doctor) -> Iterator[str]:
    """The proxy on a loop of its own, in a thread: this thread's calls block."""
    ready: queue.Queue[tuple[str, asyncio.AbstractEventLoop, asyncio.Event]] = queue.Queue()

    async def serve() -> None:
        stop = asyncio.Event()
        async with Proxy(service_url, doctor) as proxy:
            ready.put((proxy.url, asyncio.get_running_loop(), stop))
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    url, loop, stop = ready.get(timeout=10)
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def one_share(users_url: str, orders_url: str, percent: int, calls: int) -> None:
    made = httpx.post(
        users_url + "/users",
        json={"email": f"rate-{uuid.uuid4().hex[:8]}@site.example", "name": "Прораб"},
    )
    user_id = made.json()["data"]["id"]
    with proxied(users_url, spread(percent)) as proxy_url:
        env = {
            "GATEWAY_USERS_URL": proxy_url,
            "GATEWAY_ORDERS_URL": orders_url,
            "GATEWAY_ACCESS_LOG": "false",
            "GATEWAY_LOG_LEVEL": "error",
        }
        with running("graphql_gateway", "GATEWAY_", env) as gateway:
            got, opened_after, took = _sequential(gateway.url + f"/users/{user_id}", calls)
    where = f"after {opened_after} calls, {took:.2f} s" if opened_after else "never"
    print(f"{percent:>3} % failing: opened {where}; clients got {dict(got)}", flush=True)


def _sequential(url: str, calls: int) -> tuple[collections.Counter, int | None, float]:
    got: collections.Counter = collections.Counter()
    opened_after = None
    started = time.monotonic()
    took = 0.0
    with httpx.Client(timeout=10) as http:
        for i in range(calls):
            status = http.get(url).status_code
            got[status] += 1
            if status == 503 and opened_after is None:
                opened_after, took = i, time.monotonic() - started
    return got, opened_after, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--shares", type=int, nargs="+", default=[50, 20, 5])
    args = parser.parse_args()
    with (
        postgres_server() as server,
        migrated_database(server, "rate_users", users_init_db.main) as users_db,
        migrated_database(server, "rate_orders", orders_init_db.main) as orders_db,
        running("service_users", "USERS_", {"USERS_DATABASE_URL": users_db}) as users,
        running("service_orders", "ORDERS_", {"ORDERS_DATABASE_URL": orders_db}) as orders,
    ):
        for percent in args.shares:
            one_share(users.url, orders.url, percent, args.calls)


if __name__ == "__main__":
    main()
