"""The route class of every REST route of the three processes: the contract's checks
that come before anything else, in one place.

1. A write with a body (POST, PUT, PATCH) is JSON: `Content-Type: application/json`,
   parameters allowed, `charset` only `utf-8`. Anything else is 415
   UNSUPPORTED_MEDIA_TYPE (a missing type with a body too), so a plain HTML form on
   another site cannot write through a browser. `+json` types (`application/merge-patch+json`,
   `application/problem+json`) name other formats with other meanings: refused too.
2. The body is UTF-8 JSON (apicore.jsonbody): 400 BAD_REQUEST otherwise.
3. Every query parameter is one the route reads, given once: an unknown one (or a
   repeated one) is 400 VALIDATION_ERROR naming it, like an unknown body field.
   `?user_id=` must not silently mean "every order", and a repeated `?limit=` must not
   mean one thing to the gateway and another to a service.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.responses import Response

from apicore import jsonbody
from apicore.errors import BAD_REQUEST, UNSUPPORTED_MEDIA_TYPE, VALIDATION_ERROR, ApiError

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
# What every route that takes a body may answer besides its own codes (OpenAPI).
WRITE_ERRORS = (413, 415)
MAX_REPORTED = 20  # details listed for a query with many bad parameters


class JsonRequest(Request):
    """A request whose JSON body FastAPI reads through apicore.jsonbody."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = jsonbody.loads(await self.body())
        return self._json


def check_json_content_type(request: Request) -> None:
    values = request.headers.getlist("content-type")
    if len(values) != 1:
        raise ApiError(UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
    # The stdlib parses media types with quoted parameters; FastAPI reads them the same way.
    message = email.message.Message()
    message["content-type"] = values[0]
    if message.get_content_type() != "application/json":
        raise ApiError(UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
    if not jsonbody.charset_is_utf8(message.get_param("charset")):
        raise ApiError(BAD_REQUEST, jsonbody.NOT_UTF8)


def check_query(request: Request, allowed: frozenset[str]) -> None:
    seen: set[str] = set()
    details: list[dict[str, str]] = []
    for name, _ in request.query_params.multi_items():
        if name not in allowed:
            details.append({"field": name[:64], "message": "Unknown query parameter"})
        elif name in seen:
            details.append({"field": name, "message": "Given more than once"})
        seen.add(name)
    if details:
        raise ApiError(VALIDATION_ERROR, "Validation failed", details=details[:MAX_REPORTED])


class ContractRoute(APIRoute):
    """An APIRoute that checks media type, encoding and query parameters first."""

    def query_names(self) -> frozenset[str]:
        names: set[str] = set()
        pending: list[Dependant] = [self.dependant]
        while pending:
            dependant = pending.pop()
            names.update(param.alias for param in dependant.query_params)
            pending.extend(dependant.dependencies)
        return frozenset(names)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed = self.query_names()

        async def contract_handler(request: Request) -> Response:
            request = JsonRequest(request.scope, request.receive)
            if request.method in WRITE_METHODS:
                body = await request.body()
                # No body and no type: nothing to misread; the route says a body is needed.
                if body or "content-type" in request.headers:
                    check_json_content_type(request)
                    jsonbody.ensure_utf8(body)
            if request.scope["query_string"]:
                check_query(request, allowed)
            return await handler(request)

        return contract_handler


__all__ = ["ContractRoute", "JsonRequest"]
