"""A small HTTP/1.1 client of our own for the calls to the services (`GATEWAY_HTTP_TRANSPORT=raw`).

Why hand-written: a call through `ServiceClient` (breaker, metrics, parsing included)
costs ~155 µs of CPU on it against ~290 µs through aiohttp (clients/transport.py), -46 %
(`python -m bench.client_cost --rounds 5`, the transports alternated in one run; medians
156 / 287 µs, aiohttp 1.77-2.01x in every round); the sending alone (`--sending-only`)
91 against 215 µs. The gateway's CPU per S3 request: -19 to -37 % (medians of two
alternated runs, docs/performance.md). A call needs little of HTTP: one request written
at once, one answer read whole, keep-alive connections to one service. `httptools`
(llhttp, the parser uvicorn runs on) reads the answers; this module keeps the
connections and says what each failure means, with httpx's exception classes, as the
table in clients/transport.py's doc has it (tests/graphql_gateway/test_raw_transport.py,
on real sockets):

    refused, unreachable, TLS          -> ConnectError
    closed before a (complete) answer  -> RemoteProtocolError
    reset while reading or writing     -> ReadError
    connecting took too long           -> ConnectTimeout
    no byte for the read timeout       -> ReadTimeout
    no connection free in the pool     -> PoolTimeout
    an answer that is not HTTP         -> RemoteProtocolError (a head over 64 KiB too)
    a header of ours HTTP forbids      -> LocalProtocolError, nothing sent (as httpx's)

Nothing is ever sent again here: that is clients/base.py's decision. Connections: at
most `max_connections`, the most recently used first; an idle one is kept
`keepalive_expiry` seconds and never used after that; one the service closed, or whose
answer said `Connection: close` (or was HTTP/1.0, or a HEAD's), or that brought a byte
past the end of its answer, is never used again.
Bodies: Content-Length, chunked, or up to the close. An answer with a Content-Encoding
goes to httpx to decode, as on the aiohttp path. Requests go out as httpx built them
(or as `DirectRequest`), header names in lower case; their bodies are small JSON,
written without waiting for the socket's buffer. No write timeout (aiohttp had none).
"""

from __future__ import annotations

import asyncio
import collections
import re
import ssl
from collections.abc import Mapping
from typing import Any, cast

import httptools
import httpx

from graphql_gateway.clients.transport import Answer, DirectRequest

# The status line and headers of an answer: more is not a service of ours.
HEAD_LIMIT = 64 * 1024
# What HTTP allows in a header of ours (h11's rules, which httpx's own transport applies):
# anything else is our request breaking HTTP, refused before a byte goes out.
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")

Origin = tuple[str, str, int]  # scheme, host, port


class _Connection(asyncio.Protocol):
    """One connection; reads one answer at a time (the parser's callbacks are below)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.counted = True  # in RawTransport._count until dropped
        self.idle_since = 0.0
        self.waiter: asyncio.Future[None] | None = None
        self.last_read = 0.0
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.head_size = 0
        self.head_done = False
        self.until_close = False  # the body ends when the service closes
        self.done = False
        self.keep_alive = False  # the answer allows the connection to be used again
        self.head_only = False  # a HEAD's answer: no body, whatever its headers say
        self.error: httpx.TransportError | None = None
        self.timer: asyncio.TimerHandle | None = None  # the read timeout

    def start(self, head_only: bool) -> asyncio.Future[None]:
        self.status = 0
        self.headers = []
        self.body = []
        self.head_size = 0
        self.head_done = False
        self.until_close = False
        self.done = False
        self.keep_alive = False
        self.error = None
        self.head_only = head_only
        self.last_read = self.loop.time()
        self.waiter = self.loop.create_future()
        return self.waiter

    def _finish(self, error: httpx.TransportError | None = None) -> None:
        if error is not None and not self.done:
            self.error = error
        self.done = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: the connection is not reused
            self.close()
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self.close()
            if isinstance(exc.__context__, httpx.RemoteProtocolError):  # from on_header
                self._finish(exc.__context__)
            else:
                self._finish(httpx.RemoteProtocolError(f"not an HTTP answer: {exc}"))
            return
        if not self.head_done and not self.done:
            self.head_size += len(data)  # a head that keeps coming
            if self.head_size > HEAD_LIMIT:
                self.close()
                self._finish(httpx.RemoteProtocolError("answer head over 64 KiB"))

    def eof_received(self) -> bool:
        self.closed = True  # never taken from the pool again
        return False  # closes the connection: connection_lost says the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is None:
            return
        if exc is not None:
            self._finish(httpx.ReadError(str(exc) or type(exc).__name__))
        elif self.until_close:
            self._finish()  # the body ran up to the close: complete
        else:
            self._finish(httpx.RemoteProtocolError("closed before a complete answer"))

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self.done:
            # Bytes past the answer, in the segment that ended it: another answer nobody
            # asked for. Parsing stops here (its head would overwrite this answer's status
            # and headers) and the connection is not reused (the next request would read it).
            self.close()
            raise httpx.RemoteProtocolError("bytes past the end of the answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if self.head_size > HEAD_LIMIT:  # one chunk: raised by feed_data, as a parser error
            raise httpx.RemoteProtocolError("answer head over 64 KiB")
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.head_done = True
        if self.head_only and self.status >= 200:
            self.close()  # the parser would wait for a body: not reused
            self._finish()
            return
        if not self.parser.should_keep_alive():
            # No length and not chunked means up to the close (also any Connection: close).
            self.until_close = not any(
                name.lower() in (b"content-length", b"transfer-encoding")
                for name, _ in self.headers
            )

    def on_body(self, body: bytes) -> None:
        if not self.done:  # (a HEAD's answer is done with its head)
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.status < 200:  # 100 Continue and the like: the answer is still to come
            self.headers = []
            self.head_done = False
            return
        self.keep_alive = self.parser.should_keep_alive()  # read here: the parser resets
        self._finish()

    def read_timed_out(self, read_timeout: float) -> None:
        """Called `read_timeout` after the last byte came: gives up, or waits the rest."""
        self.timer = None
        if self.waiter is None:
            return
        left = self.last_read + read_timeout - self.loop.time()
        if left > 0:
            self.timer = self.loop.call_later(left, self.read_timed_out, read_timeout)
            return
        self.close()
        self._finish(httpx.ReadTimeout(f"no byte for {read_timeout}s"))


class RawTransport(httpx.AsyncBaseTransport):
    """Keeps the connections; `exchange` sends one request (see the module doc)."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limit = limits.max_connections or 1 << 30
        self._expiry = limits.keepalive_expiry if limits.keepalive_expiry is not None else 5.0
        self._idle: dict[Origin, collections.deque[_Connection]] = {}
        self._count = 0  # connections open or opening
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._all: set[_Connection] = set()
        self._origins: dict[str, Origin] = {}
        self._ssl: ssl.SSLContext | None = None

    # the pool

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._all.discard(conn)
        if conn.counted:
            conn.counted = False
            self._count -= 1
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _drop_an_idle_one(self) -> None:
        for idle in self._idle.values():
            if idle:
                self._drop(idle.popleft())
                return

    def _release(self, origin: Origin, conn: _Connection) -> None:
        idle = self._idle.setdefault(origin, collections.deque())
        now = conn.loop.time()
        conn.idle_since = now
        while idle and now - idle[0].idle_since > self._expiry:
            self._drop(idle.popleft())
        idle.append(conn)
        self._wake()

    async def _acquire(self, origin: Origin, timeouts: Mapping[str, Any]) -> _Connection:
        while True:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if conn.closed or conn.loop.time() - conn.idle_since > self._expiry:
                    self._drop(conn)
                    continue
                return conn
            # (Not on every call: each asks the system for the process id.)
            loop = asyncio.get_running_loop()
            if self._count >= self._limit:
                self._drop_an_idle_one()  # of another service, if any
            if self._count < self._limit:
                return await self._connect(loop, origin, timeouts.get("connect"))
            await self._wait_for_slot(loop, timeouts.get("pool"))

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop, limit: float | None) -> None:
        waiter = loop.create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(limit):
                await waiter
        except BaseException as exc:
            # Given a turn and timed out or cancelled in the same pass: it goes to the next.
            if waiter.done() and not waiter.cancelled():
                self._wake()
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout(f"no connection free within {limit}s") from None
            raise
        finally:
            if not waiter.done():
                waiter.cancel()

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, origin: Origin, limit: float | None
    ) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        self._count += 1
        try:
            async with asyncio.timeout(limit):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop), host, port, ssl=context
                )
        except TimeoutError:
            self._count -= 1
            self._wake()
            raise httpx.ConnectTimeout(f"no connection within {limit}s") from None
        except OSError as exc:  # refused, unreachable, TLS (ssl.SSLError is an OSError)
            self._count -= 1
            self._wake()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            self._count -= 1
            self._wake()
            raise
        self._all.add(conn)
        return conn

    def _origin(self, target: str) -> tuple[Origin, str]:
        """The origin and the path (with the query) of an absolute URL."""
        cut = target.find("/", target.find("//") + 2)
        if cut < 0:
            base, path = target, "/"
        else:
            base, path = target[:cut], target[cut:]
        origin = self._origins.get(base)
        if origin is None:
            url = httpx.URL(base)
            port = url.port or (443 if url.scheme == "https" else 80)
            origin = self._origins[base] = (url.scheme, url.host, port)
        return origin, path

    # sending

    async def _roundtrip(
        self, request: httpx.Request | DirectRequest
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        method = request.method
        if type(request) is DirectRequest:
            origin, path = self._origin(request.target)
            lines = [f"{method} {path} HTTP/1.1\r\n"]
            lines.extend(f"{name}: {value}\r\n" for name, value in request.headers.items())
            lines.append("\r\n")
            data = "".join(lines).encode("latin-1") + request.content
        else:
            assert isinstance(request, httpx.Request)
            url = request.url
            origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
            head = [method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
            for name, value in request.headers.raw:
                if not (_NAME.fullmatch(name) and _VALUE.fullmatch(value)):
                    raise httpx.LocalProtocolError(f"header {name!r} cannot go out in HTTP")
                # Lower-case, as a DirectRequest's: a read goes out the same either way.
                head += (name.lower(), b": ", value, b"\r\n")
            head.append(b"\r\n")
            data = b"".join(head) + await request.aread()
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        conn = await self._acquire(origin, timeouts)
        clean = False
        try:
            waiter = conn.start(method == "HEAD")
            assert conn.transport is not None
            conn.transport.write(data)
            if read_timeout is not None:
                conn.timer = conn.loop.call_later(read_timeout, conn.read_timed_out, read_timeout)
            await waiter
            if conn.error is not None:
                raise conn.error
            clean = conn.keep_alive and not conn.closed
            return conn.status, conn.headers, b"".join(conn.body)
        finally:
            conn.waiter = None
            if conn.timer is not None:
                conn.timer.cancel()
                conn.timer = None
            if clean:
                self._release(origin, conn)
            else:
                self._drop(conn)

    async def exchange(self, request: httpx.Request | DirectRequest) -> Answer | httpx.Response:
        """Send `request` and read the whole answer (the same contract as ServiceTransport's)."""
        status, raw, content = await self._roundtrip(request)
        headers: dict[str, str] = {}
        for name, value in raw:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        if "content-encoding" in headers:
            # Decoded by httpx, as on its own path: a body that does not decode is
            # httpx.DecodingError (502), whichever transport.
            return httpx.Response(status, headers=raw, content=content)
        return Answer(status, headers, content)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """httpx's own way in (the breaker's /health probes)."""
        status, raw, content = await self._roundtrip(request)
        return httpx.Response(status, headers=raw, stream=httpx.ByteStream(content))

    async def aclose(self) -> None:
        for conn in list(self._all):
            self._drop(conn)
        self._idle.clear()
