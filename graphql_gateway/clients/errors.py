"""The one place where downstream trouble becomes our error codes.

    httpx.TimeoutException              -> 504 UPSTREAM_TIMEOUT
    httpx.TransportError (refused, ...) -> 503 SERVICE_UNAVAILABLE + Retry-After
    CircuitOpenError / CircuitBreakerError while open
                                        -> 503 SERVICE_UNAVAILABLE + Retry-After
    Overloaded (no pooled connection free in time: shed)
                                        -> 503 SERVICE_UNAVAILABLE + Retry-After: 1
    BadUpstreamResponse (5xx, not our envelope), httpx.DecodingError
                                        -> 502 UPSTREAM_ERROR

aiobreaker raises CircuitBreakerError *from* the failure that tripped it; that
call is mapped by its cause, since the network was touched.

is_service_fault() says what counts against a service's breaker: what the service did.
Not among them: httpx.LocalProtocolError (our request broke HTTP), errors building
the request (encoding, serialisation; they happen before the breaker is entered),
Overloaded (the gateway's own queue for a connection, clients/admission.py), and
cancellation when our client goes away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from aiobreaker import CircuitBreakerError

from apicore.errors import SERVICE_UNAVAILABLE, UPSTREAM_ERROR, UPSTREAM_TIMEOUT, ApiError
from graphql_gateway.clients.admission import Overloaded
from graphql_gateway.clients.breaker import Breaker, CircuitOpenError


class BadUpstreamResponse(Exception):
    """A service answered with a 5xx or with something that is not our envelope."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def is_service_fault(exc: Exception) -> bool:
    """Does this failure count against the service's breaker? Only what the service did."""
    if isinstance(exc, httpx.LocalProtocolError):
        return False
    return isinstance(exc, httpx.TransportError | httpx.DecodingError | BadUpstreamResponse)


def _unavailable(label: str, breaker: Breaker) -> ApiError:
    return ApiError(
        SERVICE_UNAVAILABLE,
        f"{label} temporarily unavailable",
        headers={"Retry-After": str(breaker.retry_after())},
    )


def translate(exc: BaseException, label: str, breaker: Breaker) -> ApiError | None:
    if isinstance(exc, CircuitBreakerError) and exc.__cause__ is not None:
        return translate(exc.__cause__, label, breaker) or _unavailable(label, breaker)
    if isinstance(exc, CircuitOpenError | CircuitBreakerError):
        return _unavailable(label, breaker)
    if isinstance(exc, Overloaded):
        return ApiError(
            SERVICE_UNAVAILABLE, f"{label} is busy: try again shortly", headers={"Retry-After": "1"}
        )
    if isinstance(exc, httpx.TimeoutException):
        return ApiError(UPSTREAM_TIMEOUT, f"{label} did not answer in time")
    if isinstance(exc, httpx.TransportError):
        return _unavailable(label, breaker)
    if isinstance(exc, BadUpstreamResponse | httpx.DecodingError):
        return ApiError(UPSTREAM_ERROR, f"{label} returned an invalid response")
    return None


@contextmanager
def mapped_upstream_errors(label: str, breaker: Breaker) -> Iterator[None]:
    try:
        yield
    except (
        CircuitBreakerError,
        CircuitOpenError,
        Overloaded,
        httpx.TransportError,
        httpx.DecodingError,
        BadUpstreamResponse,
    ) as exc:
        error = translate(exc, label, breaker)
        assert error is not None
        raise error from exc
