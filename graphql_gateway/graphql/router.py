"""POST /graphql for clients, GraphiQL on GET /graphql from a browser, errors as GraphQL errors.

GraphQL over HTTP (graphql.github.io/graphql-over-http): a client that accepts
`application/graphql-response+json` gets that media type, and a 4xx when its document
is refused before execution (does not parse, validate, or is over a limit); a client
that accepts only `application/json` gets 200 for those, as before. A request that is
not a GraphQL request at all (no JSON, no query, a batch, variables that are not an
object, another content type) is a 4xx under both, and a mutation over GET is a 405.
Every such answer is `{"errors": [{"message", "extensions": {"code"}}]}`, never the
plain text Strawberry writes by default.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson
from cross_web import HTTPException
from fastapi import BackgroundTasks, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET

from apicore.docs import root_of
from apicore.errors import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    STATUS_OF,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
)
from apicore.jsonbody import NOT_UTF8, charset_is_utf8, json_containers
from graphql_gateway.config import Settings
from graphql_gateway.graphql.context import get_context
from graphql_gateway.graphql.playground import playground_html
from graphql_gateway.graphql.schema import build_schema

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# What an HTML form (or a `fetch` without a preflight) can send to another site: a POST
# in one of these is refused outright, whatever its body, so no page elsewhere can make
# a browser run an operation here (CSRF prevention, as Apollo Router does by default).
CSRF_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
CODE_OF_STATUS = {
    400: BAD_REQUEST,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    415: UNSUPPORTED_MEDIA_TYPE,
}


def _content_type(value: str) -> tuple[str, Mapping[str, str]]:
    media, params = parse_content_type(value)
    return media, MappingProxyType(params)  # read-only: no caller changes another's answer


_remembered_content_type = functools.lru_cache(maxsize=256)(_content_type)


def content_type_of(value: str) -> tuple[str, Mapping[str, str]]:
    """Strawberry's `parse_content_type` (the email package's rules), remembered for short
    values: it costs ~8 µs a call (docs/performance.md), and clients send the same few
    values. At most 256 of at most 128 characters are kept; longer ones are parsed."""
    if len(value) > 128:
        return _content_type(value)
    return _remembered_content_type(value)


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether JSON input nests deeper than `limit` (apicore/jsonbody.py walks it)."""
    return any(depth >= limit for _, _, depth in json_containers(value))


def wants_graphql_response(request: Request) -> bool:
    """The client lists `application/graphql-response+json` in Accept (q > 0)."""
    # A list: two Accept lines are one list (RFC 9110), not the first of them.
    accept = ", ".join(request.headers.getlist("accept"))
    if GRAPHQL_RESPONSE not in accept:
        return False
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if media == GRAPHQL_RESPONSE:
            quality = next((p[2:] for p in params if p.startswith("q=")), "1")
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def is_request_error(result: ExecutionResult) -> bool:
    """Refused before execution: parse, validation, limits, and variables that do not coerce.

    graphql-core answers the last ones from `execute`, as a result without data; every
    field error has a path, a request error never does.
    """
    if isinstance(result, PreExecutionError):
        return True
    if result.data is not None or not result.errors:
        return False
    return all(not e.path for e in result.errors)


def _code_of(result: ExecutionResult) -> str | None:
    errors = result.errors or []
    return (errors[0].extensions or {}).get("code") if errors else None


class GatewayGraphQLRouter(GraphQLRouter):
    max_json_depth = 32
    # The sub-response of the request being answered, which Strawberry's `get_sub_response`
    # reads: its routes (and GraphQLPost) set it, Strawberry's class does not declare it.
    temporal_response: Response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        auth = bool(request.app.state.settings.auth_enabled)
        return HTMLResponse(playground_html(root_of(request), auth))

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses what json.loads lets through to a 500: bytes that are not UTF-8,
        # lone surrogates, numbers that overflow a double, nesting past 1,024 levels
        # (all as JSONDecodeError, which Strawberry answers as a bad request).
        decoded = orjson.loads(data)
        if type(decoded) is not dict and type(decoded) is not list:
            raise HTTPException(400, "Expected a JSON object")
        if json_depth_exceeds(decoded, self.max_json_depth):
            raise HTTPException(400, f"JSON nested deeper than {self.max_json_depth} levels")
        return decoded

    async def parse_http_body(self, request: Any) -> Any:
        if request.method == "POST":
            # Strawberry looks for "application/json" anywhere in the header and answers
            # anything else with a plain-text 400; GraphQL over HTTP allows 415. Two
            # Content-Type lines are 415 and a charset other than UTF-8 is 400
            # BAD_REQUEST, as on every REST write (apicore/routing.py).
            values = request.headers.getlist("content-type")
            if len(values) > 1:
                raise HTTPException(415, "Content-Type must be application/json")
            content_type, params = content_type_of(values[0] if values else "")
            if content_type in CSRF_CONTENT_TYPES:
                raise HTTPException(
                    400,
                    f"Content-Type {content_type} is refused (a browser form can send it"
                    " cross-site): use application/json",
                )
            if content_type != JSON:
                raise HTTPException(415, "Content-Type must be application/json")
            if not charset_is_utf8(params.get("charset")):
                raise HTTPException(400, NOT_UTF8)
        parsed = await super().parse_http_body(request)
        if not isinstance(parsed, list) and not isinstance(parsed.operation_name, str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string")
        return parsed

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if is_request_error(result) and _code_of(result) == UNAUTHENTICATED:
            # As REST answers it, whatever the media type: 401 and how to authenticate.
            processed.pop("data", None)
            request.state.graphql_status = 401
            request.state.graphql_headers = {"www-authenticate": "Bearer"}
        elif is_request_error(result) and wants_graphql_response(request):
            # Refused before execution: no `data` entry, and a 4xx (set in `run`).
            processed.pop("data", None)
            status = STATUS_OF.get(_code_of(result) or "", 400)
            request.state.graphql_status = status if 400 <= status < 500 else 400
        return processed

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if self.is_websocket_request(request):
            return await super().run(request, context, root_value)
        try:
            response = await super().run(request, context, root_value)
        except HTTPException as exc:
            status = exc.status_code
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                status = 405  # a mutation over GET (GraphQL over HTTP)
            return self.error_response(request, status, exc.reason)
        if response.media_type == JSON and wants_graphql_response(request):
            response.headers["content-type"] = GRAPHQL_RESPONSE
            response.status_code = getattr(request.state, "graphql_status", response.status_code)
        elif getattr(request.state, "graphql_headers", None):
            response.status_code = request.state.graphql_status
        response.headers.update(getattr(request.state, "graphql_headers", None) or {})
        return response

    def error_response(self, request: Request, status: int, message: str) -> Response:
        code = CODE_OF_STATUS.get(status, BAD_REQUEST)
        body = {"errors": [{"message": message, "extensions": {"code": code}}]}
        media_type = GRAPHQL_RESPONSE if wants_graphql_response(request) else JSON
        headers = {"allow": "POST"} if status == 405 else None
        return Response(self.encode_json(body), status, headers, media_type)


class GraphQLPost(Route):
    """POST /graphql, what Strawberry's route does without FastAPI's request handling.

    Every operation is a POST here, and FastAPI's part of one (its dependency solving,
    the security-scope inspection of each dependency, the route's response handling)
    cost about a tenth of the gateway's CPU on the front end's query (`python -m
    bench.profile`). This plain Starlette route does what Strawberry's `handle_http_post`
    and its context dependency do: the same context (ours, with the request, the
    background tasks and the sub-response Strawberry reads), the same `router.run`. It
    comes before the included routers, so it answers every POST; GET and the other
    methods match no route of its own and go on to Strawberry's routes (OpenAPI is as
    before: this route is not in it). Errors raised outside
    `run` reach the app's exception handlers as from any route.
    """

    def __init__(self, router: GatewayGraphQLRouter, path: str = "/graphql") -> None:
        super().__init__(path, self.post, methods=["POST"], include_in_schema=False)
        self.graphql = router

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.PARTIAL:
            # Another method: not this route's to answer, not even with a 405 (Strawberry's
            # routes answer every other method as before, HEAD and OPTIONS included).
            return Match.NONE, {}
        return match, child_scope  # the router records a full match in scope["route"]

    async def post(self, request: Request) -> Response:
        # FastAPI's sub-response: no status and no content-length until one is set.
        sub_response = Response()
        del sub_response.headers["content-length"]
        # Ignore below: Starlette types status_code as an int; FastAPI's own sub-response
        # (in its dependencies module) holds None the same way until a status is set.
        sub_response.status_code = None  # type: ignore[assignment]  # starlette
        context = await get_context(request)
        context.request = request
        context.background_tasks = BackgroundTasks()
        context.response = sub_response
        self.graphql.temporal_response = sub_response
        try:
            response = await self.graphql.run(request=request, context=context, root_value=None)
        except HTTPException as exc:  # as Strawberry's route (ours answers them in `run`)
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        if context.background_tasks.tasks and response.background is None:
            response.background = context.background_tasks
        return response


def graphql_router(settings: Settings) -> GatewayGraphQLRouter:
    """POST /graphql for clients, GraphiQL on GET /graphql from a browser."""
    router = GatewayGraphQLRouter(
        build_schema(settings),
        path="/graphql",
        context_getter=get_context,
        graphql_ide="graphiql",
        tags=["graphql"],
    )
    router.max_json_depth = settings.graphql_max_json_depth

    @router.api_route("/graphql", methods=["PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def other_methods(request: Request) -> Response:
        response = router.error_response(request, 405, "GraphQL is served over GET and POST")
        response.headers["allow"] = "GET, POST"
        return response

    return router
