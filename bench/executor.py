"""The gateway's own cost per GraphQL request, without network or services.

    python -m bench.executor [--runs 200]

The services are answered from memory (100 users × 5 orders) through httpx's
MockTransport, so what is timed is the gateway: HTTP handling, parsing, validation,
execution and serialisation, with the stock executor and with compiled plans.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import httpx
import orjson

from graphql_gateway.app import create_app
from graphql_gateway.config import Settings

QUERY = "{ users(limit: 100) { items { id name orders { id status totalAmount } } } }"
STAMP = "2026-11-27T10:00:00.000000+00:00"


def _data(n_users: int, per_user: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    users = [
        {
            "id": str(uuid.uuid4()),
            "email": f"u{i}@x.example",
            "name": f"User {i}",
            "roles": ["engineer"],
            "created_at": STAMP,
            "updated_at": STAMP,
        }
        for i in range(n_users)
    ]
    statuses = ("created", "in_progress", "completed", "cancelled")
    orders = [
        {
            "id": str(uuid.uuid4()),
            "user_id": user["id"],
            "status": statuses[j % 4],
            "items": [{"product": "Бетон", "quantity": 2, "price": "52.00"}],
            "total_amount": "104.00",
            "created_at": STAMP,
            "updated_at": STAMP,
        }
        for user in users
        for j in range(per_user)
    ]
    return users, orders


def _transport(users: list[dict], orders: list[dict]) -> httpx.MockTransport:
    users_page = orjson.dumps(
        {"success": True, "data": users, "meta": {"total": len(users), "limit": 100, "offset": 0}}
    )
    orders_page = orjson.dumps(
        {
            "success": True,
            "data": orders,
            "meta": {"total": len(orders), "limit": None, "offset": 0},
        }
    )

    def handler(request: httpx.Request) -> httpx.Response:
        body = orders_page if request.url.path == "/orders" else users_page
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return httpx.MockTransport(handler)


async def _time(compile_plans: bool, runs: int) -> list[float]:
    app = create_app(Settings(graphql_compile=compile_plans, access_log=False))
    transport = _transport(*_data(100, 5))
    timings: list[float] = []
    async with app.router.lifespan_context(app):
        for client in (app.state.clients.users, app.state.clients.orders):
            client.http._transport = transport  # the services, answered from memory
            client._send = client.http.send  # through it (not our transport's direct path)
            client._direct = None
        asgi = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://gateway") as http:
            for i in range(runs + 20):
                started = time.perf_counter()
                response = await http.post("/graphql", json={"query": QUERY})
                elapsed = time.perf_counter() - started
                assert response.status_code == 200
                assert "errors" not in response.json()
                if i >= 20:  # warm-up: caches filled, code paths hot
                    timings.append(elapsed * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    for label, compile_plans in (("stock executor", False), ("compiled plans", True)):
        timings = asyncio.run(_time(compile_plans, args.runs))
        p50 = statistics.median(timings)
        print(
            f"{label:16} p50 {p50:6.2f} ms   mean {statistics.mean(timings):6.2f} ms   "
            f"≈ {1000 / p50:5.0f} req/s per core"
        )


if __name__ == "__main__":
    main()
