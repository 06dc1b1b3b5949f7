"""One pooled httpx client per service, behind its circuit breaker: sending, retrying and
their metrics. How a plain GET is built without httpx (the request fast path) is in
clients/transport.py; what sends it, clients/raw.py (the default) or transport.py."""

from __future__ import annotations

import asyncio
import http.cookiejar
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import httpx
import orjson

from apicore.errors import SERVICE_UNAVAILABLE, UPSTREAM_ERROR, UPSTREAM_TIMEOUT, ApiError
from apicore.logging import request_id_var
from apicore.tracing import traced_send
from graphql_gateway import metrics
from graphql_gateway.clients.admission import Admission, Overloaded, is_bulk
from graphql_gateway.clients.breaker import Breaker
from graphql_gateway.clients.errors import BadUpstreamResponse, mapped_upstream_errors
from graphql_gateway.clients.raw import RawTransport
from graphql_gateway.clients.transport import (
    Answer,
    DirectRequest,
    DirectRequests,
    ServiceTransport,
)

logger = logging.getLogger("graphql_gateway.clients")

# Seconds before a retry, at random: callers that lost their connections together do not
# all come back in the same millisecond.
RETRY_DELAY = (0.005, 0.05)
# A retry must leave at least this much of the deadline, or it could only time out.
RETRY_MIN_BUDGET = 0.1
READS = frozenset({"GET", "HEAD"})
# The connection broke after the request went out and before its answer was complete:
# typically a pooled keep-alive connection the service closed just as we sent on it (or
# a service that died mid-request). Not among them:
# ConnectError (nothing was sent; the service is not listening, and retrying 5-50 ms later
# only doubles the connection attempts of an outage), timeouts (the service is slow, asking
# again adds load and passes the deadline), and any answer, 5xx included.
BROKEN_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
# How a request goes out: our transport's `exchange`, or httpx's `AsyncClient.send`.
Sender = Callable[[httpx.Request | DirectRequest], Awaitable[httpx.Response | Answer]]


@dataclass(slots=True)
class Upstream:
    """A service's answer: its status, its envelope parsed, and the bytes as sent."""

    status: int
    body: dict[str, Any]
    raw: bytes
    etag: str | None = None  # the resource's version, for ETag / If-Match
    replayed: bool = False  # an Idempotency-Key's earlier answer, not a new write
    retry_after: str | None = None  # a service's own Retry-After (a 409 while in flight)

    @property
    def data(self) -> Any:
        return self.body["data"]


def _parse(response: httpx.Response | Answer) -> Upstream:
    """Failures here count against the breaker: 5xx, or anything but our envelope."""
    status = response.status_code
    if status >= 500:
        raise BadUpstreamResponse(f"status {status}", status=status)
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise BadUpstreamResponse("body is not JSON", status=status) from None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise BadUpstreamResponse("body is not the envelope", status=status)
    if body["success"] != (status < 400) or ("data" not in body and "error" not in body):
        raise BadUpstreamResponse("envelope disagrees with status", status=status)
    if not body["success"] and not isinstance(body.get("error"), dict):
        raise BadUpstreamResponse("error envelope without an error", status=status)
    headers = response.headers
    replayed = headers.get("idempotent-replayed") == "true"
    return Upstream(
        status, body, response.content, headers.get("etag"), replayed, headers.get("retry-after")
    )


def may_retry(request: httpx.Request | DirectRequest, exc: Exception) -> bool:
    """Reads, and writes that carry an Idempotency-Key (the service does those once)."""
    if not isinstance(exc, BROKEN_CONNECTION):
        return False
    return request.method in READS or "idempotency-key" in request.headers


def passthrough_error(upstream: Upstream) -> ApiError:
    """A service's 4xx, with its own code, message and details."""
    error = upstream.body["error"]
    return ApiError(
        str(error.get("code", "")),
        str(error.get("message", "")),
        status=upstream.status,
        details=error.get("details"),
        headers={"Retry-After": upstream.retry_after} if upstream.retry_after else None,
    )


_OUTCOMES = {
    UPSTREAM_TIMEOUT: "timeout",
    SERVICE_UNAVAILABLE: "unreachable",
    UPSTREAM_ERROR: "server_error",
}


class ServiceClient:
    def __init__(
        self,
        *,
        label: str,
        base_url: str,
        timeout: float,
        breaker: Breaker,
        max_connections: int = 100,
        pool_timeout: float = 1.0,
        transport: httpx.AsyncBaseTransport | str | None = "raw",
    ) -> None:
        """`transport`: "raw" (clients/raw.py), "aiohttp" (clients/transport.py), "httpx"
        (httpcore), or one given.

        At most `max_connections` calls at once; one that waits `pool_timeout` seconds for
        its turn is shed (clients/admission.py)."""
        self.label = label
        self.breaker = breaker
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.calls = 0  # HTTP requests actually sent (tests and benchmarks count them)
        self.retries = 0  # of those, the ones sent again after a broken connection
        self.admission = Admission(label, max_connections, pool_timeout)
        # One connection more than the calls admitted at once: the breaker's /health probe
        # (not admitted, it bypasses the queue) never makes an admitted call wait in the pool.
        limits = httpx.Limits(
            max_connections=max_connections + 1,
            max_keepalive_connections=max_connections + 1,
            # Below the services' 30 s: we drop idle connections before they do.
            keepalive_expiry=15.0,
        )
        if transport == "raw":
            transport = RawTransport(limits)
        elif transport == "aiohttp":
            transport = ServiceTransport(limits)
        elif transport == "httpx":
            transport = None
        assert transport is None or isinstance(transport, httpx.AsyncBaseTransport)
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            limits=limits,
            transport=transport,
            # One client serves every caller: a cookie a service set must not go back
            # with someone else's request (the direct path keeps none either).
            cookies=http.cookiejar.CookieJar(
                http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
            ),
        )
        # Our transports answer directly (raw.py, transport.py); any other through httpx.
        send: Sender
        ours = isinstance(transport, RawTransport | ServiceTransport)
        if isinstance(transport, RawTransport | ServiceTransport):
            send = transport.exchange
        else:
            # Without our transport send() builds no DirectRequest (`direct` is False).
            send = cast(Sender, self.http.send)
        self._send = traced_send(send)  # with a span and `traceparent` when tracing
        # The request fast path (transport.py), with the headers httpx writes on every
        # request (host, accept, …); None without our transport, or to switch it off.
        self._direct: DirectRequests | None = None
        if ours:
            self._direct = DirectRequests(
                self.base_url,
                dict(self.http.build_request("GET", "/").headers),
                {"timeout": self.http.timeout.as_dict()},
            )
        breaker.watch(self.probe)

    async def aclose(self) -> None:
        await self.breaker.aclose()  # its probes use our http client: stopped first
        await self.http.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Upstream:
        """Send through the breaker; a 4xx comes back as an Upstream, trouble as ApiError.

        A read whose connection broke is sent once more (so is a write with an
        Idempotency-Key header), when the deadline leaves room for it: see may_retry().
        """

        headers = {"x-request-id": request_id_var.get(), **(headers or {})}
        if content is not None:
            headers["content-type"] = "application/json"
        if if_match is not None:
            headers["if-match"] = if_match
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        # Built before the breaker: an error here is about our request, not the service.
        request: httpx.Request | DirectRequest | None = None
        if self._direct is not None:
            has_body = json is not None or content is not None
            request = self._direct.build(method, path, params, headers, has_body=has_body)
        if request is None:
            request = self.http.build_request(
                method, path, params=params, json=json, content=content, headers=headers
            )

        started = 0.0
        slot = self.admission.slot(is_bulk(method, path, params))

        # One call, one outcome for the breaker, however many times it was sent: a retry
        # that succeeds leaves no failure counted (the service answered; the connection
        # that broke was our pool's), and one that fails counts once. The wait for a
        # connection is outside the service's time: a call shed there (Overloaded) is
        # neither a failure nor a success (clients/errors.py).
        async def attempt() -> Upstream:
            nonlocal started
            async with slot:
                started = time.perf_counter()
                return _parse(await self._send_retrying(request))

        outcome = "error"
        try:
            with mapped_upstream_errors(self.label, self.breaker):
                upstream = await self.breaker.call(attempt)
            outcome = "ok" if upstream.status < 400 else "client_error"
            return upstream
        except ApiError as exc:
            if started:
                outcome = _OUTCOMES.get(exc.code, "error")
            else:
                outcome = "shed" if isinstance(exc.__cause__, Overloaded) else "circuit_open"
            raise
        finally:
            metrics.DOWNSTREAM(self.breaker.name, outcome).inc()
            if started:
                elapsed = time.perf_counter() - started
                metrics.DOWNSTREAM_LATENCY(self.breaker.name).observe(elapsed)

    async def _send_retrying(
        self, request: httpx.Request | DirectRequest
    ) -> httpx.Response | Answer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            return await self._exchange(request, deadline)
        except httpx.TransportError as exc:
            pause = random.uniform(*RETRY_DELAY)
            if not may_retry(request, exc) or deadline - loop.time() - pause < RETRY_MIN_BUDGET:
                raise
            logger.info(
                "%s: %s %s again after %r", self.label, request.method, request.url.path, exc
            )
        await asyncio.sleep(pause)
        self.retries += 1
        metrics.DOWNSTREAM_RETRIES(self.breaker.name).inc()
        return await self._exchange(request, deadline)

    async def _exchange(
        self, request: httpx.Request | DirectRequest, deadline: float
    ) -> httpx.Response | Answer:
        self.calls += 1
        # httpx's timeouts bound each read; this bounds the whole answer (and a retry's
        # too), so a service that drips bytes cannot hold a request past the deadline.
        try:
            async with asyncio.timeout_at(deadline):
                return await self._send(request)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no complete answer in {self.timeout}s") from None

    async def fetch(self, method: str, path: str, **kwargs: Any) -> Upstream:
        """Like send(), but a 4xx is raised as the service's own error."""
        upstream = await self.send(method, path, **kwargs)
        if upstream.status >= 400:
            raise passthrough_error(upstream)
        return upstream

    async def probe(self, probe_timeout: float) -> bool:
        """Does the service's /health answer 200 with a success envelope? Not through the
        breaker; also what makes an open circuit half-open (Breaker.watch)."""
        try:
            async with asyncio.timeout(probe_timeout):
                response = await self.http.get("/health", timeout=probe_timeout)
        except (httpx.HTTPError, TimeoutError):
            return False
        if response.status_code != 200:
            return False
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return False
        return isinstance(body, dict) and body.get("success") is True
