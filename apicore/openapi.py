"""Make FastAPI's OpenAPI document tell the truth about our wire format.

FastAPI documents a 422 with its own error schema on every route that takes
parameters; our processes answer 400 with the error envelope instead. The batch
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
_PUBLIC_SUFFIX = re.compile(r"([A-Z][A-Za-z]*?)Public(?=\b|_)")


def _fix_operation(operation: dict[str, Any]) -> None:
    operation.get("responses", {}).pop("422", None)
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
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                _fix_operation(operation)
        components = schema.get("components", {}).get("schemas", {})
        for name in _FASTAPI_422_SCHEMAS:
            components.pop(name, None)
        app.openapi_schema = json.loads(_PUBLIC_SUFFIX.sub(r"\1", json.dumps(schema)))
    return app.openapi_schema


def use_truthful_openapi(app: FastAPI) -> None:
    app.openapi = lambda: truthful_openapi(app)  # type: ignore[method-assign]
