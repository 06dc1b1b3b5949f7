"""uvicorn's httptools protocol, with the guards a public HTTP server needs.

uvicorn (0.54) reads a request for as long as the client likes: a new connection that
sends nothing, headers at one byte a second, a body shorter than its Content-Length are
all kept forever. Its own refusals are plain text, and when it closes a connection whose
request body is still arriving, the kernel answers the unread bytes with a reset, so the
client never reads our answer (a 413 to a client that sends `Connection: close`). No
setting of uvicorn's covers these, hence this subclass; everything else is uvicorn's.

    new connection, no byte within header_timeout     -> closed, nothing to answer
    request line + headers not complete in header_timeout
                                                      -> 408 REQUEST_TIMEOUT
    no body byte for body_timeout (while we read)     -> 408 REQUEST_TIMEOUT
    invalid HTTP, URL over MAX_URL_BYTES, head over MAX_HEAD_BYTES or MAX_HEADERS
                                                      -> 400 BAD_REQUEST
    closing while the client is still sending         -> lingering close: our answer is
       sent, our side half-closed, and what the client still sends is read and dropped
       (at most LINGER_MAX_BYTES, LINGER_TIME in all, LINGER_IDLE_TIME between reads),
       as nginx's `lingering_close` does.

Every refusal is our error envelope with `Connection: close`, and one INFO log line.
The hot path pays one clock read per chunk received and no timer per request: a
connection holds at most one timer, armed only while a request is incomplete at the
end of a chunk, which checks on firing whether its deadline still holds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httptools
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from apicore.errors import BAD_REQUEST, REQUEST_TIMEOUT, ApiError
from apicore.security import SECURITY_HEADERS_JSON

logger = logging.getLogger("apicore.protocol")

# 500 ids of 36 characters in one query string (the batch routes) is about 19 KB.
MAX_URL_BYTES = 32 * 1024
MAX_HEAD_BYTES = 64 * 1024  # request line and headers together
MAX_HEADERS = 100
LINGER_TIME = 5.0
LINGER_IDLE_TIME = 2.0
LINGER_MAX_BYTES = 32 * 1024 * 1024
# A held write and the next are joined into one bytes object up to this size; larger,
# they are handed to the transport as two buffers (one writev, no copy).
_JOIN_MAX_BYTES = 64 * 1024


class _Phase(Enum):
    """Where the request being read stands."""

    IDLE = "idle"  # a new connection, nothing received yet
    HEAD = "head"  # request line and headers arriving
    BODY = "body"  # headers complete, body arriving
    DONE = "done"  # request complete (or between keep-alive requests)


@dataclass(frozen=True, slots=True)
class ReadTimeouts:
    header: float = 10.0  # from the first byte (or the connection) to the end of the headers
    body: float = 30.0  # between two reads of the body


class _Refused(Exception):
    """Raised from a parser callback to refuse the request with a 400."""


class _Transport:
    """The connection's transport as uvicorn sees it: closing it may linger first, and
    (`coalesce`) a response's head leaves with its body, in one write.

    uvicorn writes a response in two calls, the status line and headers at
    `http.response.start`, then the body; uvloop sends each at once, so every answer
    costs two `send` system calls and, at one request at a time, two wake-ups of the
    client. A write is held here instead, until the next write (then both leave as one)
    or the end of the event loop's current pass (`call_soon`), whichever comes first:
    the head and body of one answer are sent in one pass of the task that answers, so
    they leave together, and nothing waits longer than that pass. At most one write is
    held; every other use of the transport (closing it, an EOF, the protocol's own
    refusals) sends it first. Measured with `python -m bench.switch_cost --set
    GATEWAY_COALESCE_WRITES=false` (docs/performance.md). Off:
    `*_COALESCE_WRITES=false`.
    """

    def __init__(
        self, transport: asyncio.Transport, protocol: GuardedHttpProtocol, coalesce: bool
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._held: bytes | None = None
        self.write = self._write_held if coalesce else transport.write

    def _write_held(self, data: bytes) -> None:
        held = self._held
        if held is None:
            if data:
                self._held = data
                self._protocol.loop.call_soon(self.flush)
            return
        self._held = None
        if len(held) + len(data) <= _JOIN_MAX_BYTES:
            self._transport.write(held + data)
        else:
            self._transport.writelines((held, data))  # one writev, no copy of a large body

    def flush(self) -> None:
        """Send the write held, if any (dropped if the connection is already gone)."""
        held = self._held
        if held is not None:
            self._held = None
            if not (self._protocol._lingering or self._transport.is_closing()):
                self._transport.write(held)

    def writelines(self, data: Any) -> None:
        self.flush()
        self._transport.writelines(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def is_closing(self) -> bool:
        return self._protocol._lingering or self._transport.is_closing()

    def close(self) -> None:
        self._protocol._close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _error_bytes(error: ApiError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = orjson.dumps(error.to_body())
    head = [STATUS_LINE[error.status]]
    headers = [
        *default_headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
        *SECURITY_HEADERS_JSON,
    ]
    head.extend(name + b": " + value + b"\r\n" for name, value in headers)
    head.append(b"\r\n")
    return b"".join(head) + body


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        timeouts: ReadTimeouts | None = None,
        coalesce: bool = True,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.timeouts = timeouts or ReadTimeouts()
        self.coalesce = coalesce
        self._raw: asyncio.Transport | None = None
        self._phase = _Phase.IDLE
        self._head_started = 0.0
        self._head_seen = 0  # bytes received while the current head is incomplete
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._refusal = ""
        self._failed = False
        self._lingering = False
        self._lingered = 0
        self._linger_until = 0.0
        self._linger_timer: asyncio.TimerHandle | None = None

    # Connection lifecycle

    # Ignore below: uvicorn's own connection_made narrows asyncio.Protocol's argument to a
    # Transport, and its `transport` attribute is typed as one; ours wraps it (_Transport).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._raw = transport
        self.transport = _Transport(transport, self, self.coalesce)  # type: ignore[assignment]
        self._head_started = self._last_read = self.loop.time()
        self._timer = self.loop.call_later(self.timeouts.header, self._on_timer)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_read = self.loop.time()
        if self._lingering:
            self._lingered += len(data)
            if self._lingered > LINGER_MAX_BYTES:
                self._raw_close()
            return
        self._unset_keepalive_if_required()
        if self._phase != _Phase.BODY:
            self._head_seen += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No upgrade is supported: the request was started as plain HTTP by
            # on_headers_complete; what follows the head is ignored (uvicorn does the same,
            # with two WARNING lines per request, which a client could flood).
            pass
        except httptools.HttpParserError as exc:
            reason = "" if self._refusal else str(exc)
            self._refuse(self._refusal or "Invalid HTTP request", reason=reason)
            return
        phase = self._phase
        if phase in (_Phase.HEAD, _Phase.BODY):
            if phase == _Phase.HEAD and self._head_seen > MAX_HEAD_BYTES:
                self._refuse(f"Request head over {MAX_HEAD_BYTES // 1024} KiB")
                return
            if self._timer is None:
                self._arm(self.timeouts.header if phase == _Phase.HEAD else self.timeouts.body)

    def eof_received(self) -> None:
        self._flush()  # an answer held (a HEAD's head) goes out before the transport closes
        return None  # closes the transport (uvicorn's behaviour), lingering or not

    # Parser callbacks

    def on_message_begin(self) -> None:
        if self._phase == _Phase.DONE:
            self._head_started = self._last_read
        self._phase = _Phase.HEAD
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        # The limits are checked once per request, here; a head that never completes is
        # bounded in data_received.
        if len(self.url) > MAX_URL_BYTES:
            self._refusal = f"Request URL over {MAX_URL_BYTES // 1024} KiB"
            raise _Refused
        if len(self.headers) > MAX_HEADERS:
            self._refusal = f"More than {MAX_HEADERS} request headers"
            raise _Refused
        if self._head_seen > MAX_HEAD_BYTES and self._head_size() > MAX_HEAD_BYTES:
            self._refusal = f"Request head over {MAX_HEAD_BYTES // 1024} KiB"
            raise _Refused
        self._phase = _Phase.BODY
        self._head_seen = 0
        super().on_headers_complete()

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def on_message_complete(self) -> None:
        self._phase = _Phase.DONE
        super().on_message_complete()

    # uvicorn's own answers

    def send_400_response(self, msg: str) -> None:
        self._refuse(msg)

    # Timeouts

    def _arm(self, delay: float) -> None:
        self._timer = self.loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._raw is None or self._raw.is_closing() or self._lingering:
            return
        now = self.loop.time()
        phase = self._phase
        if phase == _Phase.DONE:
            return  # between requests: uvicorn's keep-alive timeout applies
        if phase == _Phase.BODY:
            deadline = self._last_read + self.timeouts.body
            if self.flow.read_paused:  # the application is not reading: not the client's fault
                deadline = now + self.timeouts.body
        else:
            deadline = self._head_started + self.timeouts.header
        if now < deadline:
            self._arm(deadline - now)
            return
        if phase == _Phase.IDLE:
            logger.debug("Closing a connection that sent nothing in %ss", self.timeouts.header)
            self._raw_close()
            return
        cycle = self.cycle if phase == _Phase.BODY else None
        if cycle is not None and cycle.response_started:
            # The application answered without reading the whole body: nothing to say.
            self._raw_close()
            return
        what = "headers" if phase == _Phase.HEAD else "body"
        logger.info("408: request %s too slow from %s", what, self._peer())
        if cycle is not None:
            # The application sees a disconnect; whatever it sends now goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
        error = ApiError(REQUEST_TIMEOUT, f"Request {what} not received in time")
        self._flush()  # an earlier answer's held write goes first
        self._raw.write(_error_bytes(error, self.server_state.default_headers))
        self._close()

    # Refusals and closing

    def _refuse(self, message: str, *, reason: str = "") -> None:
        if self._raw is None or self._raw.is_closing():
            return
        self._failed = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # a request before this one is still running
            self.cycle.message_event.set()
        logger.info("400 from %s: %s%s", self._peer(), message, f" ({reason})" if reason else "")
        error = ApiError(BAD_REQUEST, message)
        self._flush()  # an earlier answer's held write goes first
        self._raw.write(_error_bytes(error, self.server_state.default_headers))
        self._close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "?"

    def _flush(self) -> None:
        if isinstance(self.transport, _Transport):
            self.transport.flush()

    def _close(self) -> None:
        """Close, lingering first when the client may still be sending its request."""
        raw = self._raw
        if raw is None or raw.is_closing() or self._lingering:
            return
        self._flush()
        if not (self._failed or self._phase in (_Phase.HEAD, _Phase.BODY)):
            raw.close()
            return
        try:
            raw.write_eof()  # our answer goes out, then FIN; the client can read it all
        except (OSError, RuntimeError, NotImplementedError):
            raw.close()
            return
        self._lingering = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flow.resume_reading()
        self._linger_until = self.loop.time() + LINGER_TIME
        self._linger_timer = self.loop.call_later(LINGER_IDLE_TIME, self._on_linger_timer)

    def _on_linger_timer(self) -> None:
        now = self.loop.time()
        deadline = min(self._linger_until, self._last_read + LINGER_IDLE_TIME)
        if now >= deadline:
            self._linger_timer = None
            self._raw_close()
        else:
            self._linger_timer = self.loop.call_later(deadline - now, self._on_linger_timer)

    def _raw_close(self) -> None:
        if self._raw is not None and not self._raw.is_closing():
            self._flush()
            self._raw.close()
