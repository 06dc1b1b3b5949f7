"""Health and status of the gateway itself."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel

from apicore.envelope import Envelope, EnvelopeResponse, error_responses, ok
from apicore.routing import ContractRoute
from apicore.validation import PartialModel
from graphql_gateway import __version__
from graphql_gateway.clients.base import ServiceClient
from graphql_gateway.rest.deps import ClientsDep

router = APIRouter(tags=["system"], route_class=ContractRoute)
T = TypeVar("T")


class WindowReport(BaseModel):
    """The calls of the last `seconds` made while closed, and the share that failed."""

    seconds: float
    calls: int
    failures: int
    failure_rate: float  # percent, one decimal
    min_calls: int  # calls the window must hold before a rate can open the circuit
    opens_at_rate: float  # percent of failures that opens it


class BreakerReport(PartialModel):
    state: Literal["closed", "open", "half_open"]
    failures: int  # consecutive, since the last success (at most fail_max)
    reachable: bool
    fail_max: int
    reset_timeout_s: float
    window: WindowReport
    # Ignore below (pydantic): it does not validate a default, so None stands for a field
    # absent from the answer (as in apicore/contract/users.py's UserPartial); `int | None`
    # would say null can come, in the exported schema (schema/) too. Only while open.
    retry_after_s: int = None  # type: ignore[assignment]  # pydantic: unvalidated default


class RateLimitReport(BaseModel):
    storage: Literal["redis"]
    available: bool


class GatewayHealth(PartialModel):
    status: Literal["OK", "DEGRADED"]
    service: str
    timestamp: datetime
    circuit_breakers: dict[str, BreakerReport]
    # Only with GATEWAY_REDIS_URL: whether the shared rate-limit storage answers (absent
    # otherwise: the ignore as above).
    rate_limits: RateLimitReport = None  # type: ignore[assignment]  # pydantic: unvalidated default


class StatusEnvelope(BaseModel, Generic[T]):
    """The envelope, with the status at the top level too: clients of the /v1 API read
    `status` there (compatibility; rest/v1/)."""

    success: Literal[True] = True
    status: Literal["OK", "DEGRADED"]
    data: T


class GatewayStatus(BaseModel):
    status: str
    version: str
    uptime_s: float
    downstream_calls: dict[str, int]
    # Of those calls, the ones sent again after their connection broke.
    downstream_retries: dict[str, int]
    # Of the users service's calls, the front door's asking whether a session stands
    # (graphql_gateway/auth/sessions.py): at most one a second per session and worker.
    session_checks: int


def _breaker_report(client: ServiceClient, reachable: bool) -> dict[str, Any]:
    breaker = client.breaker
    state = breaker.state
    report: dict[str, Any] = {
        "state": state,
        "failures": breaker.failures,
        "reachable": reachable,
        "fail_max": breaker.fail_max,
        "reset_timeout_s": breaker.reset_timeout,
        "window": {
            "seconds": breaker.window.seconds,
            **breaker.window_report(),
            "min_calls": breaker.min_calls,
            "opens_at_rate": breaker.failure_rate,
        },
    }
    if state == "open":
        report["retry_after_s"] = breaker.retry_after()
    return report


@router.get(
    "/health",
    operation_id="health",
    response_model=StatusEnvelope[GatewayHealth],
    responses=error_responses(400),
)
async def health(clients: ClientsDep, request: Request) -> EnvelopeResponse:
    """DEGRADED when a service is unreachable or its circuit is not closed."""
    timeout = request.app.state.settings.health_probe_timeout
    services = {"users_service": clients.users, "orders_service": clients.orders}
    reachable = await asyncio.gather(*(client.probe(timeout) for client in services.values()))
    breakers = {
        name: _breaker_report(client, up)
        for (name, client), up in zip(services.items(), reachable, strict=True)
    }
    healthy = all(b["reachable"] and b["state"] == "closed" for b in breakers.values())
    report: dict[str, Any] = {
        "status": "OK",
        "service": "API Gateway",
        "timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
        "circuit_breakers": breakers,
    }
    rate_limits = await request.app.state.rate_limits.report()
    if rate_limits is not None:
        report["rate_limits"] = rate_limits
        healthy = healthy and rate_limits["available"]
    report["status"] = "OK" if healthy else "DEGRADED"
    return EnvelopeResponse({"success": True, "status": report["status"], "data": report})


@router.get(
    "/status",
    operation_id="status",
    response_model=Envelope[GatewayStatus],
    responses=error_responses(400),
)
async def status(clients: ClientsDep, request: Request) -> EnvelopeResponse:
    return ok(
        {
            "status": "API Gateway is running",
            "version": __version__,
            "uptime_s": round(time.monotonic() - request.app.state.started_at, 3),
            "downstream_calls": {
                "users_service": clients.users.calls,
                "orders_service": clients.orders.calls,
            },
            "downstream_retries": {
                "users_service": clients.users.retries,
                "orders_service": clients.orders.retries,
            },
            "session_checks": request.app.state.sessions.asked,
        }
    )
