"""Tiny asyncio HTTP servers on 127.0.0.1 that misbehave on purpose.

`FakeServer(response)` answers every request with the same bytes (then closes the
connection); `FakeServer(None)` accepts, reads the request and never answers. Either
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
    """Answers every request with `response` after `delay` seconds; hangs when it is None."""

    def __init__(self, response: bytes | None, *, delay: float = 0.0) -> None:
        self.response = response
        self.delay = delay
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
        return [head.split(b" ", 2)[1].decode("latin-1") for head in self.requests]

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
            if self.response is None:
                await self._closing.wait()  # accept, read, never answer
                return
            if self.delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), self.delay)
            writer.write(self.response)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client went away: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0
