"""The gateway's own Python CPU per S1, S2, S3 request, in process, services answered from memory.

    python -m bench.request_cost                       # S2 and S3, the default settings
    python -m bench.request_cost --only S1             # the dashboard: 100 users, 500 orders
    python -m bench.request_cost --set GATEWAY_GRAPHQL_CACHED_HOOKS=false
    python -m bench.request_cost --only S2 --concurrency 32 --collector

What `make bench`'s CPU per request has on top of this is the server's and the client's
sockets (the kernel's work for each read and write, the event loop's polls): here the
ASGI app is called directly with the request as uvicorn hands it over, and each call to a
service is answered by a stand-in for `ServiceTransport.exchange` (a user, five orders;
for S1 a page of 100 users and five orders each, only the fields the call asks for, as
the services answer), so everything from the first middleware to the last byte of the
answer runs as under load: middleware, routing, GraphQL (parse and validation cached),
the breaker, admission, metrics, the answers' parsing and the response's JSON. CPU time
(`time.process_time`) of batches of requests, two apps alternating batch by batch when
`--set` names the second's settings: the least of each app's batches is the figure least
moved by other work on the machine. Timings are only printed, never asserted.

`--gc` also times the collector's passes (`gc.callbacks`): how much of each
request's CPU they took, how many ran by generation and how many objects they freed
(objects freed only by a collection are ones left in reference cycles).

`--concurrency N` keeps N requests in flight (each service call then takes 1 ms of the
loop's time, as a real service's answer would), which is what makes the garbage
collector's work grow under load; `--collector` alternates batches with the collector as
Python comes and as `apicore.collector` tunes a served process (startup's objects
frozen).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from typing import Any

import orjson
import uvloop
from fastapi import FastAPI
from multidict import CIMultiDict

from bench.scenarios import DASHBOARD_OURS, FRONT_OURS
from graphql_gateway.app import create_app
from graphql_gateway.clients.transport import Answer
from graphql_gateway.config import Settings

STAMP = "2026-11-27T10:00:00.000000+00:00"
USER_ID = str(uuid.UUID(int=7))
USER = {
    "id": USER_ID,
    "email": "u@site.example",
    "name": "Инженер",
    "roles": ["engineer"],
    "created_at": STAMP,
    "updated_at": STAMP,
}
ORDERS = [
    {
        "id": str(uuid.UUID(int=100 + i)),
        "user_id": USER_ID,
        "status": "created",
        "items": [{"product": "Бетон", "quantity": 2, "price": "52.00"}],
        "total_amount": "104.00",
        "due_date": None,
        "assignee_id": None,
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    for i in range(5)
]
_HEADERS = CIMultiDict({"content-type": "application/json", "etag": 'W/"1"'})
# S1's page: 100 users with five orders each, names and amounts of every kind JSON has to
# escape or carry as it is (quotes, backslashes, control characters, non-ASCII).
PAGE_USERS: list[dict[str, Any]] = [
    {
        **USER,
        "id": str(uuid.UUID(int=1000 + n)),
        "email": f"u{n}@site.example",
        "name": f'Инженер "{n}" \\ \t {chr(0x1F477)}',
    }
    for n in range(100)
]
PAGE_ORDERS: list[dict[str, Any]] = [
    {
        **order,
        "id": str(uuid.UUID(int=100_000 + 5 * n + i)),
        "user_id": user["id"],
        "status": ("created", "in_progress", "completed", "cancelled")[(n + i) % 4],
        "total_amount": f"{(n * 7 + i) % 100_000}.{i:02d}",
    }
    for n, user in enumerate(PAGE_USERS)
    for i, order in enumerate(ORDERS)
]
_answers: dict[str, bytes] = {}  # by target: the stand-in's own work is not measured


def _projected(rows: list[dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
    if "fields" not in query:
        return rows
    fields = query["fields"][0].split(",")
    return [{name: row[name] for name in fields} for row in rows]


def _page_body(target: str) -> dict[str, Any] | None:
    """S1's answers: the users page, and the orders of those users."""
    path, _, query_text = target.partition("?")
    query = urllib.parse.parse_qs(query_text)
    if path.endswith("/users") and "limit" in query and "ids" not in query:
        limit, offset = int(query["limit"][0]), int(query["offset"][0])
        rows = PAGE_USERS[offset : offset + limit]
        meta = {"total": len(PAGE_USERS), "limit": limit, "offset": offset}
        return {"success": True, "data": _projected(rows, query), "meta": meta}
    if path.endswith("/orders") and "userIds" in query:
        wanted = set(query["userIds"][0].split(","))
        rows = [order for order in PAGE_ORDERS if order["user_id"] in wanted]
        if not rows:
            return None  # S2's user: its five orders, below
        return {"success": True, "data": _projected(rows, query), "meta": {"total": len(rows)}}
    return None


def _answer(target: str) -> Answer:
    content = _answers.get(target)
    if content is None:
        body = _page_body(target)
        if body is None and "/orders" in target:
            body = {
                "success": True,
                "data": ORDERS,
                "meta": {"total": 5, "limit": None, "offset": 0},
            }
        elif body is None and "ids=" in target:
            body = {"success": True, "data": [USER]}
        elif body is None:
            body = {"success": True, "data": USER}
        content = _answers[target] = orjson.dumps(body)
    return Answer(200, _HEADERS, content)


async def _exchange(request: Any) -> Answer:
    return _answer(getattr(request, "target", None) or str(request.url))


async def _exchange_later(request: Any) -> Answer:
    await asyncio.sleep(0.001)  # the service's time: requests in flight overlap
    return _answer(getattr(request, "target", None) or str(request.url))


def _collector(tuned: bool) -> None:
    """The collector as a served process has it (`apicore.collector`) or as Python comes."""
    gc.unfreeze()
    gc.collect()
    if tuned:
        gc.freeze()


class CollectorTime:
    """CPU time spent in the collector's passes (`gc.callbacks`), and what they freed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.freed = 0
        self.passes = [0, 0, 0]  # by generation
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
            return
        self.seconds += time.process_time() - self._started
        self.freed += info["collected"]
        self.passes[info["generation"]] += 1


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def _request(app: FastAPI, scenario: str) -> Callable[[], Awaitable[None]]:
    """One request of the scenario through the whole ASGI app, its answer checked."""
    if scenario in ("S1", "S2"):
        query = DASHBOARD_OURS if scenario == "S1" else FRONT_OURS % USER_ID
        body = orjson.dumps({"query": query})
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        scope = _scope("POST", "/graphql", headers)
    else:
        body = b""
        scope = _scope("GET", f"/users/{USER_ID}", [])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def one() -> None:
        sent: list[MutableMapping[str, Any]] = []  # this request's own (others may be in flight)

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await app({**scope, "state": {}}, receive, send)
        if sent[0]["status"] != 200 or b'"errors"' in sent[-1]["body"]:
            raise RuntimeError(f"unexpected answer: {sent}")

    return one


async def _app(stack: AsyncExitStack, env: dict[str, str], in_flight: int) -> FastAPI:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        # A connection for each request in flight: none waits for the pool (or is shed).
        app = create_app(Settings(access_log=False, pool_max_connections=max(8, in_flight)))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    await stack.enter_async_context(app.router.lifespan_context(app))
    for client in (app.state.clients.users, app.state.clients.orders):
        client._send = _exchange_later if in_flight > 1 else _exchange  # services, from memory
    return app


async def _batch(call: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> None:
    async def one_after_another(count: int) -> None:
        for _ in range(count):
            await call()

    await asyncio.gather(*(one_after_another(requests // concurrency) for _ in range(concurrency)))


async def _measure(args: argparse.Namespace) -> None:
    async with AsyncExitStack() as stack:
        apps = {"default": await _app(stack, {}, args.concurrency)}
        if args.set:
            apps["--set"] = await _app(stack, dict(args.set), args.concurrency)
        # label -> (app, the collector tuned or not; None: left as it is)
        runs: dict[str, tuple[FastAPI, bool | None]] = {
            label: (app, None) for label, app in apps.items()
        }
        if args.collector:
            runs = {"as comes": (apps["default"], False), "tuned": (apps["default"], True)}
        for scenario in args.only:
            calls = {label: _request(app, scenario) for label, (app, _) in runs.items()}
            batches: dict[str, list[float]] = {label: [] for label in runs}
            collector = {label: CollectorTime() for label in runs}
            for call in calls.values():
                await _batch(call, 200, args.concurrency)  # warm: caches, plans, labels
            for _ in range(args.batches):
                for label, call in calls.items():
                    tuned = runs[label][1]
                    if tuned is not None:
                        _collector(tuned)
                    if args.gc:
                        gc.callbacks.append(collector[label])
                    started = time.process_time()
                    await _batch(call, args.requests, args.concurrency)
                    cpu = time.process_time() - started
                    if args.gc:
                        gc.callbacks.remove(collector[label])
                    batches[label].append(cpu / args.requests * 1e6)
            for label, each in batches.items():
                print(
                    f"{scenario} {label:8} µs CPU per request: least {min(each):6.1f},"
                    f" median {statistics.median(each):6.1f}"
                    f" ({args.batches} batches of {args.requests},"
                    f" {args.concurrency} in flight)",
                    flush=True,
                )
                if args.gc:
                    spent, count = collector[label], args.batches * args.requests
                    print(
                        f"{scenario} {label:8} of which the collector: "
                        f"{spent.seconds / count * 1e6:6.1f} µs per request,"
                        f" passes by generation {spent.passes}, objects freed {spent.freed}",
                        flush=True,
                    )


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=["S2", "S3"], choices=["S1", "S2", "S3"])
    parser.add_argument("--set", type=_setting, action="append", metavar="V=X")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--collector", action="store_true")
    parser.add_argument("--gc", action="store_true", help="time the collector's passes too")
    args = parser.parse_args()
    os.environ.setdefault("GATEWAY_LOG_LEVEL", "warning")
    uvloop.run(_measure(args))


if __name__ == "__main__":
    main()
