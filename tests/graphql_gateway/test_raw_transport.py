"""clients/raw.py against real sockets: what each way a service can answer (or fail to)
becomes, in httpx's exception classes (the table in its module doc), and what happens to
the connection after it."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import inspect
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvloop

from graphql_gateway.clients.raw import RawTransport
from graphql_gateway.clients.transport import Answer, DirectRequest
from tests.support.procs import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""
        self.writers: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.add(writer)
        try:
            await self.handler(reader, writer, self.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        return head


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    server = Server(handler)
    listening = await asyncio.start_server(server._handle, "127.0.0.1", 0)
    server.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    try:
        yield server
    finally:
        listening.close()
        for writer in server.writers:
            writer.close()
        await listening.wait_closed()


def transport(*, connections: int = 4, expiry: float = 15.0) -> RawTransport:
    return RawTransport(httpx.Limits(max_connections=connections, keepalive_expiry=expiry))


def request(url: str, timeout: float = 1.0, path: str = "/x") -> DirectRequest:
    host = url.removeprefix("http://")
    return DirectRequest(
        "GET",
        url + path,
        {"host": host, "accept": "*/*", "x-request-id": "-"},
        {"timeout": httpx.Timeout(timeout).as_dict()},
    )


async def get(raw: RawTransport, url: str, read_within: float = 1.0) -> Answer:
    answer = await raw.exchange(request(url, read_within))
    assert isinstance(answer, Answer)
    return answer


async def get_fails(url: str, error: type[Exception]) -> None:
    """A GET on a fresh transport raises `error`."""
    raw = transport()
    try:
        with pytest.raises(error):
            await get(raw, url)
    finally:
        await raw.aclose()


@asynccontextmanager
async def serving_answers(*answers: bytes, then_close: bool = False) -> AsyncIterator[Server]:
    """Each request on a connection gets the next answer; with `then_close`, the
    connection is closed after the last one (without a word)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        for answer in answers:
            await server.read(reader)
            writer.write(answer)
            await writer.drain()
        if not then_close:
            await reader.read()  # until the client closes

    async with serving(handle) as server:
        yield server


# --------------------------------------------------------------------------- answers


async def test_a_kept_alive_connection_carries_the_next_request() -> None:
    async with serving_answers(OK, OK, OK) as server:
        raw = transport()
        try:
            for _ in range(3):
                answer = await get(raw, server.url)
                assert (answer.status_code, answer.content) == (200, b"{}")
                assert answer.headers["content-type"] == "application/json"
        finally:
            await raw.aclose()
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /x HTTP/1.1\r\nhost: 127.0.0.1:")


async def test_a_chunked_answer_is_read_whole() -> None:
    chunked = (
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: "v2"\r\n\r\n'
        b'5\r\n{"a":\r\n3\r\n12}\r\n0\r\n\r\n'
    )
    async with serving_answers(chunked, chunked) as server:
        raw = transport()
        try:
            for _ in range(2):
                answer = await get(raw, server.url)
                assert (answer.content, answer.headers.get("etag")) == (b'{"a":12}', '"v2"')
        finally:
            await raw.aclose()
    assert server.connections == 1


async def test_connection_close_is_honoured() -> None:
    closing = OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    async with serving_answers(closing) as server:
        raw = transport()
        try:
            for _ in range(2):
                assert (await get(raw, server.url)).content == b"{}"
        finally:
            await raw.aclose()
    assert server.connections == 2, "a connection the service closes is not used again"


async def test_a_body_up_to_the_close() -> None:
    """HTTP/1.0 style: no length, not chunked; the close ends the body."""
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 100_000
    async with serving_answers(until_close, then_close=True) as server:
        raw = transport()
        try:
            assert (await get(raw, server.url)).content == b"x" * 100_000
        finally:
            await raw.aclose()


async def test_a_head_answer_has_no_body_whatever_its_length_says() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while True:
            head = await server.read(reader)
            writer.write(OK.removesuffix(b"{}") if head.startswith(b"HEAD ") else OK)
            await writer.drain()

    async with serving(handle) as server:
        raw = transport()
        try:
            head = await raw.exchange(dataclasses.replace(request(server.url), method="HEAD"))
            assert (head.status_code, head.content) == (200, b"")
            assert (await get(raw, server.url)).content == b"{}"
        finally:
            await raw.aclose()


async def test_an_interim_answer_is_skipped() -> None:
    async with serving_answers(b"HTTP/1.1 100 Continue\r\n\r\n" + OK) as server:
        raw = transport()
        try:
            assert (await get(raw, server.url)).status_code == 200
        finally:
            await raw.aclose()


async def test_a_compressed_answer_goes_to_httpx_to_decode() -> None:
    body = gzip.compress(b'{"a":1}')
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
    async with serving_answers(head.encode() + body) as server:
        raw = transport()
        try:
            answer = await raw.exchange(request(server.url))
        finally:
            await raw.aclose()
    assert isinstance(answer, httpx.Response)
    assert answer.content == b'{"a":1}'


async def test_httpx_requests_and_its_client_go_through_too() -> None:
    """The breaker's /health probe goes through `httpx.AsyncClient` (handle_async_request)."""
    async with serving_answers(OK, OK) as server:
        raw = transport()
        async with httpx.AsyncClient(transport=raw, base_url=server.url) as client:
            response = await client.get("/health")
            assert (response.status_code, response.json()) == (200, {})
            post = client.build_request("POST", "/orders", json={"a": 1})
            answer = await raw.exchange(post)
            assert isinstance(answer, Answer)
            assert answer.status_code == 200
    assert server.connections == 1
    assert b"content-length: 7" in server.requests[1]


@pytest.mark.parametrize(
    "past",
    [
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\n",  # a head, its body to come
        b"HTTP/1.1 500 Oops\r\nX-Other: 1\r\nContent-Length: 0\r\n\r\n",  # a whole answer
        b"HTTP/1.1 404 Not",  # the start of one
    ],
)
async def test_bytes_past_the_answer_are_neither_this_answer_nor_the_next(past: bytes) -> None:
    """Bytes after the answer's end, in the same segment: the answer stays as it came and
    its connection is not used again (its next request would read them as its answer)."""
    other = b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"a":1}'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await server.read(reader)
            writer.write(OK + past if n == 1 else other)  # one write
            await writer.drain()

    async with serving(handle) as server:
        raw = transport()
        try:
            first = await get(raw, server.url)
            assert (first.status_code, first.content) == (200, b"{}")
            assert "x-other" not in first.headers
            second = await get(raw, server.url)
            assert (second.status_code, second.content) == (200, b'{"a":1}')
        finally:
            await raw.aclose()
    assert server.connections == 2


# --------------------------------------------------------------------------- failures


async def test_refused_is_a_connect_error() -> None:
    raw = transport()
    try:
        with pytest.raises(httpx.ConnectError):
            await get(raw, f"http://127.0.0.1:{free_port()}")
    finally:
        await raw.aclose()


async def test_closed_before_answering_is_a_remote_protocol_error() -> None:
    async def handle(reader: asyncio.StreamReader, *_: object) -> None:
        await server.read(reader)  # and closes without a word

    async with serving(handle) as server:
        await get_fails(server.url, httpx.RemoteProtocolError)


async def test_a_kept_alive_connection_the_service_closes_is_a_remote_protocol_error() -> None:
    """The service reads the second request on the kept-alive connection and closes it:
    a RemoteProtocolError, which clients/base.py sends again for a read."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.read(reader)
        writer.write(OK)
        await writer.drain()
        await server.read(reader)  # and closes without a word

    async with serving(handle) as server:
        raw = transport()
        try:
            assert (await get(raw, server.url)).status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                await get(raw, server.url)
        finally:
            await raw.aclose()
    assert server.connections == 1, "the second request went on the kept-alive connection"
    assert len(server.requests) == 2


async def test_a_connection_the_service_closed_while_idle_is_not_used() -> None:
    async with serving_answers(OK, then_close=True) as server:
        raw = transport()
        try:
            assert (await get(raw, server.url)).status_code == 200
            await asyncio.sleep(0.05)  # the close reaches us
            assert (await get(raw, server.url)).status_code == 200
        finally:
            await raw.aclose()
    assert server.connections == 2


async def test_closed_mid_body_is_a_remote_protocol_error() -> None:
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10
    async with serving_answers(short, then_close=True) as server:
        await get_fails(server.url, httpx.RemoteProtocolError)


async def test_closed_mid_chunk_is_a_remote_protocol_error() -> None:
    short = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"
    async with serving_answers(short, then_close=True) as server:
        await get_fails(server.url, httpx.RemoteProtocolError)


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello there\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_an_answer_that_is_not_http_is_a_remote_protocol_error(garbage: bytes) -> None:
    async with serving_answers(garbage) as server:
        await get_fails(server.url, httpx.RemoteProtocolError)


@pytest.mark.parametrize("at_once", [True, False])
async def test_a_huge_head_is_a_remote_protocol_error(at_once: bool) -> None:
    huge = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\nContent-Length: 2\r\n\r\n{}"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if at_once:
            writer.write(huge)
        else:  # a head that keeps coming
            for i in range(0, len(huge), 1000):
                writer.write(huge[i : i + 1000])
                await writer.drain()
                await asyncio.sleep(0)
        await writer.drain()
        await reader.read()

    async with serving(handle) as server:
        raw = transport()
        try:
            with pytest.raises(httpx.RemoteProtocolError, match="64 KiB"):
                await get(raw, server.url)
        finally:
            await raw.aclose()


async def test_silence_past_the_read_timeout_is_a_read_timeout() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK[:20])  # a start, then nothing
        await reader.read()

    async with serving(handle) as server:
        raw = transport()
        try:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await get(raw, server.url, read_within=0.2)
            assert 0.15 < time.monotonic() - started < 0.6
        finally:
            await raw.aclose()


async def test_bytes_that_keep_coming_are_not_a_read_timeout() -> None:
    """The read timeout bounds each wait for a byte, not the whole answer (clients/base.py
    bounds that with the call's deadline)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for i in range(0, len(OK), 10):
            writer.write(OK[i : i + 10])
            await writer.drain()
            await asyncio.sleep(0.05)
        await reader.read()

    async with serving(handle) as server:
        raw = transport()
        try:
            assert (await get(raw, server.url, read_within=0.12)).content == b"{}"
        finally:
            await raw.aclose()


async def test_a_reset_is_a_read_error() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK[:20])
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST

    async with serving(handle) as server:
        await get_fails(server.url, httpx.ReadError)


async def test_a_header_http_forbids_is_refused_before_sending() -> None:
    async with serving_answers(OK) as server:
        raw = transport()
        try:
            bad = httpx.Request("GET", server.url + "/x", headers={"x-request-id": "a\x00b"})
            with pytest.raises(httpx.LocalProtocolError):
                await raw.exchange(bad)
        finally:
            await raw.aclose()
    assert server.requests == []


# --------------------------------------------------------------------------- the pool


async def test_no_connection_free_in_time_is_a_pool_timeout() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        delay = 0.5  # the first answer only
        while True:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(delay)
            delay = 0
            writer.write(OK)
            await writer.drain()

    async with serving(handle) as server:
        raw = transport(connections=1)
        try:
            first = asyncio.create_task(get(raw, server.url))
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await get(raw, server.url, read_within=0.1)
            assert (await first).status_code == 200
            # The connection is free again: the next call gets it.
            assert (await get(raw, server.url)).status_code == 200
        finally:
            await raw.aclose()
    assert server.connections == 1


async def test_a_call_waiting_for_the_pool_gets_the_connection_freed() -> None:
    async with serving_answers(OK, OK, OK) as server:
        raw = transport(connections=1)
        try:
            answers = await asyncio.gather(*(get(raw, server.url) for _ in range(3)))
            assert [answer.status_code for answer in answers] == [200] * 3
        finally:
            await raw.aclose()
    assert server.connections == 1


async def test_a_turn_given_as_the_pool_timeout_expires_goes_to_the_next_waiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A waiter given a free connection in the same loop pass as its pool timeout expires
    raises PoolTimeout: the turn it was given goes to the next waiter, which would
    otherwise wait for another connection to come free (or its own timeout) beside an
    idle one."""
    timeouts: list[asyncio.Timeout] = []
    real_timeout = asyncio.timeout

    def recorded(delay: float | None) -> asyncio.Timeout:
        timeouts.append(real_timeout(delay))
        return timeouts[-1]

    monkeypatch.setattr(asyncio, "timeout", recorded)
    raw = transport(connections=1)
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(raw._wait_for_slot(loop, 10.0))
    second = asyncio.create_task(raw._wait_for_slot(loop, 10.0))
    await asyncio.sleep(0)  # both wait
    timeouts[0].reschedule(loop.time())  # the first one's timeout fires in this pass...
    raw._wake()  # ... which also frees a connection for it
    with pytest.raises(httpx.PoolTimeout):
        await first
    await asyncio.wait_for(second, 1.0)


async def test_an_idle_connection_past_its_expiry_is_not_used() -> None:
    async with serving_answers(OK, OK) as server:
        raw = transport(expiry=0.1)
        try:
            await get(raw, server.url)
            await get(raw, server.url)
            assert server.connections == 1
            await asyncio.sleep(0.15)
            await get(raw, server.url)
        finally:
            await raw.aclose()
    assert server.connections == 2


async def test_a_cancelled_call_leaves_no_half_read_connection_in_the_pool() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if n == 1:
            writer.write(OK[:20])  # the rest would come later, on the first connection
            await writer.drain()
            await asyncio.sleep(0.3)
            writer.write(OK[20:])
            await writer.drain()
        else:
            writer.write(OK)
            await writer.drain()
        await reader.read()

    async with serving(handle) as server:
        raw = transport()
        try:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await get(raw, server.url)
            assert (await get(raw, server.url)).content == b"{}"
        finally:
            await raw.aclose()
    assert server.connections == 2


# --------------------------------------------------------------------------- on uvloop

# The served gateway runs on uvloop (apicore/serve.py), the tests above on asyncio's own
# loop: the ones that need no arguments, again on uvloop (its transports close, reset
# and report differently inside).
ON_UVLOOP = [
    case
    for name, case in sorted(globals().items())
    if name.startswith("test_")
    and asyncio.iscoroutinefunction(case)
    and not inspect.signature(case).parameters
]


@pytest.mark.parametrize("case", ON_UVLOOP, ids=lambda case: case.__name__)
def test_the_same_on_uvloop(case: Callable[[], Coroutine[Any, Any, None]]) -> None:
    uvloop.run(case())
