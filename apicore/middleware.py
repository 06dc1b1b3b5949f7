"""Pure ASGI middleware shared by the three processes."""

from __future__ import annotations

import logging
import re
import uuid

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apicore.errors import PAYLOAD_TOO_LARGE, ApiError
from apicore.handlers import error_response, internal_error
from apicore.logging import request_id_var
from apicore.security import security_headers

logger = logging.getLogger("apicore.errors")
access_logger = logging.getLogger("apicore.access")

MAX_BODY_BYTES = 1024 * 1024
REQUEST_ID_HEADER = "x-request-id"
# A request id we log, return and forward as it came: a short token of safe characters.
# Anything else (non-ASCII bytes, spaces, control characters, 200 characters, two lines)
# is replaced.
SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# The client that sent more than the limit may still be sending: close the connection
# after the answer (the server lingers, so the client reads it; apicore/protocol.py).
_CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="Request body exceeds 1 MiB", headers=_CLOSE)


class BodyLimitMiddleware:
    """Refuses bodies over the limit before they are read whole.

    A declared Content-Length over the limit is refused without reading; a
    chunked body is counted as it streams and refused at the first byte over.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await _send_too_large(scope, receive, send)
                    return
                break
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge()
            return message

        await self.app(scope, counting_receive, send)


async def _send_too_large(scope: Scope, receive: Receive, send: Send) -> None:
    error = ApiError(PAYLOAD_TOO_LARGE, "Request body exceeds 1 MiB", headers=_CLOSE)
    await error_response(error)(scope, receive, send)


class _RequestCounter:
    """HTTP requests this process has served; benchmarks count downstream calls with it."""

    served = 0


request_counter = _RequestCounter()


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-ID when it is one safe token, else a fresh one.

    Two X-Request-ID lines name no one request: a fresh id, not the first of them. The id
    only names the request in logs and answers, so it is replaced, never refused
    (apicore/headers.py lists the headers that are).
    """
    given: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if given is not None:
                return uuid.uuid4().hex
            given = value
    if given is not None and SAFE_REQUEST_ID.fullmatch(given):
        return given.decode("ascii")
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Takes X-Request-ID from the request (or makes one) for logs and the response.

    Adds the security headers to every response (apicore/security.py). It is also the
    last resort for unexpected exceptions: they are logged here, with the request id
    still set, and answered with a 500 envelope that names nothing of the cause. A
    client that went away is not an error: one INFO line.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_counter.served += 1
        request_id = request_id_of(scope)
        token = request_id_var.set(request_id)
        raw_id = request_id.encode("ascii")

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", [])
                message["headers"] = [
                    *headers,
                    *security_headers(headers),
                    (b"x-request-id", raw_id),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            access_logger.info("Client disconnected during %s %s", scope["method"], scope["path"])
        except Exception:
            logger.exception("Unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await error_response(internal_error())(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
