"""A response's head and body leave in one write (apicore/protocol.py), byte for byte as before.

A real uvicorn server with our protocol, on a loopback port, over real sockets: the same
requests (plain, streamed, large, empty, HEAD, keep-alive and pipelined, closing, refused
by the parser, a slow body timed out) get the same bytes with `coalesce` on and off, and
with it on, a plain answer is one write to the socket instead of two.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any, cast

import pytest
import uvicorn

from apicore.protocol import GuardedHttpProtocol, ReadTimeouts

LARGE = b"x" * (200 * 1024)  # over the size up to which a held write is joined


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"one,", LARGE, b"", b"three"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    payload = {"/large": LARGE, "/echo": body}.get(path, b'{"success":true,"data":"\xd0\xaf"}')
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    if path == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class _Recorder:
    """The socket's transport, every write (and writev) recorded."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        chunks = list(chunks)
        self._writes.append(b"".join(chunks))
        self._transport.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class RecordingProtocol(GuardedHttpProtocol):
    writes: list[bytes]

    # Ignore below: uvicorn narrows asyncio.Protocol's argument (as apicore/protocol.py).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # A stand-in for the transport: what it does not record, it delegates.
        super().connection_made(cast(asyncio.Transport, _Recorder(transport, self.writes)))


@contextlib.contextmanager
def server(coalesce: bool) -> Iterator[tuple[int, list[bytes]]]:
    writes: list[bytes] = []
    protocol = type("Protocol", (RecordingProtocol,), {"writes": writes})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        # uvicorn types `http` as a class; it only calls it (as apicore/serve.py).
        http=partial(  # type: ignore[arg-type]  # uvicorn: a factory is called like a class
            protocol, timeouts=ReadTimeouts(header=1.0, body=1.0), coalesce=coalesce
        ),
        ws="none",
        lifespan="on",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,  # the bytes of two servers compared
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield port, writes
    finally:
        uv.should_exit = True
        thread.join(10)


def talk(port: int, data: bytes, *, limit: float = 5.0) -> bytes:
    """Send `data` and read everything until the server closes (each conversation ends
    with a request the server closes after: a half-close of ours would race the answers,
    since the server closes a connection whose client has stopped sending)."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(data)
        received = b""
        sock.settimeout(limit)
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := sock.recv(1 << 20):
                received += chunk
        return received


def get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"


CONVERSATIONS = {
    "plain, then closing": get("/json") + get("/close"),
    "pipelined keep-alive": get("/json") + get("/large") + get("/empty") + get("/close"),
    "streamed": get("/stream") + get("/close"),
    "HEAD": b"HEAD /json HTTP/1.1\r\nHost: t\r\n\r\n" + get("/close"),
    "a body echoed": b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
    + get("/close"),
    "refused by the parser after an answer": get("/json") + b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    "HTTP/1.0": b"GET /json HTTP/1.0\r\n\r\n",
}


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_the_same_bytes_with_and_without_coalescing(name: str) -> None:
    answers = {}
    for coalesce in (True, False):
        with server(coalesce) as (port, _):
            answers[coalesce] = talk(port, CONVERSATIONS[name])
    assert answers[True], "no answer"
    assert answers[True] == answers[False]


def test_a_slow_body_gets_the_same_408_either_way() -> None:
    answers = {}
    for coalesce in (True, False):
        with server(coalesce) as (port, _):
            data = get("/json") + b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nab"
            answers[coalesce] = talk(port, data)
    assert b" 408 " in answers[True]
    assert answers[True] == answers[False]


def test_a_plain_answer_is_one_write_coalesced_and_two_without() -> None:
    for coalesce, expected in ((True, 1), (False, 2)):
        with server(coalesce) as (port, writes):
            answer = talk(port, get("/close"))
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b'"data":"\xd0\xaf"}')
        assert len(writes) == expected, writes
        assert b"".join(writes) == answer


def test_a_large_body_leaves_with_its_head_without_being_copied_into_one() -> None:
    with server(True) as (port, writes):
        answer = talk(port, get("/large", b"Connection: close\r\n"))
    assert answer.endswith(LARGE)
    assert len(writes) == 1
    assert writes[0] == answer


def test_a_streamed_answer_sends_every_chunk() -> None:
    with server(True) as (port, writes):
        answer = talk(port, get("/stream", b"Connection: close\r\n"))
    assert b"".join(writes) == answer
    # Chunked: the head, "one," (4), the large chunk, "three" (5), the last chunk.
    assert answer.endswith(
        b"4\r\none,\r\n" + b"%x\r\n" % len(LARGE) + LARGE + b"\r\n5\r\nthree\r\n0\r\n\r\n"
    )
    assert len(writes) < 6  # the head left with the first chunk
