"""Retries by policy: a read whose connection broke is sent once more; a write only with
an Idempotency-Key; never a timeout or an answer; never past the call's deadline. Each
retry is counted in /status and in /metrics, and a call counts once in its breaker."""

from __future__ import annotations

import gzip
import time
import uuid
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from apicore.errors import ApiError
from graphql_gateway.clients.breaker import Breaker
from graphql_gateway.clients.errors import is_service_fault
from graphql_gateway.clients.orders import OrdersClient
from tests.conftest import gateway_for
from tests.support.envelope import data_of, error_of
from tests.support.fake_servers import FakeServer, http_response
from tests.support.procs import RunningProcess, free_port

CLOSE = b""  # read the request, close the connection without a word
ORDERS = http_response(
    200, {"success": True, "data": [], "meta": {"total": 0, "limit": 100, "offset": 0}}
)
ORDER = {"id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "items": [], "status": "created"}
CREATED = http_response(201, {"success": True, "data": ORDER})
NEW_ORDER = {"user_id": ORDER["user_id"], "items": [{"product": "x", "quantity": 1, "price": 1}]}


def orders_client(app: FastAPI) -> OrdersClient:
    return app.state.clients.orders


async def retries_in_status(gateway: httpx.AsyncClient) -> dict[str, int]:
    return data_of(await gateway.get("/status"))["downstream_retries"]


async def retries_in_metrics(gateway: httpx.AsyncClient, service: str) -> float:
    response = await gateway.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if (
                sample.name == "gateway_downstream_retries_total"
                and sample.labels.get("service") == service
            ):
                return sample.value
    return 0.0


def own_client(url: str, *, timeout: float = 5.0, transport: str = "raw") -> OrdersClient:
    breaker = Breaker("orders_service", fail_max=5, reset_timeout=30, is_fault=is_service_fault)
    return OrdersClient(
        label="Orders service", base_url=url, timeout=timeout, breaker=breaker, transport=transport
    )


# --------------------------------------------------------------------------- reads


async def test_a_read_whose_connection_broke_is_retried_once(
    users_process: RunningProcess,
) -> None:
    async with (
        FakeServer(ORDERS, script=[CLOSE]) as service,
        gateway_for(users_process.url, service.url) as (gateway, app),
    ):
        in_metrics = await retries_in_metrics(gateway, "orders_service")

        response = await gateway.get("/orders")

        assert response.status_code == 200, response.text
        assert service.paths == ["/orders", "/orders"]
        assert await retries_in_status(gateway) == {"users_service": 0, "orders_service": 1}
        status = data_of(await gateway.get("/status"))
        assert status["downstream_calls"]["orders_service"] == 2, "both were sent"
        assert await retries_in_metrics(gateway, "orders_service") == in_metrics + 1
        assert orders_client(app).breaker.failures == 0, "the retry succeeded: no failure"


async def test_a_read_retried_in_vain_is_one_failure(users_process: RunningProcess) -> None:
    async with (
        FakeServer(CLOSE) as service,
        gateway_for(users_process.url, service.url, breaker_fail_max=3) as (gateway, app),
    ):
        response = await gateway.get(f"/orders/{uuid.uuid4()}")
        error_of(response, 503, "SERVICE_UNAVAILABLE")
        assert len(service.requests) == 2, "retried once, not more"
        assert await retries_in_status(gateway) == {"users_service": 0, "orders_service": 1}
        assert orders_client(app).breaker.failures == 1, "one call, one failure"


NOT_RETRIED = {
    "a timeout": (None, 504, "UPSTREAM_TIMEOUT"),
    "a 500": (http_response(500, "oops", content_type="text/plain"), 502, "UPSTREAM_ERROR"),
    "a 503": (http_response(503, "busy", content_type="text/plain"), 502, "UPSTREAM_ERROR"),
}


@pytest.mark.parametrize(("answer", "status", "code"), NOT_RETRIED.values(), ids=NOT_RETRIED.keys())
async def test_timeouts_and_answers_are_not_retried(
    users_process: RunningProcess, answer: bytes | None, status: int, code: str
) -> None:
    async with (
        FakeServer(answer) as service,
        gateway_for(users_process.url, service.url, upstream_timeout=0.5) as (gateway, app),
    ):
        error_of(await gateway.get("/orders"), status, code)
        assert len(service.requests) == 1
        assert orders_client(app).retries == 0
        assert (await retries_in_status(gateway))["orders_service"] == 0


async def test_a_refused_connection_is_not_retried(users_process: RunningProcess) -> None:
    """Nothing was sent: the service is not there, and asking again 5 ms later won't help."""
    nobody = f"http://127.0.0.1:{free_port()}"
    async with gateway_for(users_process.url, nobody) as (gateway, app):
        error_of(await gateway.get("/orders"), 503, "SERVICE_UNAVAILABLE")
        assert (orders_client(app).calls, orders_client(app).retries) == (1, 0)


# --------------------------------------------------------------------------- writes


async def test_a_write_without_an_idempotency_key_is_not_retried(
    users_process: RunningProcess,
) -> None:
    async with (
        FakeServer(ORDERS, script=[CLOSE]) as service,
        gateway_for(users_process.url, service.url) as (gateway, _),
    ):
        error_of(await gateway.delete(f"/orders/{uuid.uuid4()}"), 503, "SERVICE_UNAVAILABLE")
        assert len(service.requests) == 1, "the service may have done it: not asked twice"
        assert await retries_in_status(gateway) == {"users_service": 0, "orders_service": 0}


async def test_a_write_is_retried_only_with_an_idempotency_key() -> None:
    async with FakeServer(CREATED, script=[CLOSE, CLOSE]) as service:
        client = own_client(service.url)
        try:
            with pytest.raises(ApiError) as refused:
                await client.send("POST", "/orders", json=NEW_ORDER)
            assert (refused.value.status, refused.value.code) == (503, "SERVICE_UNAVAILABLE")
            assert len(service.requests) == 1
            assert client.retries == 0

            key = str(uuid.uuid4())
            upstream = await client.send(
                "POST", "/orders", json=NEW_ORDER, headers={"Idempotency-Key": key}
            )
            assert upstream.status == 201
            assert upstream.data == ORDER
            assert service.paths == ["/orders"] * 3
            assert all(
                f"idempotency-key: {key}".encode() in head.lower() for head in service.requests[1:]
            )
            assert client.retries == 1
            assert client.breaker.failures == 0
        finally:
            await client.aclose()


# --------------------------------------------------------------------------- the deadline


async def test_no_retry_that_would_pass_the_deadline() -> None:
    """The connection breaks 0.45 s into a 0.5 s budget: no time left, no retry."""
    async with FakeServer(CLOSE, delay=0.45) as service:
        client = own_client(service.url, timeout=0.5)
        try:
            started = time.monotonic()
            with pytest.raises(ApiError) as failed:
                await client.send("GET", "/orders")
            assert failed.value.code == "SERVICE_UNAVAILABLE"
            assert time.monotonic() - started < 0.55
            assert (len(service.requests), client.retries) == (1, 0)
        finally:
            await client.aclose()


async def test_a_retry_with_time_left_is_made() -> None:
    """The same break 0.1 s into the budget: time for one retry (which breaks too)."""
    async with FakeServer(CLOSE, delay=0.1) as service:
        client = own_client(service.url, timeout=0.5)
        try:
            with pytest.raises(ApiError) as failed:
                await client.send("GET", "/orders")
            assert failed.value.code == "SERVICE_UNAVAILABLE"
            assert (len(service.requests), client.retries) == (2, 1)
        finally:
            await client.aclose()


async def test_a_retry_ends_at_the_calls_deadline() -> None:
    """A retry gets what is left of the budget, not a budget of its own."""
    async with FakeServer(ORDERS, script=[CLOSE], delay=0.3) as service:
        client = own_client(service.url, timeout=0.5)
        try:
            started = time.monotonic()
            with pytest.raises(ApiError) as failed:
                await client.send("GET", "/orders")
            elapsed = time.monotonic() - started
            assert failed.value.code == "UPSTREAM_TIMEOUT"  # its answer would come at ~0.6 s
            assert elapsed < 0.6, f"answered after {elapsed:.2f}s with a 0.5 s budget"
            assert (len(service.requests), client.retries) == (2, 1)
        finally:
            await client.aclose()


# --------------------------------------------------------------------------- both transports


@pytest.mark.parametrize("transport", ["raw", "aiohttp", "httpx"])
async def test_retries_are_the_same_on_either_transport(
    users_process: RunningProcess, transport: str
) -> None:
    """GATEWAY_HTTP_TRANSPORT changes what sends, not what is sent again: aiohttp's own
    resending of GET, PUT and DELETE on a broken connection is off (clients/transport.py)."""
    async with (
        FakeServer(ORDERS, script=[CLOSE, ORDERS, CLOSE]) as service,
        gateway_for(users_process.url, service.url, http_transport=transport) as (gateway, _),
    ):
        assert (await gateway.get("/orders")).status_code == 200
        assert service.paths == ["/orders", "/orders"]
        error_of(await gateway.delete(f"/orders/{uuid.uuid4()}"), 503, "SERVICE_UNAVAILABLE")
        assert len(service.requests) == 3
        assert await retries_in_status(gateway) == {"users_service": 0, "orders_service": 1}


@pytest.mark.parametrize("transport", ["raw", "aiohttp", "httpx"])
async def test_a_refused_connection_and_a_timeout_mean_the_same_on_either_transport(
    users_process: RunningProcess, transport: str
) -> None:
    refused = f"http://127.0.0.1:{free_port()}"
    async with gateway_for(users_process.url, refused, http_transport=transport) as (gw, app):
        error_of(await gw.get("/orders"), 503, "SERVICE_UNAVAILABLE")
        assert (orders_client(app).calls, orders_client(app).retries) == (1, 0)
    async with (
        FakeServer(ORDERS, delay=2.0) as slow,
        gateway_for(
            users_process.url, slow.url, http_transport=transport, upstream_timeout=0.3
        ) as (gw, _),
    ):
        error_of(await gw.get("/orders"), 504, "UPSTREAM_TIMEOUT")


@pytest.mark.parametrize("transport", ["raw", "aiohttp", "httpx"])
async def test_the_services_get_the_headers_httpx_writes(transport: str) -> None:
    """Nothing added on the way: a POST without a body carries no Content-Type (the
    services refuse a write whose body is not declared JSON), a JSON one its own."""
    async with FakeServer(CREATED) as service:
        client = own_client(service.url, transport=transport)
        try:
            await client.send("POST", "/internal/users/x/order-book/close")
            await client.send("POST", "/orders", json=NEW_ORDER)
        finally:
            await client.aclose()
    empty, with_body = (head.lower() for head in service.requests)
    assert b"content-type" not in empty, empty
    assert b"content-length: 0" in empty, empty
    assert with_body.count(b"content-type") == 1, with_body
    assert b"content-type: application/json" in with_body, with_body


@pytest.mark.parametrize("transport", ["raw", "aiohttp", "httpx"])
async def test_a_compressed_answer_is_read_on_either_transport(transport: str) -> None:
    """The services do not compress, but an answer that does is decoded, not passed on."""
    envelope = {"success": True, "data": ORDER}
    body = gzip.compress(orjson.dumps(envelope))
    answer = http_response(200, body, headers={"Content-Encoding": "gzip", "ETag": '"v1"'})
    async with FakeServer(answer) as service:
        client = own_client(service.url, transport=transport)
        try:
            upstream = await client.send("GET", f"/orders/{ORDER['id']}")
        finally:
            await client.aclose()
    assert (upstream.status, upstream.body, upstream.etag) == (200, envelope, '"v1"')
    assert orjson.loads(upstream.raw) == envelope


@pytest.mark.parametrize("transport", ["raw", "aiohttp", "httpx"])
async def test_no_cookie_a_service_sets_goes_back_on_either_transport(transport: str) -> None:
    """One client carries every caller's requests: a cookie set in one caller's answer
    must not ride along with the next caller's request."""
    answer = http_response(
        200,
        {"success": True, "data": ORDER},
        headers={
            "Set-Cookie": "session=first-callers; Path=/",
        },
    )
    async with FakeServer(answer) as service:
        # By host name, as in docker-compose and Kubernetes (aiohttp's own jar keeps no
        # cookie of an IP address, so 127.0.0.1 would prove nothing there).
        client = own_client(service.url.replace("127.0.0.1", "localhost"), transport=transport)
        try:
            for _ in range(3):
                assert (await client.send("GET", f"/orders/{ORDER['id']}")).status == 200
        finally:
            await client.aclose()
    assert len(service.requests) == 3
    for head in service.requests:
        assert b"cookie:" not in head.lower(), head


async def test_a_plain_read_goes_out_as_httpx_would_write_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The GETs of our own calls skip httpx's request building (clients/transport.py,
    `DirectRequests`): they must carry the bytes `build_request` would have written."""
    params: dict[str, str | int] = {
        "userIds": f"{uuid.uuid4()},{uuid.uuid4()}",
        "limit": 10,
        "fields": "id,status",
        "q": "a b/ä~*'()",
    }
    async with FakeServer(ORDERS) as service:
        client = own_client(service.url)
        built = 0
        build_request = client.http.build_request

        def counted(*args, **kwargs):
            nonlocal built
            built += 1
            return build_request(*args, **kwargs)

        monkeypatch.setattr(client.http, "build_request", counted)
        sent: list[Any] = []
        send = client._send

        async def recorded(request: Any) -> Any:
            sent.append(request)
            return await send(request)

        client._send = recorded
        try:
            await client.send("GET", "/orders", params=params)
            # Before aiohttp reads it: the URL and headers httpx would have made.
            expected = build_request("GET", "/orders", params=params, headers={"x-request-id": "-"})
            assert sent[0].target == str(expected.url)
            assert sent[0].headers == dict(expected.headers)
            await client.send("GET", "/orders", params=list(params.items()))  # not a dict
            await client.send("GET", f"/orders/{ORDER['id']}")
            await client.send("GET", f"/orders/{ORDER['id']}", params=[])
            assert built == 2  # the dict and no params went the direct way
        finally:
            await client.aclose()
    direct, through_httpx, plain, plain_through_httpx = service.requests
    assert direct == through_httpx
    assert plain == plain_through_httpx
    assert direct.startswith(b"GET /orders?userIds="), direct
