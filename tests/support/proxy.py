"""An HTTP/1.1 proxy on 127.0.0.1 in front of a real service process, for fault tests.

It forwards every request to the service and writes back its answer, unless the test's
`doctor` says otherwise: `doctor(method, target, forward)` returns the bytes to answer
(`await forward()` for the service's own answer, after doing or waiting for anything
else; `http_response(...)` for one of the test's own), or None to close the connection
without answering (the service died, or the network did, before the answer came). It
records what it was asked (`seen`), so a test can tell which steps a saga took, in order:
proxies given the same `seen` list record into it together.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Self

import httpx

Forward = Callable[[], Awaitable[bytes]]
Doctor = Callable[[str, str, Forward], Awaitable[bytes | None]]
# Not forwarded either way: they describe one connection (or a body httpx already decoded).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def step(self) -> tuple[str, str]:
        return self.method, self.path


async def forward_all(method: str, target: str, forward: Forward) -> bytes | None:
    return await forward()


class Proxy:
    def __init__(
        self, service_url: str, doctor: Doctor = forward_all, seen: list[Seen] | None = None
    ) -> None:
        self.service_url = service_url
        self.doctor = doctor
        self.seen: list[Seen] = [] if seen is None else seen
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._http = httpx.AsyncClient(base_url=self.service_url, timeout=10)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        await self._server.wait_closed()
        await self._http.aclose()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                path, _, query = target.partition("?")
                self.seen.append(Seen(method, path, query, headers, body))

                forward = functools.partial(self._forward, method, target, headers, body)
                answer = await self.doctor(method, target, forward)
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> bytes:
        sent = {name: value for name, value in headers.items() if name not in HOP_BY_HOP | {"host"}}
        answer = await self._http.request(method, target, content=body, headers=sent)
        kept = [
            f"{name}: {value}"
            for name, value in answer.headers.items()
            if name.lower() not in HOP_BY_HOP
        ]
        lines = [f"HTTP/1.1 {answer.status_code} {answer.reason_phrase}", *kept]
        lines.append(f"Content-Length: {len(answer.content)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.content
