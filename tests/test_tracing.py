"""Traces (docs/operations.md), end to end: three real processes exporting to a real receiver.

The receiver (tests/support/otlp.py) is an OTLP/HTTP server in this test process that
decodes the protobuf the exporters send; nothing of the SDK is mocked. The traced
processes are this module's own (their own databases too): the session's processes
stay untraced, as they run by default.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service_orders import init_db as orders_init_db
from service_users import init_db as users_init_db
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.pg import migrated_database
from tests.support.procs import ROOT, RunningProcess, free_port, running

pytestmark = pytest.mark.slow  # three processes of its own exporting to a receiver

FRONT = "query Front($id: UUID!) { user(id: $id) { id orders { id } } }"
SPAN_WAIT_S = 10.0
OTEL_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def traced_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_TRACES_SAMPLER": "always_on",
    }


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def traced_users_db(pg_server: str) -> Iterator[str]:
    with migrated_database(pg_server, "trace_users", users_init_db.main) as url:
        yield url


@pytest.fixture(scope="module")
def traced_orders_db(pg_server: str) -> Iterator[str]:
    with migrated_database(pg_server, "trace_orders", orders_init_db.main) as url:
        yield url


@pytest.fixture(scope="module")
def traced_users(
    traced_users_db: str, receiver: OtlpReceiver, logs_dir: Path
) -> Iterator[RunningProcess]:
    env = {"USERS_DATABASE_URL": traced_users_db, **traced_env(receiver)}
    log = str(logs_dir / "users-traced.log")
    with running("service_users", "USERS_", env, log_path=log) as proc:
        yield proc


@pytest.fixture(scope="module")
def traced_orders(
    traced_orders_db: str, receiver: OtlpReceiver, logs_dir: Path
) -> Iterator[RunningProcess]:
    env = {"ORDERS_DATABASE_URL": traced_orders_db, **traced_env(receiver)}
    log = str(logs_dir / "orders-traced.log")
    with running("service_orders", "ORDERS_", env, log_path=log) as proc:
        yield proc


@pytest.fixture(scope="module")
def traced_gateway(
    traced_users: RunningProcess,
    traced_orders: RunningProcess,
    receiver: OtlpReceiver,
    logs_dir: Path,
) -> Iterator[RunningProcess]:
    env = {
        "GATEWAY_USERS_URL": traced_users.url,
        "GATEWAY_ORDERS_URL": traced_orders.url,
        "LOG_FORMAT": "json",
        **traced_env(receiver),
    }
    log = str(logs_dir / "gateway-traced.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as proc:
        yield proc


# --- helpers -------------------------------------------------------------------------


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_span_id == parent.span_id]


def descendants(spans: list[ReceivedSpan], root: ReceivedSpan) -> list[ReceivedSpan]:
    found, frontier = [], [root]
    while frontier:
        below = [s for parent in frontier for s in children(spans, parent)]
        found.extend(below)
        frontier = below
    return found


def is_sql(span: ReceivedSpan) -> bool:
    """The span of a SQL statement."""
    statement = span.attributes.get("db.statement") or span.attributes.get("db.query.text")
    return span.attributes.get("db.system") == "postgresql" and bool(statement)


def calls_to(span: ReceivedSpan, service: RunningProcess) -> bool:
    url = span.attributes.get("http.url") or span.attributes.get("url.full") or ""
    return str(url).startswith(f"{service.url}/")


def served(spans: list[ReceivedSpan], service: str, query: str) -> ReceivedSpan | None:
    """The service's server span of the request with that query string, once its SQL is in."""
    for span in spans:
        url = str(span.attributes.get("http.url") or span.attributes.get("url.full") or "")
        if span.service != service or span.kind != "SERVER" or query not in url:
            continue
        if any(is_sql(s) for s in descendants(spans, span)):
            return span
    return None


def front_parts(spans: list[ReceivedSpan], user_id: str) -> list[ReceivedSpan] | None:
    """The gateway's span of `Front`, and the services' spans of the calls it made.

    Found by what each process recorded of the request, not by trace id across processes:
    whether the three are one trace is what the test asserts. The gateway's span is the
    `Front` of this user (the one whose own call asked for `ids=<this user>`): another test
    runs `Front` too, for another user.
    """
    mine = {
        s.trace_id
        for s in spans
        if s.service == "gateway"
        and s.kind == "CLIENT"
        and f"ids={user_id}" in str(s.attributes.get("http.url", ""))
    }
    gateway = [
        s
        for s in spans
        if s.service == "gateway" and s.name == "graphql Front" and s.trace_id in mine
    ]
    users = served(spans, "users", f"ids={user_id}")
    orders = served(spans, "orders", f"userIds={user_id}")
    if gateway and users and orders:
        return [gateway[0], users, orders]
    return None


def one(spans: list[ReceivedSpan], what: str) -> ReceivedSpan:
    assert len(spans) == 1, f"{what}: {spans}"
    return spans[0]


# --- tracing on: one trace across three processes ----------------------------------


def test_front_query_is_one_trace_across_the_three_processes(
    traced_gateway: RunningProcess,
    traced_users: RunningProcess,
    traced_orders: RunningProcess,
    receiver: OtlpReceiver,
) -> None:
    user = httpx.post(
        f"{traced_users.url}/users", json={"email": "trace@example.com", "name": "Трасса"}
    )
    assert user.status_code == 201, user.text
    user_id = user.json()["data"]["id"]
    for product in ("Цемент", "Арматура"):
        order = httpx.post(
            f"{traced_orders.url}/orders",
            json={"user_id": user_id, "items": [{"product": product, "quantity": 1, "price": 9}]},
        )
        assert order.status_code == 201, order.text

    response = httpx.post(
        f"{traced_gateway.url}/graphql",
        json={"query": FRONT, "variables": {"id": user_id}, "operationName": "Front"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert len(body["data"]["user"]["orders"]) == 2

    server, users_served, orders_served = receiver.wait_for(
        lambda spans: front_parts(spans, user_id), SPAN_WAIT_S
    )
    # One trace across the three processes.
    assert users_served.trace_id == server.trace_id, "users is not in the gateway's trace"
    assert orders_served.trace_id == server.trace_id, "orders is not in the gateway's trace"
    trace = [s for s in receiver.snapshot() if s.trace_id == server.trace_id]
    assert {s.service for s in trace} == {"gateway", "users", "orders"}

    # The gateway: its request's span, named after the operation, at the root.
    assert server.kind == "SERVER"
    assert server.parent_span_id == ""
    assert [s for s in trace if s.service == "gateway" and s.kind == "SERVER"] == [server]
    assert server.attributes["graphql.operation.name"] == "Front"
    assert server.attributes["graphql.operation.type"] == "query"

    # parse, validate and execute under it; the downstream calls inside execute.
    stages = {s.name: s for s in children(trace, server)}
    assert {"graphql.parse", "graphql.validate", "graphql.execute"} <= stages.keys()
    calls = [s for s in descendants(trace, server) if s.kind == "CLIENT" and s.service == "gateway"]
    assert len(calls) == 2, calls
    execute = stages["graphql.execute"]
    assert all(s.parent_span_id == execute.span_id for s in calls), "calls outside execute"
    assert all(
        s.attributes.get("http.method", s.attributes.get("http.request.method")) == "GET"
        for s in calls
    )

    for service, name, request in (
        (traced_users, "users", users_served),
        (traced_orders, "orders", orders_served),
    ):
        call = one([s for s in calls if calls_to(s, service)], f"the gateway's call to {name}")
        # The service's request span is the child of that call: `traceparent` crossed.
        assert [s for s in trace if s.service == name and s.kind == "SERVER"] == [request]
        assert request.parent_span_id == call.span_id, f"{name}: {request} is not under {call}"
        assert request.name == f"GET /{name}"
        # ...and its SQL under it.
        sql = [s for s in descendants(trace, request) if is_sql(s)]
        assert sql, f"no SQL span under {name}'s {request.name}"
        assert all(s.attributes["db.system"] == "postgresql" for s in sql)
        assert all(s.kind == "CLIENT" for s in sql)


def test_json_log_lines_carry_the_trace_id(
    traced_gateway: RunningProcess, receiver: OtlpReceiver, logs_dir: Path
) -> None:
    request_id = f"traced-{uuid.uuid4().hex[:8]}"
    query = {"query": "query Logged { users(limit: 1) { total } }", "operationName": "Logged"}
    httpx.post(f"{traced_gateway.url}/graphql", json=query, headers={"x-request-id": request_id})
    [server] = receiver.wait_for(
        lambda spans: [s for s in spans if s.name == "graphql Logged"] or None, SPAN_WAIT_S
    )
    log = logs_dir / "gateway-traced.log"
    deadline = time.monotonic() + 20
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        access = [
            line
            for line in lines
            if line["request_id"] == request_id and line["logger"] == "apicore.access"
        ]
        if access or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(access) == 1
    assert access[0]["trace_id"] == server.trace_id
    assert access[0]["route"] == "/graphql"


def test_an_operation_without_a_name_is_anonymous(
    traced_gateway: RunningProcess, receiver: OtlpReceiver
) -> None:
    query = "{ users(limit: 1) { total } }"
    response = httpx.post(f"{traced_gateway.url}/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    [server] = receiver.wait_for(
        lambda spans: [s for s in spans if s.name == "graphql anonymous"] or None, SPAN_WAIT_S
    )
    assert server.attributes["graphql.operation.type"] == "query"
    assert "graphql.operation.name" not in server.attributes


def test_a_failed_downstream_call_is_an_error_span(
    traced_users: RunningProcess, receiver: OtlpReceiver, logs_dir: Path
) -> None:
    """A service that cannot be reached: the call's span says so, the operation goes on."""
    user = httpx.post(
        f"{traced_users.url}/users", json={"email": "lost@example.com", "name": "Без заказов"}
    )
    assert user.status_code == 201, user.text
    user_id = user.json()["data"]["id"]
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"GATEWAY_USERS_URL": traced_users.url, "GATEWAY_ORDERS_URL": nowhere}
    env |= traced_env(receiver)
    log = str(logs_dir / "gateway-traced-no-orders.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as gateway:
        response = httpx.post(
            f"{gateway.url}/graphql",
            json={"query": FRONT, "variables": {"id": user_id}, "operationName": "Front"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["errors"], response.text  # orders could not be fetched

        def failed_call(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
            calls = [s for s in spans if s.kind == "CLIENT" and s.service == "gateway"]
            return next(
                (s for s in calls if str(s.attributes["http.url"]).startswith(nowhere)), None
            )

        call = receiver.wait_for(failed_call, SPAN_WAIT_S)
    assert call.status == "ERROR"
    assert "exception" in call.events
    assert "http.status_code" not in call.attributes  # no answer came
    trace = [s for s in receiver.snapshot() if s.trace_id == call.trace_id]
    [server] = [s for s in trace if s.kind == "SERVER" and s.service == "gateway"]
    assert server.name == "graphql Front"
    calls = [s for s in trace if s.kind == "CLIENT" and s.service == "gateway"]
    assert [s.status for s in calls if calls_to(s, traced_users)] == ["UNSET"]  # it answered


def test_probes_make_no_traces(
    traced_gateway: RunningProcess,
    traced_users: RunningProcess,
    receiver: OtlpReceiver,
) -> None:
    """/health is not traced, nor is what it does (its SQL, the gateway's probes)."""
    for url in (traced_gateway.url, traced_users.url):
        assert httpx.get(f"{url}/health").status_code == 200
    # A request that is traced, sent after them: once its spans are in, theirs would be.
    assert httpx.get(f"{traced_users.url}/users", params={"limit": 1}).status_code == 200
    receiver.wait_for(
        lambda spans: [s for s in spans if s.name == "GET /users" and s.service == "users"] or None,
        SPAN_WAIT_S,
    )
    time.sleep(0.5)  # the gateway exports on its own schedule
    spans = receiver.snapshot()
    assert not [s for s in spans if "/health" in s.name], spans
    calls = [s for s in spans if calls_to(s, traced_users) or calls_to(s, traced_gateway)]
    assert not [s for s in calls if "/health" in str(s.attributes)], calls
    assert not [s for s in spans if "SELECT 1" in str(s.attributes.get("db.statement"))]


# --- tracing off: nothing at all ------------------------------------------------------


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("setting", ["no endpoint", "sdk disabled"])
def test_off_sends_nothing(traced_users_db: str, logs_dir: Path, setting: str) -> None:
    """A service without the variable (or with OTEL_SDK_DISABLED) exports nothing.

    Without the variable, its receiver listens where an SDK would send by default
    (localhost:4318): even a default-configured exporter would be seen.
    """
    port = 4318 if setting == "no endpoint" else 0
    if port and not _bindable(port):
        pytest.skip("port 4318 (OTLP/HTTP's default) is in use here")
    with OtlpReceiver(port) as off_receiver:
        env = {
            "USERS_DATABASE_URL": traced_users_db,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_TRACES_SAMPLER": "always_on",
        }
        if setting == "sdk disabled":
            env |= {
                "OTEL_EXPORTER_OTLP_ENDPOINT": off_receiver.endpoint,
                "OTEL_SDK_DISABLED": "true",
            }
        log = str(logs_dir / f"users-off-{port}.log")
        with running("service_users", "USERS_", env, log_path=log) as proc:
            for _ in range(5):
                assert httpx.get(f"{proc.url}/users", params={"limit": 1}).status_code == 200
            time.sleep(2)
        assert off_receiver.requests == 0


def test_off_adds_no_middleware_and_no_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off, setup_tracing leaves an app exactly as it was, and OpenTelemetry unimported."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    script = """
import json, sys
# What tracing would load. (redis-py imports opentelemetry.sdk.metrics for itself when
# the SDK is installed, at its import: not ours, and not on any request's path.)
OURS = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation")
from apicore.tracing import setup_tracing
from graphql_gateway.app import create_app as gateway
from service_users.app import create_app as users
from service_orders.app import create_app as orders

report = {}
for name, factory in (("gateway", gateway), ("users", users), ("orders", orders)):
    app = factory()
    before = (list(app.user_middleware), app.build_middleware_stack, app.router.lifespan_context)
    setup_tracing(app, name)
    after = (list(app.user_middleware), app.build_middleware_stack, app.router.lifespan_context)
    report[name] = {
        "unchanged": before == after,
        "instrumented": getattr(app, "_is_instrumented_by_opentelemetry", False),
        "middleware": [m.cls.__name__ for m in app.user_middleware],
    }
report["otel_modules"] = sorted(m for m in sys.modules if m.startswith(OURS))
print(json.dumps(report))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {
        "GATEWAY_USERS_URL": "http://127.0.0.1:9",
        "GATEWAY_ORDERS_URL": "http://127.0.0.1:9",
        "USERS_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "ORDERS_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    report = json.loads(out)
    assert report.pop("otel_modules") == []
    for name, app in report.items():
        assert app["unchanged"], name
        assert not app["instrumented"], name
        assert "OpenTelemetryMiddleware" not in app["middleware"], name
