"""Pure ASGI middleware shared by the three processes."""

from __future__ import annotations

import logging
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apicore.errors import PAYLOAD_TOO_LARGE, ApiError
from apicore.handlers import error_response, internal_error
from apicore.logging import request_id_var

logger = logging.getLogger("apicore.errors")

MAX_BODY_BYTES = 1024 * 1024
REQUEST_ID_HEADER = "x-request-id"


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="Request body exceeds 1 MiB")


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
    error = ApiError(PAYLOAD_TOO_LARGE, "Request body exceeds 1 MiB")
    await error_response(error)(scope, receive, send)


class _RequestCounter:
    """HTTP requests this process has served; benchmarks count downstream calls with it."""

    served = 0


request_counter = _RequestCounter()


class RequestContextMiddleware:
    """Takes X-Request-ID from the request (or makes one) for logs and the response.

    It is also the last resort for unexpected exceptions: they are logged here,
    with the request id still set, and answered with a 500 envelope that names
    nothing of the cause.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_counter.served += 1
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:200]
                break
        if not request_id:
            request_id = uuid.uuid4().hex
        token = request_id_var.set(request_id)
        raw_id = request_id.encode("latin-1")

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", raw_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("Unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await error_response(internal_error())(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
