"""Traces (docs/operations.md, "Tracing"): OpenTelemetry, off unless an OTLP endpoint is configured.

Turned on by `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); the
other standard `OTEL_*` variables are read by the SDK and the exporter themselves
(`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
`OTEL_BSP_SCHEDULE_DELAY`, `OTEL_EXPORTER_OTLP_HEADERS`, ...), and `OTEL_SDK_DISABLED=true`
keeps it off. Spans leave in batches, from a thread, as OTLP over HTTP (protobuf).

Off, nothing here imports OpenTelemetry's SDK or adds anything to a request's path:
every function below returns after reading the environment. On:

- one server span per HTTP request (FastAPI instrumentation), current while the request
  is handled (logs read its trace id); /livez, /readyz, /metrics and /health are not
  traced;
- one client span per downstream call, which sends the W3C `traceparent` header: a
  service's server span is the child of the gateway's call;
- one span per SQL statement;
- the GraphQL spans (parse, validate, execute): graphql_gateway/graphql/tracing.py.

Downstream calls and SQL get spans placed here by hand rather than by the httpx and
SQLAlchemy instrumentations, which cost more than the spans they make: measured in
process, the httpx one costs ~0.13 ms more CPU per call than these (it parses each
request's URL and headers again), the SQLAlchemy one ~0.19 ms more per request of one
query (it adds a `connect` span to every pool checkout; nor does it declare SQLAlchemy
2.1). Their attributes are the ones those instrumentations record by default. Both
record only inside a traced request: the probes' own calls and queries start no trace
of their own. bench/tracing_cost.py measures what tracing costs.

One tracer provider per process, set by the first app built in it (each uvicorn worker
is a process of its own and sets its own).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from fastapi.telemetry import TelemetryConfig
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

# Regexes searched in the URL's path: probes and metrics make no traces.
UNTRACED_PATHS = "/livez$,/readyz$,/metrics$,/health$"
FLUSH_TIMEOUT_MS = 5000
TRACER_NAME = "apicore.tracing"

_provider: TracerProvider | None = None


def tracing_enabled() -> bool:
    """Whether an OTLP endpoint for traces is configured (and the SDK not disabled)."""
    environ = os.environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def fastapi_telemetry() -> TelemetryConfig | None:
    """FastAPI's own telemetry settings: off while tracing is off (None: its defaults).

    Left on, FastAPI asks OpenTelemetry on every request whether a tracer, meter or logger
    provider has been configured (~10 µs of CPU a request: docs/performance.md); with
    tracing off none ever is, so it is told once. With tracing on it stays as it comes
    (it stands aside for the instrumentation below)."""
    return None if tracing_enabled() else {"tracing": False, "metrics": False, "logs": False}


def _tracer_provider(service_name: str) -> TracerProvider:
    global _provider
    if _provider is None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # Resource.create lets the attributes given here win over OTEL_RESOURCE_ATTRIBUTES
        # and OTEL_SERVICE_NAME: the variable, when set, is the name given.
        name = os.environ.get("OTEL_SERVICE_NAME") or service_name
        # The sampler comes from OTEL_TRACES_SAMPLER (default: parent-based, always on).
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
        # Endpoint, headers, timeout and compression: the OTEL_EXPORTER_OTLP_* variables.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _provider = provider
    return _provider


def setup_tracing(app: FastAPI, service_name: str) -> None:
    """Trace the app's requests, when tracing is on; otherwise leave the app as it is."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    provider = _tracer_provider(service_name)
    excluded = [
        UNTRACED_PATHS,
        os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS")
        or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS"),
    ]
    # FastAPI's own (native) telemetry stands aside when it finds this middleware.
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=",".join(part for part in excluded if part),
        # One span per request: no span per ASGI message received or sent.
        exclude_spans=["receive", "send"],
    )

    # Spans still in the batch leave when the app stops (the process exits next).
    serve = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            async with serve(app) as state:
                yield state
        finally:
            provider.force_flush(FLUSH_TIMEOUT_MS)

    app.router.lifespan_context = lifespan


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement on this engine inside a traced request, when tracing is on."""
    if not tracing_enabled():
        return
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, StatusCode
    from sqlalchemy import event

    tracer = trace.get_tracer(TRACER_NAME)
    current_span = trace.get_current_span
    sync_engine = engine.sync_engine
    url = sync_engine.url
    where = {
        "db.system": "postgresql",
        "db.name": url.database,
        "db.user": url.username,
        "net.peer.name": url.host,
        "net.peer.port": url.port,
    }
    common = {key: value for key, value in where.items() if value is not None}

    # The connection's events run in SQLAlchemy's greenlet, in the request's context.
    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is None or not current_span().is_recording():
            return
        operation = statement.split(None, 1)[0] if statement else "SQL"
        attributes = {**common, "db.statement": statement, "db.operation": operation}
        context._trace_span = tracer.start_span(
            operation, kind=SpanKind.CLIENT, attributes=attributes
        )

    def after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        span = getattr(context, "_trace_span", None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, "_trace_span", None)
        if span is not None:
            error = exception_context.original_exception
            span.set_status(StatusCode.ERROR, type(error).__name__)
            span.end()

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)


class _Answer(Protocol):
    @property
    def status_code(self) -> int: ...


class _Request(Protocol):
    """What a span reads of a request: an `httpx.Request`, or the gateway's own direct one
    (graphql_gateway/clients/transport.py)."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> httpx.URL: ...
    @property
    def headers(self) -> MutableMapping[str, str]: ...


Q = TypeVar("Q", bound=_Request)
R = TypeVar("R", bound=_Answer)


def traced_send(send: Callable[[Q], Awaitable[R]]) -> Callable[[Q], Awaitable[R]]:
    """`send` (an answer with a `status_code`); when tracing is on, with a client span and
    `traceparent` in a request."""
    if not tracing_enabled():
        return send
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, StatusCode

    tracer = trace.get_tracer(TRACER_NAME)
    current_span = trace.get_current_span
    inject = propagate.inject

    async def traced(request: Q) -> R:
        if not current_span().is_recording():
            # Not sampled: the service is told so (no header at all outside a request).
            inject(request.headers)
            return await send(request)
        url = request.url
        attributes: dict[str, str | int] = {
            "http.method": request.method,
            "http.url": str(url),
            "net.peer.name": url.host,
            "net.peer.port": url.port or (443 if url.scheme == "https" else 80),
        }
        with tracer.start_as_current_span(
            request.method, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            inject(request.headers)  # traceparent: this span, the service's parent
            response = await send(request)
            span.set_attribute("http.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
            return response

    return traced
