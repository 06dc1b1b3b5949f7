"""The front door: every request's caller verified and counted before any route runs.

One pure ASGI middleware for REST and GraphQL alike, inside the request-id middleware
(so its answers carry the request id and our envelope) and inside CORS (so a browser
can read a 401 or a 429):

1. The bearer token, if any, is verified (auth on), and the session it names checked to
   still stand (auth/sessions.py), with the user's roles now: the Identity goes into the
   request's state, where `identity_of` and the GraphQL context read it.
2. The global rate limit (GATEWAY_RATE_LIMIT, if set) counts the request, per user when
   the token is valid, else per client address; bad tokens are counted too, per address.
3. Only then is a missing or bad token answered 401 UNAUTHENTICATED with
   `WWW-Authenticate: Bearer`. `/graphql` lets an anonymous caller through to the schema,
   which allows it nothing but `login` and `refresh` (graphql/access.py).

Open routes need no token: the probes, /health, /status, POST /auth/login and
/auth/refresh (and the /v1 API's login and registration), the OpenAPI document and its
pages, and the pages' scripts and styles under /static. Probes and /health are never rate
limited.
"""

from __future__ import annotations

import ipaddress

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from apicore.addresses import networks, within
from apicore.errors import ApiError
from apicore.handlers import error_response
from graphql_gateway.auth.identity import STATE_KEY, Identity, unauthenticated
from graphql_gateway.auth.ratelimit import RateLimits
from graphql_gateway.auth.sessions import SessionCheck
from graphql_gateway.auth.tokens import TokenService

OPEN_PATHS = frozenset(
    {
        "/health",
        "/status",
        "/livez",
        "/readyz",
        "/metrics",
        "/auth/login",
        "/v1/users/login",  # the /v1 API's login and self-registration (rest/v1/)
        "/v1/users/register",
        "/auth/refresh",
        "/openapi.json",
        "/docs",
        "/redoc",
    }
)
OPEN_PREFIXES = ("/static/",)
NOT_LIMITED = frozenset({"/health", "/status", "/livez", "/readyz", "/metrics"})
# Served to an anonymous caller too: the schema decides what it may do (`login`, `refresh`).
ANONYMOUS_ALLOWED = frozenset({"/graphql"})
ADDRESS_KEY = "client_address"


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _authorization(scope: Scope) -> bytes | None:
    # One line at most, in visible ASCII: two were refused (400) by the header check this
    # door runs inside (apicore/headers.py), so the first is the only one.
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value
    return None


class ClientAddresses:
    """The client's address: the peer's, or, when the peer is a trusted proxy
    (GATEWAY_TRUSTED_PROXIES), the last address in X-Forwarded-For that is not one."""

    def __init__(self, trusted: str = "") -> None:
        self.trusted = networks(trusted)

    def of(self, scope: Scope) -> str:
        address = peer_address(scope)
        if not self.trusted or not within(address, self.trusted):
            return address
        # A list: its lines are one list (RFC 9110), never refused (apicore/headers.py).
        forwarded = b",".join(v for n, v in scope["headers"] if n == b"x-forwarded-for")
        for hop in reversed(forwarded.decode("latin-1").split(",")):
            hop = hop.strip()
            if not hop:
                continue
            try:
                hop = str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # garbage from the client side: the last proxy's word stands
            if not within(hop, self.trusted):
                return hop
            address = hop
        return address


def client_address(scope: Scope) -> str:
    """The address this request counts against (set by the front door, else the peer's)."""
    state = scope.get("state") or {}
    known = state.get(ADDRESS_KEY)
    return known if known is not None else peer_address(scope)


def peer_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def refused(path: str, error: ApiError) -> Response:
    """Our envelope, or on /graphql what a GraphQL client reads: `errors` with the code."""
    if path not in ANONYMOUS_ALLOWED:
        return error_response(error)
    body = {"errors": [{"message": error.message, "extensions": error.extensions}]}
    return Response(orjson.dumps(body), error.status, error.headers, "application/json")


class FrontDoor:
    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenService | None,
        sessions: SessionCheck,
        rate_limits: RateLimits,
        addresses: ClientAddresses,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.sessions = sessions
        self.rate_limits = rate_limits
        self.addresses = addresses
        self.limit_requests = bool(rate_limits.request_limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.tokens is not None:
            # The server serves no WebSocket (uvicorn's ws="none"); should one ever be
            # served, it is not let past a door that only checks HTTP requests.
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        address = self.addresses.of(scope)
        scope.setdefault("state", {})[ADDRESS_KEY] = address
        identity: Identity | None = None
        refusal: ApiError | None = None
        if self.tokens is not None and not is_open(path):
            header = _authorization(scope)
            if header is not None:
                try:
                    identity = await self.sessions.identity(await self.tokens.identify(header))
                except ApiError as exc:
                    refusal = exc
            elif path not in ANONYMOUS_ALLOWED:
                refusal = unauthenticated()
        if self.limit_requests and path not in NOT_LIMITED:
            key = f"user:{identity.user_id}" if identity else f"address:{address}"
            try:
                await self.rate_limits.check_request(key)
            except ApiError as exc:
                refusal = exc
        if refusal is not None:
            await refused(path, refusal)(scope, receive, send)
            return
        if identity is not None:
            scope.setdefault("state", {})[STATE_KEY] = identity
        await self.app(scope, receive, send)
