"""One customer's hostile requests cannot switch a service off for everyone else.

A customer sends 100 requests built to break the services (dates at the calendar's ends,
alone and in ranges, over REST and GraphQL, ten aliases of a report in one document,
integers past every bound) while a manager sends 200 ordinary requests, 20 at a time,
through a gateway of two workers with authentication on. The customer gets answers of the
4xx family or, where the date is a real one, the figures (never a 5xx); every one of the
manager's requests succeeds; and neither worker's circuits ever leave closed.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import PASSWORD, another_gateway, create_account, login
from tests.support.metrics import sample
from tests.support.procs import RunningProcess

pytestmark = pytest.mark.slow  # the calendar's edges on every report, through the gateway

EDGES = ("0001-01-01", "9999-12-31")


def hostile_requests() -> list[tuple[str, str, dict | None]]:
    """(method, path, GraphQL body) a hostile customer sends: 100 of them."""
    rest = []
    for route in ("/orders/stats", "/orders/stats/daily"):
        for first, last in itertools.product((None, *EDGES), repeat=2):
            query = [f"from={first}" if first else "", f"to={last}" if last else ""]
            rest.append(("GET", f"{route}?{'&'.join(q for q in query if q)}".rstrip("?"), None))
    rest += [
        ("GET", "/orders?limit=" + "9" * 40, None),
        ("GET", "/orders?offset=-1", None),
        ("GET", "/orders/stats?from=0000-00-00", None),
        ("GET", "/orders/stats?to=10000-01-01", None),
    ]
    aliases = " ".join(f'a{n}: orderStats(to: "9999-12-31") {{ count }}' for n in range(10))
    graphql = [
        {"query": f"{{ {aliases} }}"},
        {"query": '{ ordersByDay(to: "0001-01-01") { date created } }'},
        {"query": '{ ordersByDay(from: "9999-12-31") { date created } }'},
        {"query": '{ orderStats(from: "0001-01-01", to: "9999-12-31") { count } }'},
        {"query": "{ orders(limit: 2147483648) { total } }"},
    ]
    mixed = rest + [("POST", "/graphql", body) for body in graphql]
    return list(itertools.islice(itertools.cycle(mixed), 100))


async def send(http: httpx.AsyncClient, method: str, path: str, body: dict | None, headers):
    if method == "POST":
        return await http.post(path, json=body, headers=headers)
    return await http.get(path, headers=headers)


async def test_a_customer_s_calendar_edges_trip_no_circuit_for_the_manager(
    auth_services: tuple[RunningProcess, RunningProcess], logs_dir: Path
) -> None:
    users, _ = auth_services
    with another_gateway(auth_services, logs_dir, "two-workers", GATEWAY_WORKERS="2") as gateway:
        customer = create_account(users.url, "customer", PASSWORD)
        manager = create_account(users.url, "manager", PASSWORD)
        customer_auth = {"Authorization": f"Bearer {login(gateway.url, customer['email'])}"}
        manager_auth = {"Authorization": f"Bearer {login(gateway.url, manager['email'])}"}
        manager_paths = ["/orders", "/orders/stats", "/users?limit=5", "/orders/stats/daily"]

        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            gate = asyncio.Semaphore(20)

            async def as_manager(n: int) -> httpx.Response:
                async with gate:
                    return await http.get(manager_paths[n % 4], headers=manager_auth)

            async def as_customer() -> list[httpx.Response]:
                return [
                    await send(http, method, path, body, customer_auth)
                    for method, path, body in hostile_requests()
                ]

            customer_calls = asyncio.create_task(as_customer())  # first, then the managers
            ordinary = await asyncio.gather(*(as_manager(n) for n in range(200)))
            hostile = await customer_calls
            metrics = (await http.get("/metrics")).text

    statuses = [each.status_code for each in hostile]
    assert len(statuses) == 100
    assert all(status < 500 for status in statuses), [
        (r.request.url.path, r.request.url.query, r.status_code, r.text[:200])
        for r in hostile
        if r.status_code >= 500
    ]
    assert any(400 <= status < 500 for status in statuses)
    for each in hostile:
        if each.request.method == "POST":  # GraphQL: no error of a service's in the answer
            assert "UPSTREAM" not in each.text, each.text
            assert "SERVICE_UNAVAILABLE" not in each.text, each.text
            assert "INTERNAL" not in each.text, each.text
    assert [each.status_code for each in ordinary] == [200] * 200
    for service in ("users_service", "orders_service"):
        # Summed over both workers: not one move out of closed, not one failure counted.
        assert sample(metrics, "gateway_breaker_state", service=service) == 0
        for state in ("open", "half_open"):
            assert (
                sample(metrics, "gateway_breaker_state_changes_total", service=service, state=state)
                == 0
            )
        for outcome in ("server_error", "timeout", "unreachable", "circuit_open"):
            assert (
                sample(
                    metrics, "gateway_downstream_requests_total", service=service, outcome=outcome
                )
                == 0
            ), (service, outcome)
