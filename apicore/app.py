"""What every process's FastAPI app has in common."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from starlette.middleware import Middleware

from apicore.envelope import EnvelopeResponse
from apicore.handlers import install_error_handlers
from apicore.middleware import BodyLimitMiddleware, RequestContextMiddleware
from apicore.openapi import use_truthful_openapi

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None] | AsyncIterator[None]]


def base_app(
    *,
    title: str,
    version: str,
    lifespan: Lifespan | None = None,
    docs: bool = True,
    middleware: Sequence[Middleware] = (),
) -> FastAPI:
    """`docs`: serve the interactive docs (/docs, /redoc); /openapi.json is always served.

    `middleware`, outermost first, runs inside the request-id middleware (its answers get
    the request id and the security headers) and outside the body limit.
    """
    app = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        default_response_class=EnvelopeResponse,
        redirect_slashes=False,
    )
    install_error_handlers(app)
    # Added last = outermost: the request id is set before anything can fail.
    app.add_middleware(BodyLimitMiddleware)
    for each in reversed(middleware):
        app.add_middleware(each.cls, *each.args, **each.kwargs)
    app.add_middleware(RequestContextMiddleware)
    use_truthful_openapi(app)
    return app
