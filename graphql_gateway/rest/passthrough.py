"""The hottest legacy reads, `GET /users/{id}` and `GET /orders/{id}`, below FastAPI's routing.

These two routes only forward: the service's bytes go back as they came. FastAPI's
routing, dependency solving and response building cost more CPU than the rest of the
gateway's work on them (measured: ~0.15 ms of a request whose whole budget, to stay
near a direct call, is a few tenths of a millisecond). So a plain ASGI middleware inside
the front door (the caller is already verified and counted) answers them itself when
the request is the plain form of the route: GET, a canonical lower-case UUID, no query
string, and a caller whose scope decides without the resource (auth off, or anyone who
reads every user / every order). Anything else goes on to the FastAPI routes (`get_user` in
rest/users.py, `get_order` in rest/orders.py, whose declarations point here), which
answer it exactly as before (400 for a malformed id or an unknown parameter, 404 outside
the scope, the owner check of a restricted order read). The call itself is the same one
the routes make (`ServiceClient.send`: breaker, retries, error mapping), and errors are
our envelope with the same status, code and headers (`apicore.handlers.error_response`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from apicore.errors import ApiError
from apicore.handlers import error_response
from graphql_gateway.auth import policy
from graphql_gateway.auth.identity import STATE_KEY, UNRESTRICTED, Identity

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ROUTES = re.compile(rf"/(users|orders)/({_UUID})")


@dataclass(frozen=True, slots=True)
class _Route:
    """What metrics, logs and traces read of `scope["route"]`: the route's template."""

    path: str


_ROUTE = {"users": _Route("/users/{id}"), "orders": _Route("/orders/{id}")}


def _visible(service: str, identity: Identity) -> bool:
    """Whether the caller reads every resource of this kind (no check of the resource)."""
    if service == "users":
        return policy.reads_every_user(identity)
    return policy.reads_every_order(identity)


class Passthrough:
    def __init__(self, app: ASGIApp, *, auth_enabled: bool) -> None:
        self.app = app
        self.auth_enabled = auth_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            return await self.app(scope, receive, send)
        match = _ROUTES.fullmatch(scope["path"])
        if match is None:
            return await self.app(scope, receive, send)
        identity = scope.get("state", {}).get(STATE_KEY)
        if identity is None and not self.auth_enabled:
            identity = UNRESTRICTED
        service = match[1]
        if identity is None or not _visible(service, identity):
            return await self.app(scope, receive, send)  # the route decides: 401, 404, …
        scope["route"] = _ROUTE[service]  # metrics and logs name the route as usual
        client = getattr(scope["app"].state.clients, service)
        try:
            upstream = await client.send("GET", scope["path"])
        except ApiError as error:
            return await error_response(error)(scope, receive, send)
        headers = [(b"content-type", b"application/json")]
        if upstream.etag:
            headers.append((b"etag", upstream.etag.encode("latin-1")))
        headers.append((b"content-length", str(len(upstream.raw)).encode()))
        await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
        await send({"type": "http.response.body", "body": upstream.raw})
