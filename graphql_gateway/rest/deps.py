from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from graphql_gateway.auth.identity import Identity, identity_of
from graphql_gateway.clients import Clients
from graphql_gateway.clients.base import ServiceClient


def get_clients(request: Request) -> Clients:
    return request.app.state.clients


ClientsDep = Annotated[Clients, Depends(get_clients)]
# The caller (SPEC section 8): UNRESTRICTED while GATEWAY_AUTH=off.
IdentityDep = Annotated[Identity, Depends(identity_of)]

# What any route that calls a service may answer besides its own codes.
UPSTREAM = (502, 503, 504)


def json_response(content: bytes, status: int = 200) -> Response:
    return Response(content, status_code=status, media_type="application/json")


async def proxy(
    client: ServiceClient, request: Request, path: str, *, query: bytes | None = None
) -> Response:
    """Forward as it came (query string, body); answer what the service answered.

    `query`: the query string to send instead of the client's (a caller's scope added).
    """
    query = request.scope["query_string"] if query is None else query
    target = f"{path}?{query.decode('latin-1')}" if query else path
    body = await request.body() if request.method in {"POST", "PUT"} else None
    upstream = await client.send(request.method, target, content=body)
    return json_response(upstream.raw, upstream.status)
