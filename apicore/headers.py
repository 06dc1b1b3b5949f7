"""Request headers that change what a request does: checked once, before anything reads them.

One pure ASGI middleware in all three processes (apicore/app.py puts it inside the
request-id and metrics middleware, and before the gateway's front door and every route),
so a request whose header is ambiguous or unreadable is refused before a token is
checked, a row is written or a service is called, and a service called directly refuses
it just as the gateway does. The refusal is 400 VALIDATION_ERROR naming the header:

    {"success": false, "error": {"code": "VALIDATION_ERROR", "message": "...",
     "details": [{"field": "If-Match", "message": "..."}]}}

Checked (`CHECKED`): each may come on one header line only, and must be readable.

- If-Match: `*` or a comma list of entity tags in visible ASCII (apicore/versions.py).
  RFC 9110 lets two If-Match lines mean one combined list, but the gateway would forward
  one line and every reader of `request.headers.get` sees the first only (a stale tag
  then the current one was 412, the same pair as one list 200): two lines are refused,
  and a client that means a list sends it as one.
- Idempotency-Key: 1 to 255 visible ASCII characters (apicore/idempotency.py). Two keys
  for one create cannot both be honoured.
- Authorization: visible ASCII. Two credentials are refused rather than one picked, so
  no proxy and no process can disagree on who is calling. What a single header says
  (a scheme other than Bearer, a bad or expired token) stays the front door's 401
  (graphql_gateway/auth/tokens.py), with `WWW-Authenticate: Bearer`.

Read, but not refused here, on purpose:

- X-Request-ID only names the request in logs and answers: one that is not a single safe
  token (non-ASCII, too long, on two lines) is replaced by a fresh id
  (apicore/middleware.py), never a reason to refuse the request.
- X-Forwarded-For (the gateway, from a trusted proxy only) is a list: its lines are one
  list, and a hop that is not an address stops the walk at the last proxy's word
  (graphql_gateway/auth/frontdoor.py).
- Content-Type is the routes' own check (apicore/routing.py, graphql_gateway/graphql/
  router.py): two lines or another type 415, a charset other than UTF-8 400 BAD_REQUEST.
- Accept (GraphQL's response type) is a list: its lines are read as one.
- Origin and the CORS preflight headers are read by the CORS middleware, outside this
  check (so a browser can read this refusal); they only decide what a browser shows a
  page, never what a request does.
- Content-Length, Transfer-Encoding: the HTTP parser refuses conflicting ones
  (apicore/protocol.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from apicore.errors import VALIDATION_ERROR, ApiError
from apicore.handlers import error_response
from apicore.idempotency import HEADER as IDEMPOTENCY_KEY
from apicore.idempotency import key_problem
from apicore.versions import if_match_problem

_VISIBLE = re.compile(rb"[\x20-\x7e]*")
ONCE = "Given on more than one header line: send it once"


def _visible_ascii(value: bytes) -> str | None:
    return None if _VISIBLE.fullmatch(value) else "Must be visible ASCII"


def _idempotency_key(value: bytes) -> str | None:
    return key_problem(value.decode("latin-1"))


# Lower-case name (as the server hands it over) -> (the name clients write, the check).
CHECKED: dict[bytes, tuple[str, Callable[[bytes], str | None]]] = {
    b"if-match": ("If-Match", if_match_problem),
    b"idempotency-key": (IDEMPOTENCY_KEY, _idempotency_key),
    b"authorization": ("Authorization", _visible_ascii),
}


def header_problems(headers: Iterable[tuple[bytes, bytes]]) -> list[dict[str, str]]:
    """One {"field", "message"} per checked header that is repeated or malformed."""
    seen: dict[bytes, bool] = {}  # name -> already reported
    details: list[dict[str, str]] = []
    for name, value in headers:
        rule = CHECKED.get(name)
        if rule is None:
            continue
        field, check = rule
        reported = seen.get(name)
        if reported is None:
            problem = check(value)
            seen[name] = problem is not None
            if problem is not None:
                details.append({"field": field, "message": problem})
        elif not reported:
            seen[name] = True
            details.append({"field": field, "message": ONCE})
    return details


def header_error(details: list[dict[str, str]]) -> ApiError:
    return ApiError(VALIDATION_ERROR, "Invalid request headers", details=details)


Refusal = Callable[[str, ApiError], Response]


def _envelope(path: str, error: ApiError) -> Response:
    return error_response(error)


class HeaderCheckMiddleware:
    """Refuses a request whose checked headers are repeated or malformed (see above).

    `refuse` answers the refusal for a path (the gateway answers /graphql as GraphQL
    errors, as its front door does); by default, our envelope.
    """

    def __init__(self, app: ASGIApp, refuse: Refusal | None = None) -> None:
        self.app = app
        self.refuse = refuse or _envelope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            details = header_problems(scope["headers"])
            if details:
                response = self.refuse(scope["path"], header_error(details))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Internal, from the gateway to the orders service only (service_orders/acting.py): who is
# acting, and the token that says the gateway is the one saying so. Never in a contract.
ACTING_USER = "x-acting-user"
GATEWAY_TOKEN = "x-gateway-token"
