from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from apicore.app import base_app
from graphql_gateway import __version__
from graphql_gateway.clients import Clients
from graphql_gateway.config import Settings
from graphql_gateway.graphql.router import graphql_router
from graphql_gateway.rest import orders, system, users


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.clients = Clients.from_settings(settings)
        try:
            yield
        finally:
            await app.state.clients.aclose()

    app = base_app(
        title="API Gateway", version=__version__, lifespan=lifespan, docs=settings.docs_enabled
    )
    app.state.settings = settings
    app.state.started_at = time.monotonic()
    graphql = graphql_router(settings)
    app.state.graphql_schema = graphql.schema  # its execution_paths tell which executor ran
    for router in (system.router, users.router, orders.router, graphql):
        app.include_router(router)
    return app
