"""An open circuit probes its service and recovers as soon as the service is healthy.

While a circuit is open, the gateway asks the service's /health in the background (at
most once every GATEWAY_BREAKER_PROBE_INTERVAL); the first healthy answer makes the
circuit half-open, so the next call is the one trial call. `failures` is the count of
consecutive failures since the last success, never more than fail_max.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from aiobreaker import CircuitBreakerError
from fastapi import FastAPI

from apicore.errors import ApiError
from apicore.logging import request_id_var
from graphql_gateway.clients.breaker import Breaker
from tests.conftest import gateway_for
from tests.support.clients import users_client
from tests.support.envelope import data_of, error_of
from tests.support.fake_servers import FakeServer, http_response
from tests.support.metrics import sample
from tests.support.procs import RunningProcess, launch, running

pytestmark = pytest.mark.slow  # circuits opened and waited out

HEALTHY = http_response(200, {"success": True, "data": {"status": "OK"}})
BROKEN = http_response(500, "oops", content_type="text/plain")
ORDERS_OK = http_response(
    200, {"success": True, "data": [], "meta": {"total": 0, "limit": 100, "offset": 0}}
)


def orders_breaker(app: FastAPI) -> Breaker:
    return app.state.clients.orders.breaker


def probe_tasks() -> list[str]:
    """The breakers' probe tasks alive in this event loop."""
    tasks = asyncio.all_tasks()
    return sorted(t.get_name() for t in tasks if t.get_name().startswith("breaker-probe-"))


def service_calls(server: FakeServer) -> list[str]:
    """What the server was asked besides /health (the probes, and /health's own)."""
    return [path for path in server.paths if path != "/health"]


def health_probes(server: FakeServer) -> int:
    return server.paths.count("/health")


async def orders_report(gateway: httpx.AsyncClient) -> dict:
    return data_of(await gateway.get("/health"))["circuit_breakers"]["orders_service"]


async def wait_for_state(breaker: Breaker, state: str, within: float) -> float:
    """Seconds until `breaker` is in `state`; fails after `within`."""
    started = time.monotonic()
    while breaker.state != state:
        assert time.monotonic() - started < within, f"still {breaker.state} after {within}s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def refused() -> None:
    raise httpx.ConnectError("refused")


async def fine() -> str:
    return "fine"


async def never_healthy(seconds: float) -> bool:
    return False


def assert_unavailable(response: httpx.Response) -> str:
    error_of(response, 503, "SERVICE_UNAVAILABLE")
    return response.headers["retry-after"]


@contextmanager
def own_orders(orders_db_url: str, logs_dir: Path) -> Iterator[RunningProcess]:
    env = {"ORDERS_DATABASE_URL": orders_db_url, "ORDERS_DB_POOL_SIZE": "2"}
    with running("service_orders", "ORDERS_", env, log_path=str(logs_dir / "recovery.log")) as p:
        yield p


# --------------------------------------------------------------------------- a real outage


async def test_clients_are_served_within_a_second_of_the_service_being_healthy(
    users_process: RunningProcess, orders_db_url: str, logs_dir: Path
) -> None:
    """kill -9, a long reset timeout, the same service back on the same port."""
    fail_max = 5
    with own_orders(orders_db_url, logs_dir) as first:
        async with gateway_for(
            users_process.url, first.url, breaker_fail_max=fail_max, breaker_reset_timeout=30
        ) as (gateway, app):
            assert (await gateway.get("/orders?limit=1")).status_code == 200
            first.process.kill()
            first.process.wait(10)

            # In flight together when the circuit opens: aiobreaker counted every one.
            responses = await asyncio.gather(*(gateway.get("/orders?limit=1") for _ in range(20)))
            for response in responses:
                assert_unavailable(response)
            breaker = orders_breaker(app)
            assert breaker.state == "open"

            env = {
                "ORDERS_DATABASE_URL": orders_db_url,
                "ORDERS_DB_POOL_SIZE": "2",
                "ORDERS_HOST": "127.0.0.1",
                "ORDERS_PORT": str(first.port),
            }
            second = RunningProcess(
                launch("service_orders", env, log_path=str(logs_dir / "recovery.log")),
                first.url,
                first.port,
            )
            try:
                healthy_at, (served_at, worst) = await asyncio.gather(
                    first_healthy(second), first_served(gateway, breaker)
                )
            finally:
                second.stop()

            recovery = served_at - healthy_at
            print(f"\nserved {recovery:.3f}s after /health answered 200; failures up to {worst}")
            assert recovery < 1.0, f"clients served again {recovery:.2f}s after /health was 200"
            assert worst <= fail_max, f"failures read {worst} with fail_max {fail_max}"
            assert probe_tasks() == [], "the circuit is closed: nothing left to probe"
            report = await orders_report(gateway)
            assert (report["state"], report["failures"]) == ("closed", 0)


async def first_healthy(service: RunningProcess) -> float:
    """When the service's own /health first answers 200 (asked every 10 ms)."""
    async with httpx.AsyncClient(timeout=1.0) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert service.process.poll() is None, "the orders service exited"
            try:
                if (await client.get(f"{service.url}/health")).status_code == 200:
                    return time.monotonic()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.01)
    raise AssertionError("the orders service did not come back in 30 s")


async def first_served(gateway: httpx.AsyncClient, breaker: Breaker) -> tuple[float, int]:
    """When GET /orders through the gateway first answers 200 (asked every 50 ms), and the
    most `failures` /health reported until then."""
    worst = 0
    deadline = time.monotonic() + 40  # past the 30 s reset timeout: the old way recovers too
    while time.monotonic() < deadline:
        worst = max(worst, (await orders_report(gateway))["failures"], breaker.failures)
        response = await gateway.get("/orders?limit=1")
        if response.status_code == 200:
            return time.monotonic(), worst
        assert_unavailable(response)
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway served no GET /orders in 40 s")


# --------------------------------------------------------------------------- probes


async def test_a_healthy_probe_half_opens_the_circuit_for_one_trial_call(
    users_process: RunningProcess,
) -> None:
    async with (
        FakeServer(None, routes={"/health": HEALTHY}) as service,  # /orders hangs
        gateway_for(
            users_process.url,
            service.url,
            breaker_fail_max=1,
            breaker_reset_timeout=30,
            breaker_probe_interval=0.1,
            upstream_timeout=1.0,
        ) as (gateway, app),
    ):
        error_of(await gateway.get("/orders"), 504, "UPSTREAM_TIMEOUT")
        breaker = orders_breaker(app)
        assert breaker.state == "open"
        assert breaker.retry_after() >= 29

        waited = await wait_for_state(breaker, "half_open", within=1.0)
        assert waited < 0.5, "half-open at the first probe, not after the reset timeout"
        report = await orders_report(gateway)
        assert report["state"] == "half_open"
        assert "retry_after_s" not in report
        assert (report["failures"], report["reachable"]) == (1, True)

        seen = len(service_calls(service))
        started = time.monotonic()

        async def one() -> tuple[httpx.Response, float]:
            response = await gateway.get("/orders")
            return response, time.monotonic() - started

        outcomes = await asyncio.gather(*(one() for _ in range(10)))
        statuses = sorted(response.status_code for response, _ in outcomes)
        assert statuses == [503] * 9 + [504], statuses
        assert len(service_calls(service)) - seen == 1, "exactly one trial call"
        for response, finished in outcomes:
            if response.status_code == 503:
                assert assert_unavailable(response) == "1", "a trial is on: try again soon"
                assert finished < 0.3
        assert breaker.state == "open"  # the trial failed
        assert breaker.failures == 1, "at most fail_max"


async def test_a_health_that_lies_neither_flaps_the_circuit_nor_counts_past_fail_max(
    users_process: RunningProcess,
) -> None:
    """/health healthy, every real call 500: each probed trial that fails doubles the wait
    before the next probe (0.1, 0.2, 0.4, 0.8 s: four trials in 2 s, not one every 0.1 s)."""
    fail_max, interval = 2, 0.1
    async with (
        FakeServer(BROKEN, routes={"/health": HEALTHY}) as service,
        gateway_for(
            users_process.url,
            service.url,
            breaker_fail_max=fail_max,
            breaker_reset_timeout=30,
            breaker_probe_interval=interval,
        ) as (gateway, app),
    ):
        for _ in range(fail_max):
            error_of(await gateway.get("/orders"), 502, "UPSTREAM_ERROR")
        breaker = orders_breaker(app)
        assert breaker.state == "open"

        worst, started = 0, time.monotonic()
        while time.monotonic() - started < 2.0:
            response = await gateway.get("/orders")
            assert response.status_code in (502, 503), response.text
            worst = max(worst, breaker.failures)
            await asyncio.sleep(0.02)

        trials = len(service_calls(service)) - fail_max
        assert 2 <= trials <= 5, f"{trials} trial calls in 2 s"
        assert worst == fail_max
        assert (await orders_report(gateway))["failures"] == fail_max


async def test_each_failed_probed_trial_doubles_the_wait_and_the_log_tells_each_move(
    users_process: RunningProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """Measured trial by trial: after the k-th probed trial that fails, the next probe
    comes interval * 2**k later (0.2, 0.4, 0.8 s; tripling would be 0.3, 0.9, 2.7 s). And
    the log names each change of state, which is what an operator reads in an outage."""
    interval = 0.1
    caplog.set_level(logging.WARNING, logger="graphql_gateway.breaker")
    async with (
        FakeServer(BROKEN, routes={"/health": HEALTHY}) as service,
        gateway_for(
            users_process.url,
            service.url,
            breaker_fail_max=1,
            breaker_reset_timeout=30,
            breaker_probe_interval=interval,
        ) as (gateway, app),
    ):
        breaker = orders_breaker(app)

        async def changes() -> dict[str, float]:
            text = (await gateway.get("/metrics")).text
            name = "gateway_breaker_state_changes_total"
            return {
                state: sample(text, name, service="orders_service", state=state)
                for state in ("open", "half_open", "closed")
            }

        async def gauge() -> float:
            text = (await gateway.get("/metrics")).text
            return sample(text, "gateway_breaker_state", service="orders_service")

        before = await changes()
        error_of(await gateway.get("/orders"), 502, "UPSTREAM_ERROR")
        assert await gauge() == 2  # open
        await wait_for_state(breaker, "half_open", within=1.0)
        assert await gauge() == 1
        for failed in (1, 2, 3):
            error_of(await gateway.get("/orders"), 502, "UPSTREAM_ERROR")  # the trial
            assert breaker.state == "open"
            expected = interval * 2**failed
            waited = await wait_for_state(breaker, "half_open", within=expected * 3)
            # Measured from the trial's answer, a moment after the circuit opened.
            assert expected * 0.75 <= waited < expected * 1.9, (failed, waited)
        # The service is back: the trial closes the circuit, and the doubling starts over.
        service.response = ORDERS_OK
        data_of(await gateway.get("/orders"))
        assert breaker.state == "closed"
        assert await gauge() == 0
        service.response = BROKEN
        error_of(await gateway.get("/orders"), 502, "UPSTREAM_ERROR")
        waited = await wait_for_state(breaker, "half_open", within=1.0)
        assert interval * 0.5 <= waited < interval * 1.9, waited
        after = await changes()
        moved = {state: after[state] - before[state] for state in after}
        assert moved == {"open": 5, "half_open": 5, "closed": 1}
    moves = [r.getMessage() for r in caplog.records if r.name == "graphql_gateway.breaker"]
    assert not [r for r in caplog.records if r.name == "asyncio"], "no task went wrong"
    assert moves[:3] == [
        "Circuit orders_service: closed -> open",
        "Circuit orders_service: open -> half_open",
        "Circuit orders_service: half_open -> open",
    ]


async def test_a_probe_that_raises_stops_probing_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Probes never raise; if one did (a bug), the watcher logs it and stops, and the
    circuit still half-opens after its reset timeout."""

    async def broken_probe(seconds: float) -> bool:
        raise RuntimeError("a bug in the probe")

    caplog.set_level(logging.ERROR, logger="graphql_gateway.breaker")
    breaker = Breaker("users_service", fail_max=1, reset_timeout=0.3, probe_interval=0.01)
    breaker.watch(broken_probe)
    try:
        with pytest.raises(CircuitBreakerError):  # the failure that opened it
            await breaker.call(refused)
        await wait_for_state(breaker, "half_open", within=1.0)
    finally:
        await breaker.aclose()
    stopped = [
        r for r in caplog.records if r.getMessage() == "Circuit users_service: probing stopped"
    ]
    assert len(stopped) == 1
    assert stopped[0].exc_info is not None
    assert "a bug in the probe" in str(stopped[0].exc_info[1])


async def test_a_failed_trial_the_timeout_let_through_does_not_slow_the_probes() -> None:
    """Only a trial a probe vouched for, failing, doubles the wait: one the reset timeout
    let through says nothing about /health, so the probes keep their pace."""
    interval = 0.2
    probed: list[float] = []
    enough = asyncio.Event()
    wanted = [math.inf]  # probes to see: three after the failed trial

    async def probe(seconds: float) -> bool:
        probed.append(time.monotonic())
        if len(probed) >= wanted[0]:
            enough.set()
        return False

    breaker = Breaker("users_service", fail_max=1, reset_timeout=0.5, probe_interval=interval)
    breaker.watch(probe)
    try:
        with pytest.raises(CircuitBreakerError):
            await breaker.call(refused)
        await wait_for_state(breaker, "half_open", within=2.0)  # the timeout, not a probe
        with pytest.raises(CircuitBreakerError):
            await breaker.call(refused)  # the trial fails
        failed = time.monotonic()
        wanted[0] = len(probed) + 3
        await asyncio.wait_for(enough.wait(), 5.0)
    finally:
        await breaker.aclose()
    after = [t for t in probed if t > failed]
    gaps = [later - earlier for earlier, later in itertools.pairwise(after)]
    assert all(gap < interval * 1.75 for gap in gaps), gaps  # doubled would be 0.4, 0.8


async def test_calls_failing_after_the_circuit_opened_leave_one_probe_running() -> None:
    """Three calls in flight fail together: the circuit opens, and opens again twice; one
    watcher probes, not three."""
    gate = asyncio.Event()

    async def in_flight() -> None:
        await gate.wait()
        raise httpx.ConnectError("refused")

    breaker = Breaker("users_service", fail_max=1, reset_timeout=30, probe_interval=0.05)
    breaker.watch(never_healthy)
    try:
        calls = [asyncio.create_task(breaker.call(in_flight)) for _ in range(3)]
        await asyncio.sleep(0.01)
        gate.set()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(each, Exception) for each in outcomes), outcomes
        assert breaker.state == "open"
        assert probe_tasks() == ["breaker-probe-users_service"]
    finally:
        await breaker.aclose()
    assert probe_tasks() == []


async def test_a_circuit_opened_again_as_it_closed_is_still_watched() -> None:
    """The trial after the reset timeout succeeds (closed: the sleeping watcher is
    cancelled) and the very next call fails (open again) before the cancelled watcher
    has finished: a new watcher takes over, or nobody would probe until the timeout."""
    breaker = Breaker("users_service", fail_max=1, reset_timeout=0.2, probe_interval=30)
    breaker.watch(never_healthy)
    try:
        with pytest.raises(CircuitBreakerError):
            await breaker.call(refused)
        await asyncio.sleep(0.25)
        assert breaker.state == "half_open"  # by the timeout; the watcher sleeps on
        assert await breaker.call(fine) == "fine"
        assert breaker.state == "closed"
        with pytest.raises(CircuitBreakerError):  # in the same turn of the loop
            await breaker.call(refused)
        await asyncio.sleep(0.01)  # the cancelled watcher is gone
        assert probe_tasks() == ["breaker-probe-users_service"]
    finally:
        await breaker.aclose()


async def test_a_closed_breaker_starts_no_probe() -> None:
    breaker = Breaker("users_service", fail_max=1, reset_timeout=30, probe_interval=0.01)
    breaker.watch(never_healthy)
    await breaker.aclose()
    with pytest.raises(CircuitBreakerError):
        await breaker.call(refused)
    await asyncio.sleep(0.05)
    assert probe_tasks() == []


async def test_probes_run_in_no_request_s_context() -> None:
    """The request whose failure opened the circuit does not lend the probes its id: their
    logs and spans would be filed under it."""
    ids: list[str] = []
    probed = asyncio.Event()

    async def probe(seconds: float) -> bool:
        ids.append(request_id_var.get())
        probed.set()
        return False

    breaker = Breaker("users_service", fail_max=1, reset_timeout=30, probe_interval=0.01)
    breaker.watch(probe)
    token = request_id_var.set("the-request-that-failed")
    try:
        with pytest.raises(CircuitBreakerError):
            await breaker.call(refused)
    finally:
        request_id_var.reset(token)
    try:
        await asyncio.wait_for(probed.wait(), 1.0)
    finally:
        await breaker.aclose()
    assert set(ids) == {"-"}


async def test_probes_are_bounded_and_stop_with_the_client(users_process: RunningProcess) -> None:
    interval = 0.1
    down = http_response(503, "Service Unavailable", content_type="text/plain")
    async with FakeServer(down) as service:
        async with gateway_for(
            users_process.url,
            service.url,
            breaker_fail_max=1,
            breaker_reset_timeout=30,
            breaker_probe_interval=interval,
        ) as (gateway, app):
            error_of(await gateway.get("/orders"), 502, "UPSTREAM_ERROR")
            assert orders_breaker(app).state == "open"
            assert probe_tasks() == ["breaker-probe-orders_service"]
            before = health_probes(service)
            await asyncio.sleep(1.0)
            probes = health_probes(service) - before
            assert 5 <= probes <= 1.0 / interval + 1, f"{probes} probes in 1 s"
            assert orders_breaker(app).state == "open"
            assert service_calls(service) == ["/orders"], "probes are no calls"

        assert probe_tasks() == [], "closing the client stops its probes"
        after = health_probes(service)
        await asyncio.sleep(3 * interval)
        assert health_probes(service) == after


async def test_a_hanging_health_is_probed_one_at_a_time(users_process: RunningProcess) -> None:
    """Each probe times out within the interval: never two in flight, never faster."""
    interval = 0.1
    async with (
        FakeServer(None) as service,
        gateway_for(
            users_process.url,
            service.url,
            breaker_fail_max=1,
            breaker_reset_timeout=30,
            breaker_probe_interval=interval,
            upstream_timeout=0.3,
        ) as (gateway, app),
    ):
        error_of(await gateway.get("/orders"), 504, "UPSTREAM_TIMEOUT")
        assert orders_breaker(app).state == "open"
        before = service.connections
        await asyncio.sleep(1.0)
        probes = service.connections - before
        # A probe every interval plus its own timeout (one interval): about 5 in 1 s.
        assert 2 <= probes <= 0.5 / interval + 1, f"{probes} probes in 1 s"
        assert orders_breaker(app).state == "open"


async def test_without_probes_answering_the_reset_timeout_still_half_opens(
    users_process: RunningProcess,
) -> None:
    """The probes only shorten the wait: /health down, the timeout still brings the trial."""
    async with (
        FakeServer(BROKEN) as service,
        gateway_for(
            users_process.url,
            service.url,
            breaker_fail_max=1,
            breaker_reset_timeout=0.5,
            breaker_probe_interval=0.1,
        ) as (gateway, app),
    ):
        error_of(await gateway.get("/orders"), 502, "UPSTREAM_ERROR")
        breaker = orders_breaker(app)
        await asyncio.sleep(0.3)
        assert breaker.state == "open", "/health answers 500: no probe half-opens it"
        await wait_for_state(breaker, "half_open", within=1.0)
        service.response = http_response(
            200, {"success": True, "data": [], "meta": {"total": 0, "limit": 1, "offset": 0}}
        )
        assert (await gateway.get("/orders")).status_code == 200
        assert breaker.state == "closed"
        await asyncio.sleep(0.05)
        assert probe_tasks() == []


# --------------------------------------------------------------------------- time zones


@pytest.fixture
def local_time_behind_utc() -> Iterator[None]:
    """This process's local clock five hours behind UTC (a POSIX TZ: no zone files needed)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "EST5"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


async def test_the_reset_timeout_is_counted_in_utc_whatever_the_local_zone(
    users_process: RunningProcess, local_time_behind_utc: None
) -> None:
    """aiobreaker stamps the opening in naive UTC: the wait must be measured in UTC too, or a
    gateway west of UTC would refuse for hours (and one east of it would not refuse at all)."""
    async with (
        FakeServer(BROKEN) as service,
        gateway_for(
            users_process.url, service.url, breaker_fail_max=1, breaker_reset_timeout=30
        ) as (gateway, app),
    ):
        error_of(await gateway.get("/orders"), 502, "UPSTREAM_ERROR")
        assert 29 <= int(assert_unavailable(await gateway.get("/orders"))) <= 30
        assert orders_breaker(app).state == "open"
        assert 29 <= (await orders_report(gateway))["retry_after_s"] <= 30


# --------------------------------------------------------------------------- our own fault


@pytest.mark.parametrize("transport", ["raw", "aiohttp", "httpx"])
async def test_a_request_of_ours_that_breaks_http_is_not_held_against_the_service(
    transport: str,
) -> None:
    """A header value HTTP forbids (a NUL) is our own doing, refused before any byte goes
    out: on either transport it is neither a failure (the circuit would open on us) nor a
    success, and the caller gets the error it raised (httpx's and clients/raw.py's is
    httpx.LocalProtocolError, a transport error, so 503; aiohttp's a ValueError, a bug of
    ours, so 500), not something else in its place."""
    async with FakeServer(BROKEN) as service:
        client = users_client(service.url, fail_max=2, transport=transport)
        breaker = client.breaker
        try:
            with pytest.raises(ApiError, match="invalid response"):
                await client.get_user(str(uuid.uuid4()))
            assert breaker.failures == 1
            token = request_id_var.set("a\x00b")  # goes out as X-Request-ID
            try:
                for _ in range(3):
                    expected = ValueError if transport == "aiohttp" else ApiError
                    with pytest.raises(expected) as raised:
                        await client.get_user(str(uuid.uuid4()))
                    if transport != "aiohttp":
                        assert isinstance(raised.value, ApiError)  # what pytest.raises took
                        assert raised.value.status == 503
            finally:
                request_id_var.reset(token)
            assert breaker.failures == 1  # not 2 (open), not 0 (a success)
            assert breaker.state == "closed"
            assert len(service_calls(service)) == 1  # nothing of the bad requests went out
        finally:
            await client.aclose()
