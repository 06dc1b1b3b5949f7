"""Every error a process can produce leaves it as the error envelope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from apicore.envelope import EnvelopeResponse
from apicore.errors import (
    BAD_REQUEST,
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    VALIDATION_ERROR,
    ApiError,
)

_HTTP_CODES = {
    400: (BAD_REQUEST, "Bad request"),
    404: (NOT_FOUND, "Resource not found"),
    405: (METHOD_NOT_ALLOWED, "Method not allowed"),
    413: (PAYLOAD_TOO_LARGE, "Request body exceeds 1 MiB"),
}
# Pydantic error types that mean "the body as a whole is not a JSON object".
_BODY_SHAPE_ERRORS = {"json_invalid", "model_attributes_type", "dict_type", "model_type"}


def error_response(error: ApiError) -> EnvelopeResponse:
    return EnvelopeResponse(error.to_body(), status_code=error.status, headers=error.headers)


def internal_error() -> ApiError:
    return ApiError(INTERNAL_ERROR, "Internal server error")


def validation_details(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One {"field", "message"} per problem, without the location's part (body, query...)."""
    details = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header"}:
            loc = loc[1:]
        message = str(err.get("msg", "Invalid value")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "Unknown field"
        details.append({"field": ".".join(loc) or "body", "message": message})
    return details


def translate_validation(errors: Sequence[Mapping[str, Any]]) -> ApiError:
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            return ApiError(BAD_REQUEST, "Request body is not valid JSON")
        if loc == ("body",) and err.get("type") in _BODY_SHAPE_ERRORS:
            return ApiError(BAD_REQUEST, "Request body must be a JSON object")
        if loc == ("body",) and err.get("type") == "missing":
            return ApiError(BAD_REQUEST, "Request body is required: a JSON object")
    return ApiError(VALIDATION_ERROR, "Validation failed", details=validation_details(errors))


async def _on_api_error(_: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _on_validation_error(_: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(translate_validation(list(exc.errors())))


async def _on_http_exception(_: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, (INTERNAL_ERROR, "Internal server error"))
    headers = dict(exc.headers or {})
    return error_response(ApiError(code, message, status=exc.status_code, headers=headers))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
