"""What every process's FastAPI app has in common."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware

from apicore.addresses import PRIVATE
from apicore.assets import STATIC_PATH, StaticAssets
from apicore.collector import tune_for_serving
from apicore.docs import install_docs
from apicore.envelope import EnvelopeResponse
from apicore.handlers import install_error_handlers
from apicore.headers import HeaderCheckMiddleware, Refusal
from apicore.metrics import MetricsMiddleware, metrics_endpoint, worker_stopped
from apicore.metrics import switch as metrics_switch
from apicore.middleware import BodyLimitMiddleware, RequestContextMiddleware
from apicore.openapi import use_truthful_openapi
from apicore.probes import Check, probe_router, watch_for_shutdown
from apicore.tracing import fastapi_telemetry

# An `@asynccontextmanager` function: it is entered with `async with` (base_app).
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def base_app(
    *,
    title: str,
    version: str,
    lifespan: Lifespan | None = None,
    docs: bool = True,
    middleware: Sequence[Middleware] = (),
    outer_middleware: Sequence[Middleware] = (),
    header_refusal: Refusal | None = None,
    access_log: bool = True,
    ready: Check | None = None,
    metrics: bool = True,
    metrics_allow: str = PRIVATE,
    assets: bool = False,
) -> FastAPI:
    """`docs`: serve the interactive docs (/docs, /redoc); /openapi.json is always served.

    Their scripts and styles are served under /static (apicore/assets.py) when `docs` is
    on, or always with `assets` (a page of the app's own, like GraphiQL, needs them).

    `middleware`, outermost first, runs inside the request-id and metrics middleware (its
    answers get the request id and the security headers, and are counted), inside the
    header check (apicore/headers.py: it reads no header the check refuses) and outside
    the body limit. `outer_middleware` runs outside the header check (CORS: a browser
    can read the refusal), which answers with `header_refusal` (default: our envelope).
    Every app serves /livez, /readyz (`ready`: its own check) and /metrics.
    """

    @asynccontextmanager
    async def lifespan_with_state(app: FastAPI) -> AsyncIterator[None]:
        app.state.started = False
        watch_for_shutdown()
        try:
            if lifespan is None:
                app.state.started = True
                tune_for_serving()
                yield
            else:
                async with lifespan(app):
                    app.state.started = True
                    tune_for_serving()
                    yield
        finally:
            app.state.started = False
            worker_stopped()

    app = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan_with_state,
        docs_url=None,  # ours instead (apicore/docs.py): FastAPI's load from a CDN
        redoc_url=None,
        default_response_class=EnvelopeResponse,
        redirect_slashes=False,
        telemetry=fastapi_telemetry(),
    )
    install_error_handlers(app)
    # Added last = outermost: the request id is set before anything can fail.
    app.add_middleware(BodyLimitMiddleware)
    for each in reversed(middleware):
        app.add_middleware(each.cls, *each.args, **each.kwargs)
    app.add_middleware(HeaderCheckMiddleware, refuse=header_refusal)
    for each in reversed(outer_middleware):
        app.add_middleware(each.cls, *each.args, **each.kwargs)
    metrics_switch.enabled = metrics
    if metrics or access_log:  # the access log line is written where requests are timed
        app.add_middleware(MetricsMiddleware, access_log=access_log, count=metrics)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(probe_router(ready))
    if metrics:
        endpoint = metrics_endpoint(metrics_allow)
        app.add_route("/metrics", endpoint, methods=["GET"], include_in_schema=False)
    if docs:
        install_docs(app)
    if docs or assets:
        app.mount(STATIC_PATH, StaticAssets(), name="static")
    use_truthful_openapi(app)
    return app
