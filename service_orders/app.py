from __future__ import annotations

from fastapi import FastAPI

from apicore.service import service_app
from service_orders import books
from service_orders.config import Settings
from service_orders.routes import router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = service_app(
        title="Orders service",
        service="orders",
        database_url=settings.database_url,
        pool_size=settings.db_pool_size,
        docs=settings.docs_enabled,
        access_log=settings.access_log,
        metrics=settings.metrics,
        metrics_allow=settings.metrics_allow,
        routers=[router, books.router],
    )
    token = settings.gateway_token
    app.state.gateway_token = token.get_secret_value() if token is not None else None
    return app
