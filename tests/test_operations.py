"""Operating the processes (docs/operations.md): metrics, probes, JSON logs, a graceful drain.

Every test runs real processes (`python -m …`) on real sockets.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.fake_servers import FakeServer, http_response
from tests.support.procs import ROOT, RunningProcess, free_port, launch, running, wait_healthy
from tests.support.services import own_gateway

pytestmark = pytest.mark.slow  # processes of its own per test: signals, drains, probes


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics answer: (name, sorted labels) -> value."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: dict, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


@pytest.fixture(scope="module")
def two_worker_stack(
    pg_server: str, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningProcess, RunningProcess, Path]]:
    """(gateway with two workers, its users service, the gateway's log), on data of its own."""
    env = {
        "GATEWAY_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("metrics")),
        "LOG_FORMAT": "json",
    }
    with own_gateway(pg_server, logs_dir, "two-workers", **env) as (gateway, users, _):
        yield gateway, users, logs_dir / "two-workers-gateway.log"


@pytest.fixture(scope="module")
def two_worker_gateway(
    two_worker_stack: tuple[RunningProcess, RunningProcess, Path],
) -> tuple[RunningProcess, Path]:
    gateway, _, log = two_worker_stack
    return gateway, log


def test_two_workers_counters_add_up_to_the_requests_sent(
    two_worker_gateway: tuple[RunningProcess, Path],
) -> None:
    gateway, _ = two_worker_gateway
    before = scrape(gateway.url)
    sent = 60
    for _ in range(sent):  # a new connection each: the kernel hands them to both workers
        assert httpx.get(f"{gateway.url}/status", timeout=10).status_code == 200
    user_id = uuid.uuid4()
    for _ in range(5):
        assert httpx.get(f"{gateway.url}/users/{user_id}", timeout=10).status_code == 404
    after = scrape(gateway.url)
    labels = {"route": "/status", "method": "GET", "status": "200"}
    assert (
        total(after, "http_requests_total", **labels)
        - total(before, "http_requests_total", **labels)
        == sent
    )
    # Route templates, never ids; the latency histogram counts the same requests.
    by_id = {"route": "/users/{id}", "method": "GET", "status": "404"}
    assert (
        total(after, "http_requests_total", **by_id) - total(before, "http_requests_total", **by_id)
        == 5
    )
    assert not any(str(user_id) in str(key) for key in after)
    count = total(after, "http_request_duration_seconds_count", route="/status", method="GET")
    assert (
        count - total(before, "http_request_duration_seconds_count", route="/status", method="GET")
        == sent
    )
    # The downstream calls those 404s made, from whichever worker made them.
    downstream = total(after, "gateway_downstream_requests_total", service="users_service")
    assert (
        downstream - total(before, "gateway_downstream_requests_total", service="users_service")
        == 5
    )


def test_both_workers_wrote_metrics(two_worker_gateway: tuple[RunningProcess, Path]) -> None:
    gateway, _ = two_worker_gateway
    for _ in range(30):
        httpx.get(f"{gateway.url}/status", timeout=10)
    samples = scrape(gateway.url)
    # Each breaker gauge is set at a worker's start: livemax over both, 0 = closed.
    assert samples[("gateway_breaker_state", (("service", "users_service"),))] == 0
    assert samples[("gateway_breaker_state", (("service", "orders_service"),))] == 0


def test_the_gateways_own_series_follow_what_happens(
    two_worker_stack: tuple[RunningProcess, RunningProcess, Path],
) -> None:
    gateway, users_process, _ = two_worker_stack
    email = f"metrics-{uuid.uuid4().hex[:8]}@ops.example"
    created = httpx.post(f"{users_process.url}/users", json={"email": email, "name": "M"})
    assert created.status_code == 201
    query = {
        "query": "query Dashboard { users(limit: 5) { items { id orders { id } } } }",
        "operationName": "Dashboard",
    }
    assert httpx.post(f"{gateway.url}/graphql", json=query, timeout=10).status_code == 200
    bad = {"query": "query Broken { nope }", "operationName": "Broken"}
    httpx.post(f"{gateway.url}/graphql", json=bad, timeout=10)
    hostile = {"query": "query " + "x" * 80 + " { __typename }"}
    httpx.post(f"{gateway.url}/graphql", json=hostile, timeout=10)
    samples = scrape(gateway.url)
    ok = {"operation": "Dashboard", "type": "query", "outcome": "ok"}
    assert total(samples, "gateway_graphql_operations_total", **ok) >= 1
    refused = {"operation": "Broken", "outcome": "refused"}
    assert total(samples, "gateway_graphql_operations_total", **refused) >= 1
    names = {
        dict(labels).get("operation") for (n, labels) in samples if n.startswith("gateway_graphql")
    }
    assert "x" * 80 not in names  # not a plain name of at most 64 characters: "other"
    assert total(samples, "gateway_dataloader_batch_size_count", loader="orders_by_user") >= 1
    assert total(samples, "gateway_downstream_request_duration_seconds_count") >= 2


def test_services_report_their_pools(users_process: RunningProcess) -> None:
    httpx.get(f"{users_process.url}/users", timeout=10)
    samples = scrape(users_process.url)
    assert samples[("db_pool_size", ())] == 5
    in_use = samples[("db_pool_connections", (("state", "in_use"),))]
    idle = samples[("db_pool_connections", (("state", "idle"),))]
    assert in_use == 0  # nothing in flight between requests
    assert idle >= 1
    assert total(samples, "http_requests_total", route="/users", method="GET") >= 1


def test_json_logs_carry_the_request_id(two_worker_gateway: tuple[RunningProcess, Path]) -> None:
    gateway, log = two_worker_gateway
    request_id = f"probe-{uuid.uuid4().hex[:8]}"
    httpx.get(f"{gateway.url}/users/{uuid.uuid4()}", headers={"x-request-id": request_id})
    deadline = time.monotonic() + 20  # the line is written after the answer; machines are busy
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        mine = [line for line in lines if line["request_id"] == request_id]
        access = [line for line in mine if line["logger"] == "apicore.access"]
        if access or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    # uvicorn's lines carry a copy with terminal colours for its own formatter: not ours.
    assert not [line for line in lines if "color_message" in line]
    assert "\x1b" not in log.read_text()
    started = [line for line in lines if line["message"].startswith("Started server process")]
    assert started, "uvicorn's start line, which has such a copy, is in the log"
    assert len(access) == 1
    assert access[0]["method"] == "GET"  # docs/operations.md's fields of an access line
    logs = (Path(ROOT) / "docs" / "operations.md").read_text(encoding="utf-8")
    for field_name in ("method", "route", "status", "duration_ms", "color_message"):
        assert f"`{field_name}`" in logs
    assert access[0]["route"] == "/users/{id}"
    assert access[0]["status"] == 404
    assert access[0]["duration_ms"] > 0


def test_probes(gateway_process: RunningProcess, users_process: RunningProcess) -> None:
    for process in (gateway_process, users_process):
        assert httpx.get(f"{process.url}/livez", timeout=10).json()["data"] == {"status": "alive"}
        assert httpx.get(f"{process.url}/readyz", timeout=10).json()["data"] == {"status": "ready"}


def test_a_service_without_its_database_is_alive_but_not_ready(logs_dir: Path) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/users"
    port = free_port()
    env = {"USERS_DATABASE_URL": nowhere, "USERS_PORT": str(port), "USERS_HOST": "127.0.0.1"}
    process = launch("service_users", env, log_path=str(logs_dir / "users-no-db.log"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                live = httpx.get(f"{url}/livez", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert live.status_code == 200
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    finally:
        process.terminate()
        process.wait(10)


async def test_sigterm_drains_the_request_in_flight_then_exits_0(logs_dir: Path) -> None:
    """A slow request in flight at SIGTERM is answered 200; new connections are refused."""
    body = {"success": True, "data": {"id": str(uuid.uuid4()), "name": "slow"}}
    async with FakeServer(http_response(200, body), delay=2.0) as slow_users:
        port = free_port()
        env = {
            "GATEWAY_USERS_URL": slow_users.url,
            "GATEWAY_ORDERS_URL": slow_users.url,
            "GATEWAY_PORT": str(port),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_SHUTDOWN_GRACE": "10",
            # /health probes the slow fake too: answer it well within wait_healthy's 1 s.
            "GATEWAY_HEALTH_PROBE_TIMEOUT": "0.2",
        }
        process = launch("graphql_gateway", env, log_path=str(logs_dir / "gateway-drain.log"))
        url = f"http://127.0.0.1:{port}"
        try:
            await asyncio.to_thread(wait_healthy, url, process)
            async with httpx.AsyncClient(timeout=15) as client:
                in_flight = asyncio.create_task(client.get(f"{url}/users/{uuid.uuid4()}"))
                await asyncio.sleep(0.5)
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                with pytest.raises(ConnectionRefusedError):  # the listening socket is closed
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                response = await in_flight
            assert response.status_code == 200, response.text
            assert response.json()["data"]["name"] == "slow"
            code = await asyncio.to_thread(process.wait, 15)
            assert code == 0
            assert time.monotonic() - started < 10
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)


def test_metrics_are_answered_only_to_the_allowed_addresses(
    users_process: RunningProcess, orders_process: RunningProcess, logs_dir: Path
) -> None:
    env = {
        "GATEWAY_USERS_URL": users_process.url,
        "GATEWAY_ORDERS_URL": orders_process.url,
        "GATEWAY_METRICS_ALLOW": "127.0.0.2/32",
    }
    log = str(logs_dir / "gateway-metrics-allow.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as gateway:
        refused = httpx.get(f"{gateway.url}/metrics", timeout=10)
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=transport, timeout=10) as client:
            allowed = client.get(f"{gateway.url}/metrics")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "NOT_FOUND"
    assert allowed.status_code == 200
    assert "http_requests_total" in allowed.text
