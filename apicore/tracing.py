"""Traces (SPEC section 9): OpenTelemetry, off unless an OTLP endpoint is configured.

Turned on by `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); the
other standard `OTEL_*` variables are read by the SDK and the exporter themselves
(`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
`OTEL_BSP_SCHEDULE_DELAY`, `OTEL_EXPORTER_OTLP_HEADERS`, ...), and `OTEL_SDK_DISABLED=true`
keeps it off. Spans go out as OTLP over HTTP (protobuf), in batches, from a thread.

Off, nothing here imports OpenTelemetry or adds anything to a request's path: every
function below returns after reading the environment. On:

- one server span per HTTP request (FastAPI instrumentation), current while the request
  is handled (logs read its trace id); the probes and /metrics are not traced;
- one client span per downstream call (httpx instrumentation), which also sends the W3C
  `traceparent` header: a service's server span is the child of the gateway's call;
- one span per SQL statement (SQLAlchemy instrumentation);
- the GraphQL spans (parse, validate, execute): graphql_gateway/graphql/tracing.py.

One tracer provider per process, set by the first app built in it (each uvicorn worker
is a process of its own and sets its own).
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

# Regexes searched in the URL's path: probes and metrics make no traces.
UNTRACED_PATHS = "/livez$,/readyz$,/metrics$,/health$"
FLUSH_TIMEOUT_MS = 5000

_provider: TracerProvider | None = None
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def tracing_enabled() -> bool:
    """Whether an OTLP endpoint for traces is configured (and the SDK not disabled)."""
    environ = os.environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


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
    """A span per SQL statement on this engine, when tracing is on."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()  # one per process: it instruments once
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()  # a second engine in this process: all of them again
    _engines.add(engine.sync_engine)
    # The instrumentation declares SQLAlchemy < 2.1 (the range it is tested with); the
    # engine events it listens to are the same in 2.1, and tests/test_tracing.py checks
    # that every query of a service has its span.
    instrumentor.instrument(engines=list(_engines), skip_dep_check=True)


def instrument_httpx_client(client: httpx.AsyncClient) -> None:
    """A client span per request sent, with `traceparent`, when tracing is on."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """No spans inside: for the probes' own work, whose requests are not traced.

    Without it, the SQL of a service's /health and the gateway's probes of the services
    would each start a trace of their own.
    """
    if not tracing_enabled():
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield
