"""What both services share beyond the wire format: engine lifecycle and /health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from apicore.addresses import PRIVATE
from apicore.app import base_app
from apicore.db import create_engine, reading
from apicore.envelope import Envelope, EnvelopeResponse, error_responses, ok
from apicore.errors import SERVICE_UNAVAILABLE, ApiError
from apicore.metrics import watch_pool
from apicore.middleware import request_counter
from apicore.routing import ContractRoute
from apicore.tracing import instrument_engine, setup_tracing

logger = logging.getLogger("apicore.service")
HEALTH_TIMEOUT_S = 2.0


class HealthReport(BaseModel):
    status: str
    service: str
    database: str
    requests_served: int


async def get_engine(request: Request) -> AsyncEngine:
    # async: a plain `def` dependency runs in a worker thread, a thread hop per request.
    engine: AsyncEngine = request.app.state.engine
    return engine


EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


async def _ping(engine: AsyncEngine) -> None:
    async with reading(engine) as conn:
        await conn.exec_driver_sql("SELECT 1")


def health_router(service: str) -> APIRouter:
    router = APIRouter(tags=["health"], route_class=ContractRoute)

    @router.get(
        "/health",
        operation_id="health",
        response_model=Envelope[HealthReport],
        responses=error_responses(400, 503),
    )
    async def health(engine: EngineDep) -> EnvelopeResponse:
        try:
            await asyncio.wait_for(_ping(engine), HEALTH_TIMEOUT_S)
        except Exception as exc:
            logger.warning("Health check failed: %r", exc)
            raise ApiError(SERVICE_UNAVAILABLE, f"{service} database unreachable") from None
        return ok(
            {
                "status": "OK",
                "service": service,
                "database": "reachable",
                "requests_served": request_counter.served,
            }
        )

    return router


def service_app(
    *,
    title: str,
    service: str,
    database_url: str,
    pool_size: int,
    routers: list[APIRouter],
    docs: bool = True,
    access_log: bool = True,
    metrics: bool = True,
    metrics_allow: str = PRIVATE,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(database_url, pool_size=pool_size, max_overflow=pool_size)
        if metrics:
            watch_pool(app.state.engine)
        instrument_engine(app.state.engine)
        try:
            yield
        finally:
            await app.state.engine.dispose()

    async def database_answers(app: FastAPI) -> None:
        await _ping(app.state.engine)

    app = base_app(
        title=title,
        version="1.0.0",
        lifespan=lifespan,
        docs=docs,
        access_log=access_log,
        ready=database_answers,
        metrics=metrics,
        metrics_allow=metrics_allow,
    )
    for router in [health_router(service), *routers]:
        app.include_router(router)
    setup_tracing(app, service)
    return app
