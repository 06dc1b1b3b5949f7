"""Sequential latency, one client, keep-alive: the figures the issues ask for.

    python -m bench.latency [--requests 1000]

Brings up PostgreSQL (BENCH_PG_URL, TEST_PG_URL or embedded), both services and our
gateway as real processes with 100 users × 5 orders, then times each line one request
after another and prints p50/p99.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench import environment
from bench.scenarios import DASHBOARD_OURS


def _timed(send: Callable[[], None], count: int) -> list[float]:
    for _ in range(min(50, count)):
        send()  # warm-up: pools, caches, code paths
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        send()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _line(label: str, timings: list[float]) -> str:
    p50 = statistics.median(timings)
    p99 = statistics.quantiles(timings, n=100)[98]
    return f"| {label} | {len(timings)} | {p50:.2f} | {p99:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--graphql-requests", type=int, default=200)
    args = parser.parse_args()
    n, g = args.requests, args.graphql_requests
    logs = Path(tempfile.mkdtemp(prefix="latency-logs-"))
    env = environment.bring_up(logs=logs, users=100, orders_per_user=5, peers=False)
    try:
        assert env.users is not None
        assert env.orders is not None
        assert env.open_circuit_gateway is not None
        gateway, users, orders = env.gateways["ours"].url, env.users.url, env.orders.url
        open_circuit = env.open_circuit_gateway.url
        user_id = env.user_ids[0]
        order = {"user_id": user_id, "items": [{"product": "Чокопай", "quantity": 10, "price": 52}]}
        graphql = json.dumps({"query": DASHBOARD_OURS})
        with httpx.Client(timeout=10) as http:

            def expect(response: httpx.Response, status: int) -> None:
                assert response.status_code == status, response.text

            def get(url: str, status: int = 200) -> Callable[[], None]:
                return lambda: expect(http.get(url), status)

            def post(url: str, status: int = 201) -> Callable[[], None]:
                return lambda: expect(http.post(url, json=order), status)

            def dashboard() -> None:
                response = http.post(
                    f"{gateway}/graphql",
                    content=graphql,
                    headers={"content-type": "application/json"},
                )
                expect(response, 200)
                assert "errors" not in response.json()

            def rest_equivalent() -> None:
                page = http.get(f"{gateway}/users", params={"limit": 100})
                expect(page, 200)
                ids = ",".join(user["id"] for user in page.json()["data"])
                expect(http.get(f"{gateway}/orders", params={"userIds": ids}), 200)

            all_user_ids = ",".join(env.user_ids)
            lines = [
                ("users service: GET /users/{id}", get(f"{users}/users/{user_id}"), n),
                ("orders service: GET /orders (a page of 100)", get(f"{orders}/orders"), g),
                (
                    "orders service: GET /orders?userIds (100 users: 500 orders)",
                    get(f"{orders}/orders?userIds={all_user_ids}"),
                    g,
                ),
                ("gateway: GET /users/{id}", get(f"{gateway}/users/{user_id}"), n),
                ("gateway, circuit open: GET /orders", get(f"{open_circuit}/orders", 503), n),
                ("gateway GraphQL: 100 users × 5 orders", dashboard, g),
                ("gateway REST: GET /users + GET /orders?userIds", rest_equivalent, g),
                # Writes last: they add orders to the dashboard's users.
                ("orders service: POST /orders", post(f"{orders}/orders"), n),
                ("gateway: POST /orders (checks the user)", post(f"{gateway}/orders"), n),
            ]
            rows = [_line(label, _timed(send, count)) for label, send, count in lines]
    finally:
        env.stack.close()
    print("| what | requests | p50 ms | p99 ms |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
