"""Prometheus metrics (docs/operations.md): `GET /metrics` on every process, right with N workers.

With one worker the counters live in this process, as prometheus-client keeps them by
default. With several, `apicore.serve` points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before any worker starts: each worker writes its values to its own
memory-mapped files there, and whichever worker answers a scrape adds them all up
(prometheus-client's multiprocess mode). Gauges then say how to combine workers
(`multiprocess_mode`); a worker that stops marks its files dead.

Labels never carry ids: routes are templates (`/users/{id}`), methods outside the
HTTP set are "OTHER", and GraphQL operation names are bounded in form and number.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apicore.addresses import networks, within
from apicore.errors import not_found
from apicore.handlers import error_response

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
access_logger = logging.getLogger("apicore.access")

# Seconds: from a cached read (~1 ms) to the upstream timeout (5 s) and beyond.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "<unmatched>"

REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_ENV))


def metrics_endpoint(allow: str) -> Callable[[Request], Response]:
    """GET /metrics for the addresses in `allow`; anyone else gets the usual 404."""
    allowed = networks(allow)

    def endpoint(request: Request) -> Response:
        client = request.client
        if client is None or not within(client.host, allowed):
            return error_response(not_found("Route"))
        return metrics_response()

    return endpoint


def metrics_response() -> Response:
    """The text format, every worker's values added up in multiprocess mode."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        # Ignore below: prometheus_client leaves its multiprocess module unannotated.
        mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def worker_stopped() -> None:
    """A worker's live gauges stop counting once it is gone (multiprocess mode)."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        # Ignore below: prometheus_client leaves its multiprocess module unannotated.
        mp.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # prometheus_client


def _walk(routes: Any, prefix: str = "") -> Iterator[tuple[re.Pattern[str], str, Any]]:
    """(path regex, template, methods or None) of every route, in the router's order."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:  # FastAPI 0.16x keeps an included router as one route
            context = getattr(route, "include_context", None)
            yield from _walk(inner.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, Mount):  # the static files: one label for all of them
            path = prefix + route.path.rstrip("/")
            yield compile_path(path + "/{path:path}")[0], path + "/{path}", None
        elif isinstance(getattr(route, "path", None), str):
            path = prefix + route.path
            yield compile_path(path)[0], path, getattr(route, "methods", None)


def _table(app: Any) -> list[tuple[re.Pattern[str], str, Any]]:
    """The app's routes, walked once (again if routes were added since), kept on its state."""
    routes = app.router.routes
    cached = getattr(app.state, "metrics_route_table", None)
    if cached is None or cached[0] != len(routes):
        cached = (len(routes), list(_walk(routes)))
        app.state.metrics_route_table = cached
    return cached[1]


def route_path(scope: Scope) -> str:
    """The path routing matches: without the prefix the app is mounted under. Read before
    the app runs: routing into a Mount (/static) moves `root_path` along."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def route_template(scope: Scope, path: str | None = None) -> str:
    """The route that served the request, or would have: for refusals made before routing
    (401, 413, 429) and answers made below it (the passthrough reads, the static files),
    the path is matched against the app's route templates, here, only for those requests.

    Hand-written: FastAPI's own matching needs the scope as routing leaves it, which a
    request refused before routing never has, and keeps included routers private."""
    routed = getattr(scope.get("route"), "path", None)
    if isinstance(routed, str):
        return routed
    app = scope.get("app")
    if getattr(app, "router", None) is None or getattr(app, "state", None) is None:
        return UNMATCHED
    path = route_path(scope) if path is None else path
    method = scope.get("method")
    found = UNMATCHED
    for regex, template, methods in _table(app):
        if regex.match(path):
            if methods is None or method in methods:
                return template
            if found == UNMATCHED:  # the path's route, for another method (405)
                found = template
    return found


class _Switch:
    """Whether this process records metrics (`*_METRICS`, on by default)."""

    enabled = True


switch = _Switch()


class _Discard:
    def inc(self, amount: float = 1) -> None:
        return None

    dec = observe = set = inc


_DISCARD = _Discard()


class LabelCache:
    """Children of a metric by label values: prometheus-client's `labels()` takes a lock
    and validates on every call; a dict lookup is what the hot path can afford."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        if not switch.enabled:
            return _DISCARD
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


_requests = LabelCache(REQUESTS)
_latency = LabelCache(LATENCY)


class MetricsMiddleware:
    """Counts and times every HTTP request, and writes its access log line.

    Inside the request-id middleware and outside everything else: 401s, 413s and 429s
    are counted with the route they were for, and the log line carries the request id.
    """

    def __init__(self, app: ASGIApp, *, access_log: bool = True, count: bool = True) -> None:
        self.app = app
        self.access_log = access_log
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = route_path(scope)
        status = 500  # if nothing was sent: the last-resort handler outside answers 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = route_template(scope, path)
            if self.count:
                _requests(route, method, str(status)).inc()
                _latency(route, method).observe(elapsed)
            if self.access_log:
                access_logger.info(
                    "%s %s -> %d in %.1f ms",
                    method,
                    route,
                    status,
                    elapsed * 1000,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": elapsed * 1000,
                    },
                )


# How a gauge adds up workers (prometheus_client's multiprocess modes).
GaugeMode = Literal[
    "all",
    "liveall",
    "min",
    "livemin",
    "max",
    "livemax",
    "sum",
    "livesum",
    "mostrecent",
    "livemostrecent",
]


def gauge(name: str, documentation: str, labels: list[str], mode: GaugeMode) -> Gauge:
    """A gauge that knows how to add up workers (`livesum`, `livemax`, ...)."""
    return Gauge(name, documentation, labels, multiprocess_mode=mode)


# ------------------------------------------------------------------ the services' pools

DB_POOL = LabelCache(
    gauge("db_pool_connections", "Database connections, by state", ["state"], "livesum")
)
DB_POOL_SIZE = gauge("db_pool_size", "Database pool size (without overflow)", [], "livesum")


def watch_pool(engine: Any) -> None:
    """Connections in use and idle, kept up to date by the pool's own events."""
    from sqlalchemy import event

    pool = engine.sync_engine.pool
    DB_POOL_SIZE.set(pool.size())
    in_use, idle = DB_POOL("in_use"), DB_POOL("idle")

    @event.listens_for(pool, "connect")
    def connected(*_: Any) -> None:
        idle.inc()

    @event.listens_for(pool, "checkout")
    def checked_out(*_: Any) -> None:
        idle.dec()
        in_use.inc()

    @event.listens_for(pool, "checkin")
    def checked_in(*_: Any) -> None:
        in_use.dec()
        idle.inc()

    @event.listens_for(pool, "close")
    def closed(*_: Any) -> None:
        idle.dec()

    @event.listens_for(pool, "close_detached")
    def closed_detached(*_: Any) -> None:
        in_use.dec()
