from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from apicore.versions import etag, version_of_timestamp
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


def json_response(content: bytes, status: int = 200, etag: str | None = None) -> Response:
    headers = {"etag": etag} if etag else None
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def with_version(response: Response, resource: dict) -> Response:
    """The ETag of a resource the gateway answers itself (apicore.versions)."""
    response.headers["etag"] = etag(version_of_timestamp(resource["updated_at"]))
    return response


async def proxy(
    client: ServiceClient, request: Request, path: str, *, query: bytes | None = None
) -> Response:
    """Forward as it came (query string, body); answer what the service answered.

    `query`: the query string to send instead of the client's (a caller's scope added).
    """
    query = request.scope["query_string"] if query is None else query
    target = f"{path}?{query.decode('latin-1')}" if query else path
    body = await request.body() if request.method in {"POST", "PUT"} else None
    if_match = request.headers.get("if-match") if request.method in {"PUT", "DELETE"} else None
    upstream = await client.send(request.method, target, content=body, if_match=if_match)
    return json_response(upstream.raw, upstream.status, upstream.etag)
