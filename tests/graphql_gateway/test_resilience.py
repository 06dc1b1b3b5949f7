"""Circuit breakers, timeouts and upstream failures (docs/resilience.md).

Every test builds its own gateway (fresh breakers) over its own orders service: a real
process it may kill, or a tiny fake server that hangs or answers garbage. The users
service is the session's real process throughout.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import gateway_for
from tests.support.envelope import error_of
from tests.support.fake_servers import FakeServer, http_response
from tests.support.procs import RunningProcess, free_port, running

pytestmark = pytest.mark.slow  # a gateway and an orders process per test, killed or hung

ORDERS_ENVELOPE = {"success": True, "data": [], "meta": {"total": 0, "limit": 100, "offset": 0}}


# --------------------------------------------------------------------------- helpers


def assert_unavailable(response: httpx.Response, service: str = "Orders service") -> int:
    """503 SERVICE_UNAVAILABLE naming the service, with a Retry-After in whole seconds."""
    error = error_of(response, 503, "SERVICE_UNAVAILABLE")
    assert service in error["message"], error
    retry_after = response.headers.get("retry-after")
    assert retry_after is not None, "a 503 carries Retry-After"
    assert retry_after.isdigit(), retry_after
    assert int(retry_after) >= 1
    return int(retry_after)


def orders_calls(app: FastAPI) -> int:
    return app.state.clients.orders.calls


def orders_breaker(app: FastAPI):
    return app.state.clients.orders.breaker


def calls_seen(server: FakeServer) -> int:
    """Requests the server saw besides /health (an open circuit's probes, /health's own)."""
    return sum(path != "/health" for path in server.paths)


async def health(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/health")
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def timed(client: httpx.AsyncClient, method: str, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, path)
    return response, time.monotonic() - started


@contextmanager
def own_orders(
    orders_db_url: str, logs_dir: Path, *, port: int | None = None
) -> Iterator[RunningProcess]:
    """An orders service process of this test's own, which it may stop or kill."""
    env = {"ORDERS_DATABASE_URL": orders_db_url, "ORDERS_DB_POOL_SIZE": "2"}
    log_path = str(logs_dir / "own_orders.log")
    with running("service_orders", "ORDERS_", env, port=port, log_path=log_path) as proc:
        yield proc


def kill(proc: RunningProcess) -> None:
    """SIGKILL: the service dies, as in a crash."""
    proc.process.kill()
    proc.process.wait(10)


# --------------------------------------------------------------------------- a service goes down


async def test_dead_orders_service_opens_its_circuit(
    users_process: RunningProcess, orders_db_url: str, logs_dir: Path
) -> None:
    with own_orders(orders_db_url, logs_dir) as orders:
        async with gateway_for(
            users_process.url, orders.url, breaker_fail_max=3, breaker_reset_timeout=30
        ) as (gateway, app):
            assert (await gateway.get("/orders")).status_code == 200  # a pooled connection
            kill(orders)

            for attempt in range(1, 4):
                before = orders_calls(app)
                response = await gateway.get("/orders")
                assert_unavailable(response)
                # A closed circuit tries the network. The first request may find the pooled
                # connection before the event loop has read its closing: sent on it, broken,
                # sent again on a new one (the retry rule) and refused. One failure either way.
                sent = orders_calls(app) - before
                assert sent in ((1, 2) if attempt == 1 else (1,)), (attempt, sent)
                assert orders_breaker(app).failures == attempt

            report = await health(gateway)
            assert report["status"] == "DEGRADED"
            orders_report = report["circuit_breakers"]["orders_service"]
            assert orders_report["state"] == "open"
            assert orders_report["failures"] == 3
            assert orders_report["reachable"] is False
            users_report = report["circuit_breakers"]["users_service"]
            assert (users_report["state"], users_report["failures"]) == ("closed", 0)
            assert users_report["reachable"] is True

            # Open: refused at once, without touching the network.
            before = orders_calls(app)
            for method, path in [
                ("GET", "/orders"),
                ("GET", f"/orders/{uuid.uuid4()}"),
                ("DELETE", f"/orders/{uuid.uuid4()}"),
                ("GET", "/orders?status=created"),
                ("GET", "/orders"),
            ]:
                response, elapsed = await timed(gateway, method, path)
                retry_after = assert_unavailable(response)
                assert retry_after <= 30
                assert elapsed < 0.05, f"{method} {path} took {elapsed * 1000:.0f} ms"
            assert orders_calls(app) == before

            # The users side is still served.
            assert (await gateway.get("/users")).status_code == 200
            created = await gateway.post(
                "/users", json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "name": "Жив"}
            )
            assert created.status_code == 201, created.text
            user_id = created.json()["data"]["id"]
            assert (await gateway.get(f"/users/{user_id}")).status_code == 200
            # ...but what needs the orders service says so.
            assert_unavailable(await gateway.get(f"/users/{user_id}/details"))
            assert_unavailable(
                await gateway.post(
                    "/orders",
                    json={
                        "user_id": user_id,
                        "items": [{"product": "x", "quantity": 1, "price": 1}],
                    },
                )
            )
            assert_unavailable(await gateway.delete(f"/users/{user_id}"))
            assert (await gateway.get(f"/users/{user_id}")).status_code == 200  # not deleted
            assert orders_calls(app) == before


async def test_circuit_half_opens_and_closes_when_the_service_is_back(
    users_process: RunningProcess, orders_db_url: str, logs_dir: Path
) -> None:
    reset = 0.5
    with own_orders(orders_db_url, logs_dir) as first:
        port = first.port
        async with gateway_for(
            users_process.url, first.url, breaker_fail_max=2, breaker_reset_timeout=reset
        ) as (gateway, app):
            assert (await gateway.get("/orders")).status_code == 200
            first.stop()

            assert_unavailable(await gateway.get("/orders"))
            response = await gateway.get("/orders")
            assert_unavailable(response)
            opened = time.monotonic()
            assert response.headers["retry-after"] == "1"  # ceil(0.5 s)
            report = await health(gateway)
            assert report["circuit_breakers"]["orders_service"]["state"] == "open"
            assert report["status"] == "DEGRADED"

            before = orders_calls(app)
            await asyncio.sleep(reset - (time.monotonic() - opened) + 0.1)
            report = await health(gateway)
            assert report["circuit_breakers"]["orders_service"]["state"] == "half_open"
            assert report["status"] == "DEGRADED"
            assert orders_calls(app) == before, "half-open as of now, without any call"

            # Still down: the trial call fails and the circuit opens again at once.
            assert_unavailable(await gateway.get("/orders"))
            assert orders_calls(app) == before + 1
            assert orders_breaker(app).state == "open"
            response, elapsed = await timed(gateway, "GET", "/orders")
            assert_unavailable(response)
            assert elapsed < 0.05
            assert orders_calls(app) == before + 1

            reopened = time.monotonic()
            with own_orders(orders_db_url, logs_dir, port=port):
                await asyncio.sleep(max(0.0, reset - (time.monotonic() - reopened) + 0.1))
                assert orders_breaker(app).state == "half_open"
                response = await gateway.get("/orders")
                assert response.status_code == 200, response.text
                report = await health(gateway)
                orders_report = report["circuit_breakers"]["orders_service"]
                assert orders_report["state"] == "closed"
                assert orders_report["failures"] == 0
                assert orders_report["reachable"] is True
                assert report["status"] == "OK"
                assert (await gateway.get("/orders")).status_code == 200


async def test_fifty_concurrent_requests_while_orders_is_down(
    users_process: RunningProcess,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with gateway_for(users_process.url, nobody, breaker_fail_max=5) as (gateway, app):
        started = time.monotonic()
        responses = await asyncio.gather(*(gateway.get("/orders") for _ in range(50)))
        elapsed = time.monotonic() - started
        for response in responses:
            assert_unavailable(response)
        assert elapsed < 2.0, f"50 requests took {elapsed:.2f}s"
        assert orders_breaker(app).state == "open"

        # Once open, a second batch does not touch the network at all.
        before = orders_calls(app)
        started = time.monotonic()
        responses = await asyncio.gather(*(gateway.get("/orders") for _ in range(50)))
        elapsed = time.monotonic() - started
        for response in responses:
            assert_unavailable(response)
        assert elapsed < 2.0, f"50 requests took {elapsed:.2f}s"
        assert orders_calls(app) == before


async def test_details_of_an_unknown_user_say_not_found_while_orders_is_down(
    users_process: RunningProcess,
) -> None:
    """/users/{id}/details asks both services at once; the user's 404 says more than the
    orders service's 503, even when the orders side fails first (an open circuit: at once)."""
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with gateway_for(
        users_process.url, nobody, breaker_fail_max=1, breaker_reset_timeout=60
    ) as (gateway, app):
        assert_unavailable(await gateway.get("/orders"))
        assert orders_breaker(app).state == "open"

        response = await gateway.get(f"/users/{uuid.uuid4()}/details")
        error_of(response, 404, "NOT_FOUND")
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        created = await gateway.post("/users", json={"email": email, "name": "D"})
        user_id = created.json()["data"]["id"]
        assert_unavailable(await gateway.get(f"/users/{user_id}/details"))


# --------------------------------------------------------------------------- hangs and garbage


async def test_hanging_service_is_a_timeout(users_process: RunningProcess) -> None:
    async with (
        FakeServer(None) as hanging,
        gateway_for(users_process.url, hanging.url, upstream_timeout=0.5, breaker_fail_max=2) as (
            gateway,
            app,
        ),
    ):
        response, elapsed = await timed(gateway, "GET", "/orders")
        error = error_of(response, 504, "UPSTREAM_TIMEOUT")
        assert "Orders service" in error["message"]
        assert 0.45 <= elapsed < 1.5, f"answered after {elapsed:.2f}s"
        assert hanging.connections == 1
        assert orders_breaker(app).failures == 1, "a timeout counts as a failure"

        response, elapsed = await timed(gateway, "GET", f"/orders/{uuid.uuid4()}")
        error_of(response, 504, "UPSTREAM_TIMEOUT")
        assert elapsed < 1.5
        assert orders_breaker(app).state == "open"

        response, elapsed = await timed(gateway, "GET", "/orders")
        assert_unavailable(response)
        assert elapsed < 0.05
        assert hanging.connections == 2


GARBAGE = {
    "500 with an error envelope": http_response(
        500, {"success": False, "error": {"code": "INTERNAL_ERROR", "message": "boom"}}
    ),
    "503 from a proxy": http_response(503, "Service Unavailable", content_type="text/plain"),
    "200 with HTML": http_response(200, "<html>hello</html>", content_type="text/html"),
    "200 with truncated JSON": http_response(200, '{"success": true, "data": ['),
    "200 with JSON that is not the envelope": http_response(200, {"items": []}),
    "200 with an error envelope": http_response(
        200, {"success": False, "error": {"code": "X", "message": "y"}}
    ),
    "404 with HTML": http_response(404, "<h1>Not Found</h1>", content_type="text/html"),
}


@pytest.mark.parametrize("answer", GARBAGE.values(), ids=GARBAGE.keys())
async def test_garbage_or_5xx_is_upstream_error_and_a_failure(
    users_process: RunningProcess, answer: bytes
) -> None:
    async with (
        FakeServer(answer) as bad,
        gateway_for(users_process.url, bad.url, breaker_fail_max=3, breaker_reset_timeout=30) as (
            gateway,
            app,
        ),
    ):
        for attempt in range(1, 4):
            response = await gateway.get("/orders")
            error = error_of(response, 502, "UPSTREAM_ERROR")
            assert "Orders service" in error["message"]
            assert "boom" not in error["message"]  # the service's words stay inside
            if attempt < 3:
                assert orders_breaker(app).failures == attempt
        assert len(bad.requests) == 3

        report = await health(gateway)  # its probe reaches the server too, outside the breaker
        assert report["circuit_breakers"]["orders_service"]["state"] == "open"
        assert report["status"] == "DEGRADED"

        seen = calls_seen(bad)
        response, elapsed = await timed(gateway, "GET", "/orders")
        assert_unavailable(response)
        assert elapsed < 0.05
        assert calls_seen(bad) == seen, "an open circuit does not touch the network"


async def test_undecodable_body_is_upstream_error(users_process: RunningProcess) -> None:
    """A body that claims gzip but is not: garbage, so 502 like any other garbage."""
    answer = http_response(200, b"this is not gzip", headers={"Content-Encoding": "gzip"})
    async with (
        FakeServer(answer) as bad,
        gateway_for(users_process.url, bad.url, breaker_fail_max=3) as (gateway, app),
    ):
        response = await gateway.get("/orders")
        error_of(response, 502, "UPSTREAM_ERROR")
        assert orders_breaker(app).failures == 1


async def test_service_4xx_is_not_a_failure(users_process: RunningProcess) -> None:
    not_found = {"success": False, "error": {"code": "NOT_FOUND", "message": "Order not found"}}
    async with (
        FakeServer(http_response(404, not_found)) as service,
        gateway_for(users_process.url, service.url, breaker_fail_max=2) as (gateway, _),
    ):
        for _ in range(5):
            response = await gateway.get(f"/orders/{uuid.uuid4()}")
            assert response.status_code == 404
            assert response.json() == not_found
        assert len(service.requests) == 5
        report = await health(gateway)
        orders_report = report["circuit_breakers"]["orders_service"]
        assert orders_report["state"] == "closed"
        assert orders_report["failures"] == 0


async def test_service_4xx_starts_the_failure_count_over(users_process: RunningProcess) -> None:
    """A 4xx between failures is a working service: the count starts over."""
    conflict = {"success": False, "error": {"code": "ORDER_LOCKED", "message": "locked"}}
    async with (
        FakeServer(http_response(500, "oops", content_type="text/plain")) as service,
        gateway_for(users_process.url, service.url, breaker_fail_max=3) as (gateway, app),
    ):
        for attempt in (1, 2):
            error_of(await gateway.get("/orders"), 502, "UPSTREAM_ERROR")
            assert orders_breaker(app).failures == attempt
        service.response = http_response(409, conflict)
        response = await gateway.put(f"/orders/{uuid.uuid4()}", json={"status": "completed"})
        assert response.status_code == 409
        assert response.json() == conflict
        assert orders_breaker(app).failures == 0
        assert orders_breaker(app).state == "closed"


async def test_slow_dripping_service_is_a_timeout(users_process: RunningProcess) -> None:
    """The upstream timeout bounds the whole answer, not each read of it."""
    answer = http_response(200, ORDERS_ENVELOPE)  # one byte every 0.3 s: ~1 min in all
    async with (
        FakeServer(answer, drip=0.3) as slow,
        gateway_for(users_process.url, slow.url, upstream_timeout=0.5) as (gateway, _),
    ):
        try:
            response = await asyncio.wait_for(gateway.get("/orders"), timeout=3)
        except TimeoutError:
            pytest.fail("no answer after 3 s with upstream_timeout=0.5")
        error_of(response, 504, "UPSTREAM_TIMEOUT")


# --------------------------------------------------------------------------- half-open: one trial


async def test_half_open_lets_exactly_one_trial_call_through(
    users_process: RunningProcess,
) -> None:
    reset, timeout = 0.5, 1.5  # a refused call is answered well before the trial times out
    async with (
        FakeServer(None) as hanging,
        gateway_for(
            users_process.url,
            hanging.url,
            breaker_fail_max=1,
            breaker_reset_timeout=reset,
            upstream_timeout=timeout,
            # Its probes of /health would be connections too: this test counts them all.
            breaker_probe_interval=60,
        ) as (gateway, app),
    ):
        error_of(await gateway.get("/orders"), 504, "UPSTREAM_TIMEOUT")
        breaker = orders_breaker(app)
        assert breaker.state == "open"
        await asyncio.sleep(reset + 0.1)
        assert breaker.state == "half_open"
        connections, requests = hanging.connections, len(hanging.requests)

        started = time.monotonic()

        async def one() -> tuple[httpx.Response, float]:
            response = await gateway.get("/orders")
            return response, time.monotonic() - started

        outcomes = await asyncio.gather(*(one() for _ in range(10)))

        assert hanging.connections - connections == 1
        assert len(hanging.requests) - requests == 1
        trials = [(r, t) for r, t in outcomes if r.status_code == 504]
        refused = [(r, t) for r, t in outcomes if r.status_code == 503]
        assert len(trials) == 1, [r.status_code for r, _ in outcomes]
        assert len(refused) == 9, [r.status_code for r, _ in outcomes]
        for response, finished in refused:
            assert_unavailable(response)
            assert finished < timeout / 3, f"a refused call waited {finished:.2f}s for the trial"
        assert trials[0][1] >= timeout * 0.9
        assert breaker.state == "open"  # the trial failed
