"""Tiny asyncio HTTP servers on 127.0.0.1 that misbehave on purpose.

`FakeServer(response)` answers every request with the same bytes (then closes the
connection; `response` may be swapped between requests); `FakeServer(None)` accepts,
reads the request and never answers; `FakeServer(b"")` reads it and closes the
connection without a word; `drip=` sends the answer one byte at a time. `routes=` answers
some paths otherwise (`{"/health": ...}`), and `script=` gives the answers to the first
requests (of the other paths), in order, before `response` answers the rest. Each
counts the connections it accepted and the request heads it read, and closes every
connection it holds when its `async with` block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from http import HTTPStatus

import orjson


def http_response(
    status: int,
    body: bytes | str | dict | list = b"",
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The bytes of a complete HTTP/1.1 response that closes its connection."""
    if isinstance(body, dict | list):
        body = orjson.dumps(body)
    elif isinstance(body, str):
        body = body.encode()
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FakeServer:
    """Answers every request with `response` after `delay` seconds; hangs when it is None.

    With `drip`, the answer goes out one byte every `drip` seconds.
    """

    def __init__(
        self,
        response: bytes | None,
        *,
        delay: float = 0.0,
        drip: float | None = None,
        routes: dict[str, bytes | None] | None = None,
        script: list[bytes | None] | None = None,
    ) -> None:
        self.response = response
        self.delay = delay
        self.drip = drip
        self.routes = dict(routes or {})
        self.script = list(script or [])
        self.connections = 0  # connections accepted
        self.requests: list[bytes] = []  # request heads read (request line + headers)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._closing = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def paths(self) -> list[str]:
        return [_path(head) for head in self.requests]

    def _answer(self, head: bytes) -> bytes | None:
        path = _path(head).split("?", 1)[0]
        if path in self.routes:
            return self.routes[path]
        if self.script:
            return self.script.pop(0)
        return self.response

    async def __aenter__(self) -> FakeServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self._closing.set()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head)
            await reader.readexactly(_content_length(head))
            response = self._answer(head)
            if response is None:
                await self._closing.wait()  # accept, read, never answer
                return
            if self.delay and await self._pause(self.delay):
                return
            if self.drip is None:
                writer.write(response)
                await writer.drain()
                return
            for i in range(len(response)):
                writer.write(response[i : i + 1])
                await writer.drain()
                if await self._pause(self.drip):
                    return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client went away: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _pause(self, seconds: float) -> bool:
        """Sleep; True when the server is closing meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        return self._closing.is_set()


def _path(head: bytes) -> str:
    return head.split(b" ", 2)[1].decode("latin-1")


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0
