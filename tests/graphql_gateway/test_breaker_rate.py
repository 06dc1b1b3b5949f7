"""The circuit opens at a high failure *rate*, not only after failures in a row
(graphql_gateway/clients/breaker.py), and the gateway's own queue for a connection is never
held against a service (graphql_gateway/clients/admission.py).

The rule is tested first on the breaker alone, on a clock the test moves (the window is
about time), then end to end: the gateway in process over the real users service behind a
proxy that fails a share of its calls, and over a proxy that holds every call so the
gateway's connections run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from aiobreaker import CircuitBreakerError
from fastapi import FastAPI

from graphql_gateway.clients.admission import Admission, Overloaded, is_bulk
from graphql_gateway.clients.breaker import Breaker, OutcomeWindow
from graphql_gateway.clients.errors import is_service_fault
from tests.conftest import gateway_for
from tests.support.envelope import data_of, error_of
from tests.support.fake_servers import http_response
from tests.support.metrics import sample
from tests.support.procs import RunningProcess
from tests.support.proxy import Doctor, Forward, Proxy

pytestmark = pytest.mark.slow  # failure windows filled and waited out

BOOM = http_response(500, "boom", content_type="text/plain")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fault(Exception):
    """What the service did (is_fault says so)."""


class Ours(Exception):
    """Not the service's doing: neither a failure nor a success."""


def breaker(clock: Clock, **overrides: object) -> Breaker:
    options: dict = {"fail_max": 5, "reset_timeout": 30, "min_calls": 20, "failure_rate": 50.0}
    options.update(overrides)
    made = Breaker("rate_test", is_fault=lambda exc: not isinstance(exc, Ours), **options)
    made.window = OutcomeWindow(10.0, clock=clock)
    return made


async def ok() -> str:
    return "ok"


async def fail() -> str:
    raise Fault


async def ours() -> str:
    raise Ours


def one_in(n: int) -> Callable[[int], bool]:
    """A pattern for `run`: call i fails when i is a multiple of n."""
    return lambda i: i % n == 0


async def run(b: Breaker, pattern: Callable[[int], bool], calls: int, clock: Clock, step: float):
    """`calls` calls, call i failing when pattern(i); the number of the call that opened
    the circuit (None: it stayed closed)."""
    for i in range(calls):
        clock.now += step
        with contextlib.suppress(Fault, CircuitBreakerError):
            await b.call(fail if pattern(i) else ok)
        if b.state != "closed":
            return i + 1
    return None


async def test_half_of_the_calls_failing_opens_the_circuit_once_the_window_holds_enough() -> None:
    clock = Clock()
    b = breaker(clock)
    # Every other call fails: never two in a row, so the consecutive count alone never trips.
    opened = await run(b, lambda i: i % 2 == 1, 2000, clock, 0.005)
    assert opened == 20  # min_calls: the 20th call makes 10 of 20
    assert b.failures == 1


async def test_four_failures_in_five_open_it_too() -> None:
    clock = Clock()
    opened = await run(breaker(clock), lambda i: i % 5 != 4, 2000, clock, 0.005)
    # 4, 4, 4, 4 failures then a success, over and over: 16 of the first 20 failed, the
    # 20th was a success (only a failure opens), the 21st a failure.
    assert opened == 21


async def test_five_or_twenty_percent_never_opens_it() -> None:
    for every in (20, 5):
        clock = Clock()
        assert await run(breaker(clock), one_in(every), 2000, clock, 0.005) is None


async def test_below_min_calls_no_rate_opens_it_but_fail_max_in_a_row_still_does() -> None:
    clock = Clock()
    b = breaker(clock, fail_max=100)
    assert await run(b, lambda i: True, 19, clock, 0.01) is None
    assert b.window_report() == {"calls": 19, "failures": 19, "failure_rate": 100.0}
    assert await run(b, lambda i: True, 1, clock, 0.01) == 1

    clock = Clock()
    fast = breaker(clock)  # fail_max 5, min_calls 20: five in a row open it at once
    assert await run(fast, lambda i: True, 100, clock, 0.01) == 5


async def test_the_window_is_the_last_ten_seconds() -> None:
    clock = Clock()
    b = breaker(clock, fail_max=100)
    # 19 failures: below min_calls; then 11 s pass, and they are gone.
    assert await run(b, lambda i: True, 19, clock, 0.01) is None
    clock.now += 11
    assert b.window_report()["calls"] == 0
    # 30 calls, 9 failing: 30 % of the window, and the old 19 are gone.
    assert await run(b, lambda i: i % 10 < 3, 30, clock, 0.01) is None
    assert b.window_report() == {"calls": 30, "failures": 9, "failure_rate": 30.0}


async def test_what_is_not_the_service_s_doing_is_never_in_the_window() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(50):
        with pytest.raises(Ours):
            await b.call(ours)
    assert b.window_report()["calls"] == 0
    assert b.state == "closed"


async def test_a_closed_circuit_starts_with_an_empty_window_and_trials_are_not_in_it() -> None:
    clock = Clock()
    b = breaker(clock, fail_max=100)
    assert await run(b, lambda i: i % 2 == 1, 100, clock, 0.01) == 20
    b._breaker.half_open()
    await b.call(ok)  # the trial: closes the circuit
    assert b.state == "closed"
    assert b.window_report()["calls"] == 0
    # The same half-failing traffic opens it again only once 20 new calls are in.
    assert await run(b, lambda i: i % 2 == 1, 100, clock, 0.01) == 20


async def test_the_window_is_cheap_and_exact_over_many_slices() -> None:
    clock = Clock()
    window = OutcomeWindow(10.0, clock=clock)
    outcomes = []
    for i in range(5000):
        clock.now += 0.013
        failed = i % 7 == 0
        window.record(failed)
        outcomes.append((clock.now, failed))
    calls, failures = window.counts()
    # A slice is a second: the window holds the last 9 to 10 seconds.
    recent = [f for t, f in outcomes if t > clock.now - 10.0]
    older = [f for t, f in outcomes if t > clock.now - 9.0]
    assert len(older) <= calls <= len(recent)
    assert sum(older) <= failures <= sum(recent)


# ------------------------------------------------------------------ end to end, over HTTP


@pytest.fixture
async def users_ids(users_process: RunningProcess) -> list[str]:
    async with httpx.AsyncClient(base_url=users_process.url, timeout=10) as direct:
        made = [
            await direct.post(
                "/users", json={"email": f"rate-{uuid.uuid4().hex}@t.example", "name": "Прораб"}
            )
            for _ in range(3)
        ]
    return [data_of(each, 201)["id"] for each in made]


def failing_every(n: int, of: int):
    """A doctor failing `n` of every `of` GET /users/{id} with a 500, forwarding the rest."""
    counter = itertools.count()

    async def doctor(method: str, target: str, forward: Forward) -> bytes | None:
        if method == "GET" and target.startswith("/users/") and next(counter) % of < n:
            return BOOM
        return await forward()

    return doctor


@asynccontextmanager
async def behind_proxy(
    users_process: RunningProcess, orders_process: RunningProcess, doctor: Doctor, **settings
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """A fresh gateway in process whose calls to the users service go through `doctor`."""
    async with (
        Proxy(users_process.url, doctor) as proxy,
        gateway_for(proxy.url, orders_process.url, **settings) as pair,
    ):
        yield pair


async def calls_until_open(
    client: httpx.AsyncClient, app, ids: list[str], calls: int
) -> tuple[int | None, dict[int, int]]:
    statuses: dict[int, int] = {}
    b = app.state.clients.users.breaker
    for i in range(calls):
        answer = await client.get(f"/users/{ids[i % len(ids)]}")
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        if b.state != "closed":
            return i + 1, statuses
    return None, statuses


async def test_half_of_the_users_calls_failing_opens_its_circuit_within_the_window(
    users_process: RunningProcess, orders_process: RunningProcess, users_ids: list[str]
) -> None:
    async with behind_proxy(users_process, orders_process, failing_every(1, 2)) as (client, app):
        started = asyncio.get_running_loop().time()
        opened, statuses = await calls_until_open(client, app, users_ids, 2000)
        took = asyncio.get_running_loop().time() - started
        assert opened is not None, statuses
        assert opened <= 21, statuses
        assert took < 10.0  # within the window
        assert statuses == {200: opened // 2, 502: opened - opened // 2}
        health = data_of(await client.get("/health"))["circuit_breakers"]["users_service"]
        assert health["state"] in {"open", "half_open"}
        metrics_text = (await client.get("/metrics")).text
        assert sample(metrics_text, "gateway_breaker_state", service="users_service") >= 1


async def test_five_percent_failing_never_opens_it_in_2000_calls(
    users_process: RunningProcess, orders_process: RunningProcess, users_ids: list[str]
) -> None:
    async with behind_proxy(users_process, orders_process, failing_every(1, 20)) as (
        client,
        app,
    ):
        opened, statuses = await calls_until_open(client, app, users_ids, 2000)
        assert opened is None
        assert statuses == {200: 1900, 502: 100}
        window = data_of(await client.get("/health"))["circuit_breakers"]["users_service"]
        assert window["state"] == "closed"
        assert window["window"]["calls"] > 0
        assert 0 < window["window"]["failure_rate"] < 50
        assert window["window"]["min_calls"] == 20
        assert window["window"]["opens_at_rate"] == 50.0
        metrics_text = (await client.get("/metrics")).text
        rate = sample(metrics_text, "gateway_breaker_failure_rate", service="users_service")
        assert 0 < rate < 0.5


# ------------------------------------------------------------------ the gateway's own queue


async def test_a_call_that_waits_too_long_for_a_connection_is_shed_and_not_held_against_it(
    users_process: RunningProcess, orders_process: RunningProcess, users_ids: list[str]
) -> None:
    release = asyncio.Event()

    async def slow(method: str, target: str, forward: Forward) -> bytes | None:
        if method == "GET" and target.startswith("/users/"):
            await release.wait()
        return await forward()

    async with (
        Proxy(users_process.url, slow) as proxy,
        gateway_for(proxy.url, orders_process.url, pool_max_connections=2, pool_timeout=0.3) as (
            client,
            app,
        ),
    ):
        held = [asyncio.create_task(client.get(f"/users/{users_ids[0]}")) for _ in range(2)]
        await asyncio.sleep(0.2)
        shed = await asyncio.gather(*(client.get(f"/users/{users_ids[1]}") for _ in range(30)))
        for answer in shed:
            assert "busy" in error_of(answer, 503, "SERVICE_UNAVAILABLE")["message"]
            assert answer.headers["retry-after"] == "1"
        release.set()
        assert [data_of(each)["id"] for each in await asyncio.gather(*held)] == [users_ids[0]] * 2
        b = app.state.clients.users.breaker
        assert b.state == "closed"
        assert b.failures == 0
        assert b.window_report() == {"calls": 2, "failures": 0, "failure_rate": 0.0}
        metrics_text = (await client.get("/metrics")).text
        assert (
            sample(
                metrics_text,
                "gateway_downstream_requests_total",
                service="users_service",
                outcome="shed",
            )
            >= 30
        )
        # And served as soon as a connection is free again.
        data_of(await client.get(f"/users/{users_ids[1]}"))


async def test_the_service_s_time_starts_when_the_call_has_its_connection(
    users_process: RunningProcess, orders_process: RunningProcess, users_ids: list[str]
) -> None:
    """Calls queued behind slow ones wait longer than the upstream timeout in all, but each
    is answered by the service within it: none is a timeout, none counts as a failure."""

    async def slowish(method: str, target: str, forward: Forward) -> bytes | None:
        if method == "GET" and target.startswith("/users/"):
            await asyncio.sleep(0.25)
        return await forward()

    settings = {"pool_max_connections": 1, "pool_timeout": 5.0, "upstream_timeout": 0.6}
    async with behind_proxy(users_process, orders_process, slowish, **settings) as (client, app):
        answers = await asyncio.gather(*(client.get(f"/users/{users_ids[0]}") for _ in range(6)))
        # The last one waited ~1.25 s in all, twice the upstream timeout.
        assert [each.status_code for each in answers] == [200] * 6
        assert app.state.clients.users.breaker.window_report()["failures"] == 0


def test_bulk_reads_are_pages_over_the_default_size_or_batches_without_a_limit() -> None:
    assert is_bulk("GET", "/orders", {"limit": 1000, "offset": 0})
    assert is_bulk("GET", "/orders?userId=x&limit=101", None)
    assert is_bulk("GET", "/orders", {"userIds": "a,b"})
    assert not is_bulk("GET", "/orders", {"userIds": "a,b", "limit": 100})
    assert not is_bulk("GET", "/orders?limit=100", None)
    assert is_bulk("GET", "/orders?limit=1000.0", None)  # the services read it as 1000
    assert is_bulk("GET", "/orders?limit=abc", None)  # unreadable: the larger kind
    assert not is_bulk("GET", "/orders/1", None)
    assert not is_bulk("POST", "/orders", {"limit": 1000})
    assert is_bulk("GET", "/orders?limit=" + "9" * 5000, None)


async def test_bulk_calls_hold_at_most_half_the_connections() -> None:
    admission = Admission("svc", 4, 0.2)
    entered = asyncio.Event()
    leave = asyncio.Event()

    async def hold(bulk: bool) -> None:
        async with admission.slot(bulk):
            entered.set()
            await leave.wait()

    bulk = [asyncio.create_task(hold(True)) for _ in range(2)]
    await asyncio.sleep(0.01)
    # A third bulk call waits (and is shed); two ordinary ones still get in at once.
    with pytest.raises(Overloaded):
        async with admission.slot(True):
            pass
    plain = [asyncio.create_task(hold(False)) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert all(not task.done() for task in plain)  # holding, not refused
    with pytest.raises(Overloaded):
        async with admission.slot(False):
            pass
    leave.set()
    await asyncio.gather(*bulk, *plain)
    async with admission.slot(True):
        pass  # every slot given back
    assert not is_service_fault(Overloaded("svc", 0.2))
