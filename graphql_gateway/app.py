from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware

from apicore.app import base_app
from apicore.openapi import declare_bearer_auth
from apicore.tracing import setup_tracing
from graphql_gateway import __version__
from graphql_gateway.auth.cors import EnvelopeCORSMiddleware, cors_options
from graphql_gateway.auth.frontdoor import OPEN_PATHS, ClientAddresses, FrontDoor, refused
from graphql_gateway.auth.ratelimit import RateLimits
from graphql_gateway.auth.sessions import SessionCheck
from graphql_gateway.auth.tokens import TokenService
from graphql_gateway.clients import Clients
from graphql_gateway.config import Settings
from graphql_gateway.graphql.router import GraphQLPost, graphql_router
from graphql_gateway.rest import auth, orders, system, users
from graphql_gateway.rest.passthrough import Passthrough
from graphql_gateway.rest.v1 import v1_router
from graphql_gateway.rest.v1.deps import V1Limits

logger = logging.getLogger("graphql_gateway")

BEARER_DESCRIPTION = (
    "The `accessToken` of `POST /auth/login` (or of the GraphQL `login` mutation). Needed"
    " when the gateway runs with GATEWAY_AUTH=on; with GATEWAY_AUTH=off every route is"
    " open and a token sent is not looked at."
)


async def _clients_open(app: FastAPI) -> None:
    """Ready once both downstream clients exist (their services have their own probes)."""
    if getattr(app.state, "clients", None) is None:
        raise RuntimeError("downstream clients not open")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    tokens = TokenService(settings) if settings.auth_enabled else None
    rate_limits = RateLimits(settings)
    sessions = SessionCheck(settings.session_check_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if tokens is None:
            logger.warning(
                "Authentication is off (GATEWAY_AUTH=off): every route is open to anyone"
            )
        elif rate_limits.backend == "memory" and settings.workers > 1:
            logger.warning(
                "Rate limits live in each worker's memory (%d workers): set GATEWAY_REDIS_URL"
                " to share them",
                settings.workers,
            )
        app.state.clients = Clients.from_settings(settings)
        sessions.users = app.state.clients.users
        try:
            yield
        finally:
            await app.state.clients.aclose()
            await rate_limits.aclose()

    middleware = []
    outer_middleware = []  # outside the header check (apicore/headers.py)
    if settings.cors_origin_list:
        outer_middleware.append(
            Middleware(EnvelopeCORSMiddleware, **cors_options(settings.cors_origin_list))
        )
    addresses = ClientAddresses(settings.trusted_proxies)
    if tokens is not None or rate_limits.request_limits:
        middleware.append(
            Middleware(
                FrontDoor,
                tokens=tokens,
                sessions=sessions,
                rate_limits=rate_limits,
                addresses=addresses,
            )
        )
    # Inside the front door: the hottest passthrough reads, answered below FastAPI's routing.
    middleware.append(Middleware(Passthrough, auth_enabled=settings.auth_enabled))
    app = base_app(
        title="API Gateway",
        version=__version__,
        lifespan=lifespan,
        docs=settings.docs_enabled,
        middleware=middleware,
        outer_middleware=outer_middleware,
        header_refusal=refused,  # /graphql: as GraphQL errors, like the front door's
        access_log=settings.access_log,
        ready=_clients_open,
        metrics=settings.metrics,
        metrics_allow=settings.metrics_allow,
        assets=True,  # the playground's, on GET /graphql
    )
    app.state.settings = settings
    app.state.tokens = tokens
    app.state.rate_limits = rate_limits
    app.state.sessions = sessions
    app.state.started_at = time.monotonic()
    graphql = graphql_router(settings)
    app.state.graphql_schema = graphql.schema  # its execution_paths tell which executor ran
    app.router.routes.insert(0, GraphQLPost(graphql))  # before every route: see its doc
    for router in (system.router, auth.router, users.router, orders.router, graphql):
        app.include_router(router)
    if settings.v1_enabled:
        app.state.v1_limits = V1Limits(settings)
        app.include_router(v1_router(settings))
    declare_bearer_auth(app, OPEN_PATHS, BEARER_DESCRIPTION)
    setup_tracing(app, "gateway")
    return app
