"""Hostile clients at the HTTP level, against real processes.

Request ids that are not safe tokens, slow and vanishing clients, bodies over the limit
with `Connection: close`, requests the HTTP parser refuses, the security headers, and
the breaker principle: only what a service did counts against its circuit.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from apicore.logging import request_id_var
from graphql_gateway.app import create_app as create_gateway_app
from graphql_gateway.clients.users import UsersClient
from graphql_gateway.config import Settings as GatewaySettings
from service_users.app import create_app as create_users_app
from service_users.config import Settings as UsersSettings
from tests.conftest import asgi_client
from tests.support.clients import users_client
from tests.support.fake_servers import FakeServer, http_response
from tests.support.procs import RunningProcess, running

pytestmark = pytest.mark.slow  # slow and vanishing clients: each waits out a timeout

# Small on purpose: every slow-client test waits for them.
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
EIGHT_MIB = 8 * 1024 * 1024


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return orjson.loads(self.body)


def parse_response(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return RawResponse(int(lines[0].split(" ")[1]), headers, body[:length])


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or `limit` seconds pass)."""
    started = time.monotonic()
    sock.settimeout(limit)
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while time.monotonic() - started < limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data, time.monotonic() - started


def read_one_response(sock: socket.socket) -> RawResponse:
    """One complete response (head and Content-Length bytes) off a keep-alive connection."""
    data = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            match = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
            if match and len(body) >= int(match.group(1)):
                return parse_response(data)
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    raise AssertionError(f"no complete response: {data[:200]!r}")


def exchange(port: int, data: bytes, *, limit: float = 5.0) -> RawResponse:
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(data)
        answer, _ = read_until_closed(sock, limit)
    assert answer, "the server closed without answering"
    return parse_response(answer)


def assert_envelope(response: RawResponse, status: int, code: str) -> None:
    assert response.status == status, response
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=5).json()["data"]


@pytest.fixture(scope="module")
def gateway_process(
    users_process: RunningProcess, orders_process: RunningProcess, logs_dir: Path
) -> Iterator[RunningProcess]:
    """A gateway process over both services, with small read timeouts."""
    env = {
        "GATEWAY_USERS_URL": users_process.url,
        "GATEWAY_ORDERS_URL": orders_process.url,
        "GATEWAY_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "GATEWAY_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    log = str(logs_dir / "hostile-gateway.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as proc:
        yield proc


# Item 1: request ids, and what counts against a breaker


def test_unsafe_request_id_does_not_switch_a_service_off(gateway_process: RunningProcess) -> None:
    fail_max = health(gateway_process.url)["circuit_breakers"]["users_service"]["fail_max"]
    with httpx.Client(base_url=gateway_process.url, timeout=10) as client:
        for _ in range(fail_max + 2):
            response = client.get("/users", headers={b"X-Request-ID": b"caf\xe9"})
            assert response.status_code == 200, response.text
            returned = response.headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", returned), "an unsafe id is replaced"
    breakers = health(gateway_process.url)["circuit_breakers"]
    for name in ("users_service", "orders_service"):
        assert breakers[name]["state"] == "closed"
        assert breakers[name]["failures"] == 0


@pytest.mark.parametrize(
    "request_id",
    [b"caf\xe9", b"a b", b"x" * 129, b"<script>", b"../x", b"\xff\xfe", b"a,b", b""],
)
def test_request_ids_that_are_not_safe_tokens_are_replaced(
    users_process: RunningProcess, request_id: bytes
) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    response = exchange(users_process.port, head + b"X-Request-ID: " + request_id + b"\r\n\r\n")
    assert response.status == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_safe_request_id_is_kept(gateway_process: RunningProcess) -> None:
    request_id = "trace-01:A.b_" + "9" * 100
    response = httpx.get(
        f"{gateway_process.url}/users", headers={"X-Request-ID": request_id}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id


async def _fails_building_our_request(client: UsersClient) -> None:
    token = request_id_var.set("caf\xe9")  # cannot be encoded in a header: our own fault
    try:
        with pytest.raises(UnicodeEncodeError):
            await client.get_user(str(uuid.uuid4()))
    finally:
        request_id_var.reset(token)


async def test_our_own_request_errors_are_neither_failure_nor_success() -> None:
    async with FakeServer(http_response(500, {"success": False})) as broken:
        client = users_client(broken.url)
        try:
            with pytest.raises(Exception, match="invalid response"):
                await client.get_user(str(uuid.uuid4()))
            assert client.breaker.failures == 1
            for _ in range(5):
                await _fails_building_our_request(client)
            # Not a failure (the count would grow) nor a success (it would start over).
            assert client.breaker.failures == 1
            assert client.breaker.state == "closed"
            assert broken.connections == 1, "nothing was sent for the failed builds"
        finally:
            await client.aclose()


async def test_our_own_request_error_is_no_trial_call_when_half_open() -> None:
    async with FakeServer(http_response(500, {"success": False})) as broken:
        client = users_client(broken.url, fail_max=1, reset=0.2)
        try:
            with pytest.raises(Exception, match=r"unavailable|invalid response"):
                await client.get_user(str(uuid.uuid4()))
            assert client.breaker.state == "open"
            await asyncio.sleep(0.3)
            assert client.breaker.state == "half_open"
            await _fails_building_our_request(client)
            assert client.breaker.state == "half_open", "neither closed nor opened again"
        finally:
            await client.aclose()


async def test_cancelled_calls_do_not_move_the_breaker() -> None:
    """A request cancelled because our client went away says nothing about the service."""
    async with FakeServer(http_response(500, {"success": False})) as broken:
        client = users_client(broken.url)
        try:
            with pytest.raises(Exception, match="invalid response"):
                await client.get_user(str(uuid.uuid4()))
            assert client.breaker.failures == 1
            broken.response = None  # from now on it hangs
            for _ in range(5):
                task = asyncio.create_task(client.get_user(str(uuid.uuid4())))
                await asyncio.sleep(0.05)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            assert client.breaker.failures == 1
            assert client.breaker.state == "closed"
        finally:
            await client.aclose()


# Item 7: slow clients


def test_idle_new_connection_is_closed(gateway_process: RunningProcess) -> None:
    with socket.create_connection(("127.0.0.1", gateway_process.port)) as sock:
        data, lifetime = read_until_closed(sock, HEADER_TIMEOUT + 10)
    assert data == b"", "nothing to answer to a client that said nothing"
    assert lifetime < HEADER_TIMEOUT + 5


def test_headers_one_byte_at_a_time_get_408(gateway_process: RunningProcess) -> None:
    """Slowloris: the answer comes at the header timeout, however steadily bytes arrive."""
    request = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    started = time.monotonic()
    data = b""
    with socket.create_connection(("127.0.0.1", gateway_process.port)) as sock:
        sock.settimeout(0.1)
        for byte in request:  # 10 bytes a second: the whole head would take 23 s
            with contextlib.suppress(TimeoutError):
                sock.sendall(bytes([byte]))
                data = sock.recv(65536)
            if data or time.monotonic() - started > HEADER_TIMEOUT + 10:
                break
        answered = time.monotonic() - started
        rest, _ = read_until_closed(sock, 15)
    assert_envelope(parse_response(data + rest), 408, "REQUEST_TIMEOUT")
    assert parse_response(data + rest).headers["connection"] == "close"
    assert answered < HEADER_TIMEOUT + 5


def test_incomplete_headers_get_408(gateway_process: RunningProcess) -> None:
    with socket.create_connection(("127.0.0.1", gateway_process.port)) as sock:
        sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")
        data, lifetime = read_until_closed(sock, HEADER_TIMEOUT + 10)
    assert_envelope(parse_response(data), 408, "REQUEST_TIMEOUT")
    assert lifetime < HEADER_TIMEOUT + 5


@pytest.mark.parametrize("path", ["/graphql", "/users"])
def test_body_shorter_than_its_length_gets_408(gateway_process: RunningProcess, path: str) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", gateway_process.port)) as sock:
        sock.sendall(head + b'{"query": ')
        data, lifetime = read_until_closed(sock, BODY_TIMEOUT + 10)
    assert_envelope(parse_response(data), 408, "REQUEST_TIMEOUT")
    assert lifetime < BODY_TIMEOUT + 5


def test_a_body_that_keeps_coming_is_not_timed_out(gateway_process: RunningProcess) -> None:
    body = b'{"query": "{ __typename }"}'
    head = (
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", gateway_process.port)) as sock:
        sock.sendall(head)
        for i in range(0, len(body), 3):  # 9 pauses: 2.25 s in all, each a quarter of the timeout
            time.sleep(BODY_TIMEOUT / 4)
            sock.sendall(body[i : i + 3])
        data, _ = read_until_closed(sock, 10)
    response = parse_response(data)
    assert response.status == 200
    assert response.json() == {"data": {"__typename": "Query"}}


def test_keep_alive_connection_idle_between_requests_is_not_timed_out(
    gateway_process: RunningProcess,
) -> None:
    request = b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway_process.port), timeout=10) as sock:
        sock.sendall(request)
        assert read_one_response(sock).status == 200
        time.sleep(HEADER_TIMEOUT * 1.5)  # longer than the header timeout, within keep-alive
        sock.sendall(request)
        assert read_one_response(sock).status == 200


# Item 8: the 413 reaches clients that close after their request


def test_413_reaches_urllib_which_sends_connection_close(gateway_process: RunningProcess) -> None:
    body = b"x" * EIGHT_MIB
    outcomes = []
    for _ in range(30):
        request = urllib.request.Request(
            f"{gateway_process.url}/users", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            urllib.request.urlopen(request, timeout=10)
            outcomes.append("no error")
        except urllib.error.HTTPError as exc:
            payload = orjson.loads(exc.read())
            outcomes.append(f"{exc.code} {payload['error']['code']}")
        except OSError as exc:
            outcomes.append(repr(exc))
    assert outcomes == ["413 PAYLOAD_TOO_LARGE"] * 30


@pytest.mark.parametrize("chunked", [False, True])
def test_413_over_a_raw_socket_with_connection_close(
    gateway_process: RunningProcess, chunked: bool
) -> None:
    if chunked:
        framing = b"Transfer-Encoding: chunked\r\n"
        chunk = b"x" * 65536
        body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * (EIGHT_MIB // len(chunk)) + b"0\r\n\r\n"
    else:
        framing = b"Content-Length: %d\r\n" % EIGHT_MIB
        body = b"x" * EIGHT_MIB
    head = b"POST /orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + framing + b"\r\n"
    with socket.create_connection(("127.0.0.1", gateway_process.port), timeout=10) as sock:
        sock.sendall(head + body)
        data, _ = read_until_closed(sock, 10)
    response = parse_response(data)
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert response.headers["connection"] == "close"


# Item 9: what the HTTP server itself refuses is our envelope

PARSER_REFUSALS = {
    "URL over 64 KiB": b"GET /users?ids=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "URL just over 32 KiB": b"GET /users?x=" + b"a" * 33_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "invalid Content-Length": b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
    "negative Content-Length": b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "two Content-Lengths": (
        b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    ),
    "Content-Length and chunked": (
        b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "bad chunk size": (
        b"POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    ),
    "control byte in the URL": b"GET /us\x01ers HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-ASCII byte in the URL": b"GET /users/\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
    "space in the URL": b"GET /users /x HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad byte in a header name": b"GET /health HTTP/1.1\r\nHost: x\r\nX-\x01: y\r\n\r\n",
    "NUL in a header value": b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "header without a colon": b"GET /health HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n",
    "not HTTP at all": b"HELLO WORLD\r\n\r\n",
    "unknown HTTP version": b"GET /health HTTP/7.1\r\nHost: x\r\n\r\n",
    "too many headers": (
        b"GET /health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: y\r\n" % i for i in range(150))
        + b"\r\n"
    ),
    "headers over 64 KiB": (
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    ),
}


@pytest.mark.parametrize("case", list(PARSER_REFUSALS))
def test_http_parser_refusals_are_our_envelope(
    gateway_process: RunningProcess, users_process: RunningProcess, case: str
) -> None:
    for port in (gateway_process.port, users_process.port):
        response = exchange(port, PARSER_REFUSALS[case])
        assert_envelope(response, 400, "BAD_REQUEST")
        assert response.headers["connection"] == "close"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_batch_url_of_500_ids_is_within_the_url_limit(users_process: RunningProcess) -> None:
    ids = ",".join(str(uuid.uuid4()) for _ in range(500))
    response = httpx.get(f"{users_process.url}/users", params={"ids": ids}, timeout=10)
    assert response.status_code == 200


def test_upgrade_requests_are_served_as_plain_http(gateway_process: RunningProcess) -> None:
    for upgrade in (b"websocket", b"h2c"):
        request = (
            b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: "
            + upgrade
            + b"\r\nSec-WebSocket-Version: 13\r\n"
            + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        response = exchange(gateway_process.port, request)
        assert response.status == 200
        assert response.json()["success"] is True


# Item 13: a client that goes away is one INFO line


def _hanging_listener() -> socket.socket:
    """A 'service' that accepts connections (the kernel does) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


def _log_problems(text: str) -> list[str]:
    return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]


def test_client_disconnects_are_not_errors(orders_process: RunningProcess, tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    hanging = _hanging_listener()
    env = {
        "GATEWAY_USERS_URL": f"http://127.0.0.1:{hanging.getsockname()[1]}",
        "GATEWAY_ORDERS_URL": orders_process.url,
        "GATEWAY_UPSTREAM_TIMEOUT": "1",
        "GATEWAY_BREAKER_FAIL_MAX": "1000",
        # /health waits for its probe of the hanging service: well within the 1 s a
        # readiness check gives it.
        "GATEWAY_HEALTH_PROBE_TIMEOUT": "0.2",
    }
    query = orjson.dumps({"query": "{ users(limit: 5) { total } }"})
    requests = [
        b"GET /users/%s HTTP/1.1\r\nHost: x\r\n\r\n" % str(uuid.uuid4()).encode(),
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(query), query),
        # a body that stops halfway, then the client leaves
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"query": ',
        b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"email": ',
    ]
    try:
        with running("graphql_gateway", "GATEWAY_", env, log_path=str(log)) as gateway:
            for i in range(52):
                with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
                    sock.sendall(requests[i % len(requests)])
                    time.sleep(0.02)  # the request is in flight, then we vanish
            time.sleep(2.5)  # every upstream call has timed out by now
            assert httpx.get(f"{gateway.url}/status", timeout=5).status_code == 200
    finally:
        hanging.close()
    text = log.read_text()
    assert _log_problems(text) == []
    assert "Exception" not in text


# Item 15: security headers and the docs switch


def _assert_security_headers(headers: httpx.Headers | dict[str, str], *, html: bool) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    # An HTML page may load scripts of its own origin (tests/test_static_pages.py), JSON none.
    assert ("script-src 'self'" in policy) is html


def test_security_headers_on_every_process(
    gateway_process: RunningProcess,
    users_process: RunningProcess,
    orders_process: RunningProcess,
) -> None:
    for url in (gateway_process.url, users_process.url, orders_process.url):
        for path in ("/health", "/no-such-route", "/openapi.json", "/docs"):
            response = httpx.get(f"{url}{path}", timeout=10)
            html = response.headers["content-type"].startswith("text/html")
            assert html == (path == "/docs")
            _assert_security_headers(response.headers, html=html)
    graphiql = httpx.get(
        f"{gateway_process.url}/graphql", headers={"Accept": "text/html"}, timeout=10
    )
    assert graphiql.status_code == 200
    _assert_security_headers(graphiql.headers, html=True)
    refused = exchange(gateway_process.port, PARSER_REFUSALS["not HTTP at all"])
    _assert_security_headers(refused.headers, html=False)


@pytest.mark.parametrize(
    ("env", "docs", "served"),
    [
        ("development", None, True),
        ("production", None, False),
        ("production", True, True),
        ("development", False, False),
    ],
)
async def test_docs_are_switchable(env: str, docs: bool | None, served: bool) -> None:
    apps = [
        create_gateway_app(GatewaySettings(env=env, docs=docs)),
        create_users_app(UsersSettings(env=env, docs=docs)),
    ]
    for app in apps:
        async with asgi_client(app) as client:
            for path in ("/docs", "/redoc"):
                response = await client.get(path)
                assert response.status_code == (200 if served else 404)
                if not served:
                    assert response.json()["error"]["code"] == "NOT_FOUND"
            assert (await client.get("/openapi.json")).status_code == 200
