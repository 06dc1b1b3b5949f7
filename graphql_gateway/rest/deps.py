from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from apicore.versions import parse_if_match, precondition_failed, timestamp_of
from graphql_gateway.auth.identity import Identity, identity_of
from graphql_gateway.clients import Clients
from graphql_gateway.clients.base import ServiceClient, Upstream


# Dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, a
# thread hop per request for what is an attribute read.
async def get_clients(request: Request) -> Clients:
    return request.app.state.clients


async def get_identity(request: Request) -> Identity:
    return identity_of(request)


ClientsDep = Annotated[Clients, Depends(get_clients)]
# The caller (docs/auth.md): UNRESTRICTED while GATEWAY_AUTH=off.
IdentityDep = Annotated[Identity, Depends(get_identity)]

# What any route that calls a service may answer besides its own codes.
UPSTREAM = (502, 503, 504)


def json_response(content: bytes, status: int = 200, etag: str | None = None) -> Response:
    headers = {"etag": etag} if etag else None
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def upstream_response(upstream: Upstream) -> Response:
    """A service's answer as it came, with its ETag and whether it was a replay."""
    response = json_response(upstream.raw, upstream.status, upstream.etag)
    if upstream.replayed:
        response.headers["idempotent-replayed"] = "true"
    if upstream.retry_after:
        response.headers["retry-after"] = upstream.retry_after
    return response


async def proxy(
    client: ServiceClient,
    request: Request,
    path: str,
    *,
    query: bytes | None = None,
    idempotency_key: str | None = None,
    headers: dict[str, str] | None = None,
    if_match: str | None = None,
) -> Response:
    """Forward as it came (query string, body); answer what the service answered.

    `query`: the query string to send instead of the client's (a caller's scope added).
    `idempotency_key`: the client's key, scoped to the caller (integrity.scoped_key).
    `headers`: ours to add (the acting user); `if_match`: the version to write at when the
    client sent none (the one the caller's access was checked against).
    """
    query = request.scope["query_string"] if query is None else query
    target = f"{path}?{query.decode('latin-1')}" if query else path
    body = await request.body() if request.method in {"POST", "PUT"} else None
    if request.method in {"PUT", "DELETE"}:
        if_match = _condition(request.headers.get("if-match"), if_match)
    upstream = await client.send(
        request.method,
        target,
        content=body,
        if_match=if_match,
        idempotency_key=idempotency_key,
        headers=headers,
    )
    return upstream_response(upstream)


def _condition(asked: str | None, checked: str | None) -> str | None:
    """The If-Match to send: the client's, or the version the caller's access was checked at.

    With both, the write goes at the checked version, and only if the client's condition
    holds for it: an engineer's `If-Match: *` must not let a write through after the order
    was reassigned away from them between the check and the write (412, as for any stale tag).
    """
    if asked is None or checked is None:
        return asked or checked
    wanted = parse_if_match(asked)  # [] is `*`; a malformed one was refused already (400)
    if wanted and timestamp_of(checked.strip('"')) not in wanted:
        raise precondition_failed()
    return checked
