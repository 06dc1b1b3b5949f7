from __future__ import annotations

from fastapi import FastAPI

from apicore.service import service_app
from service_users import credentials, sessions
from service_users.config import Settings
from service_users.routes import router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = service_app(
        title="Users service",
        service="users",
        database_url=settings.database_url,
        pool_size=settings.db_pool_size,
        docs=settings.docs_enabled,
        access_log=settings.access_log,
        metrics=settings.metrics,
        metrics_allow=settings.metrics_allow,
        routers=[router, credentials.router, sessions.router],
    )
    app.state.session_ttl = settings.session_ttl
    return app
