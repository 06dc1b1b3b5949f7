"""One pooled httpx client per service, behind its circuit breaker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from apicore.errors import ApiError
from apicore.logging import request_id_var
from apicore.tracing import traced_send
from graphql_gateway.clients.breaker import Breaker
from graphql_gateway.clients.errors import BadUpstreamResponse, mapped_upstream_errors


@dataclass(slots=True)
class Upstream:
    """A service's answer: its status, its envelope parsed, and the bytes as sent."""

    status: int
    body: dict[str, Any]
    raw: bytes

    @property
    def data(self) -> Any:
        return self.body["data"]


def _parse(response: httpx.Response) -> Upstream:
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
    return Upstream(status, body, response.content)


def passthrough_error(upstream: Upstream) -> ApiError:
    """A service's 4xx, with its own code, message and details."""
    error = upstream.body["error"]
    return ApiError(
        str(error.get("code", "")),
        str(error.get("message", "")),
        status=upstream.status,
        details=error.get("details"),
    )


class ServiceClient:
    def __init__(
        self,
        *,
        label: str,
        base_url: str,
        timeout: float,
        breaker: Breaker,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.label = label
        self.breaker = breaker
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.calls = 0  # HTTP requests actually sent (tests and benchmarks count them)
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                # Below the services' 30 s: we drop idle connections before they do.
                keepalive_expiry=15.0,
            ),
            transport=transport,
        )
        self._send = traced_send(self.http)  # with a span and `traceparent` when tracing

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> Upstream:
        """Send through the breaker; a 4xx comes back as an Upstream, trouble as ApiError."""

        headers = {"x-request-id": request_id_var.get()}
        if content is not None:
            headers["content-type"] = "application/json"
        # Built before the breaker: an error here is about our request, not the service.
        request = self.http.build_request(
            method, path, params=params, json=json, content=content, headers=headers
        )

        async def attempt() -> Upstream:
            self.calls += 1
            # httpx's timeouts bound each read; this bounds the whole answer, so a
            # service that drips bytes cannot hold a request past the deadline.
            try:
                async with asyncio.timeout(self.timeout):
                    response = await self._send(request)
            except TimeoutError:
                raise httpx.ReadTimeout(f"no complete answer in {self.timeout}s") from None
            return _parse(response)

        with mapped_upstream_errors(self.label, self.breaker):
            return await self.breaker.call(attempt)

    async def fetch(self, method: str, path: str, **kwargs: Any) -> Upstream:
        """Like send(), but a 4xx is raised as the service's own error."""
        upstream = await self.send(method, path, **kwargs)
        if upstream.status >= 400:
            raise passthrough_error(upstream)
        return upstream

    async def probe(self, probe_timeout: float) -> bool:
        """Is the service's /health answering 200? Not through the breaker."""
        try:
            response = await self.http.get("/health", timeout=probe_timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
