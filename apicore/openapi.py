"""Make FastAPI's OpenAPI document tell the truth about our wire format.

FastAPI documents a 422 with its own error schema on every route that takes
parameters; our processes answer 400 with the error envelope instead, so that 422
goes (a route's own 422, USER_NOT_FOUND with the envelope, stays). `/graphql` is
left out: its contract is schema/schema.graphql. The batch
filters travel as one comma-separated value (`?ids=a,b,c`), which OpenAPI spells
as an array of UUIDs with `style: form, explode: false`. And the public shapes
are published under their domain names (`UserPublic` in Python is `User` here):
gateways generated from these documents name their types after them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

BATCH_PARAMS = frozenset({"ids", "userIds"})
_FASTAPI_422_SCHEMAS = ("HTTPValidationError", "ValidationError")
_FASTAPI_422_REF = "#/components/schemas/HTTPValidationError"
UNDOCUMENTED_TAGS = frozenset({"graphql"})
_PUBLIC_SUFFIX = re.compile(r"([A-Z][A-Za-z]*?)Public(?=\b|_)")


def _is_fastapi_422(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: object = schema.get("$ref")
    return ref == _FASTAPI_422_REF


def _fix_operation(operation: dict[str, Any]) -> None:
    responses = operation.get("responses", {})
    if _is_fastapi_422(responses.get("422", {})):
        del responses["422"]
    for param in operation.get("parameters", []):
        if param.get("in") == "query" and param.get("name") == "fields":
            param["schema"] = {"type": "array", "items": {"type": "string"}}
            param["style"] = "form"
            param["explode"] = False
        if param.get("in") == "query" and param.get("name") in BATCH_PARAMS:
            param["schema"] = {
                "type": "array",
                "items": {"type": "string", "format": "uuid"},
                "maxItems": 500,
            }
            param["style"] = "form"
            param["explode"] = False


def truthful_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        paths = schema.get("paths", {})
        for path, path_item in list(paths.items()):
            for method, operation in list(path_item.items()):
                if UNDOCUMENTED_TAGS.intersection(operation.get("tags", ())):
                    del path_item[method]
                else:
                    _fix_operation(operation)
            if not path_item:
                del paths[path]
        components = schema.get("components", {}).get("schemas", {})
        for name in _FASTAPI_422_SCHEMAS:
            components.pop(name, None)
        app.openapi_schema = json.loads(_PUBLIC_SUFFIX.sub(r"\1", json.dumps(schema)))
    return app.openapi_schema


def use_truthful_openapi(app: FastAPI) -> None:
    # Ignore below: FastAPI's documented way to change the document is to assign app.openapi;
    # its class declares a method, which mypy will not have assigned.
    app.openapi = lambda: truthful_openapi(app)  # type: ignore[method-assign]  # fastapi


BEARER_SCHEME = "bearerAuth"


def declare_bearer_auth(app: FastAPI, open_paths: frozenset[str], description: str) -> None:
    """An HTTP bearer `securitySchemes` entry, and each operation's `security`: the bearer
    token, or none (`[]`) on the paths that need no token. Swagger UI (/docs) shows its
    Authorize button from these, and sends the token with every "Try it out".

    By hand on the finished document rather than with FastAPI's `HTTPBearer` dependency:
    the token is checked by a middleware before any route runs (the gateway's front door),
    and a dependency on every route would run for nothing on each request."""
    document = app.openapi

    def with_security() -> dict[str, Any]:
        schema = document()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        if BEARER_SCHEME not in schemes:
            schemes[BEARER_SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": description,
            }
            for path, path_item in schema.get("paths", {}).items():
                for operation in path_item.values():
                    needs_token = path not in open_paths
                    operation["security"] = [{BEARER_SCHEME: []}] if needs_token else []
        return schema

    app.openapi = with_security  # type: ignore[method-assign]  # fastapi: as above
