"""One error type for every process, and the codes clients branch on.

ApiError                      -> {"success": false, "error": {...}}
  status, code, message, details (one {"field", "message"} per problem), headers
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BAD_REQUEST = "BAD_REQUEST"
VALIDATION_ERROR = "VALIDATION_ERROR"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
EMAIL_EXISTS = "EMAIL_EXISTS"
USER_HAS_ACTIVE_ORDERS = "USER_HAS_ACTIVE_ORDERS"
INVALID_STATUS_TRANSITION = "INVALID_STATUS_TRANSITION"
ORDER_LOCKED = "ORDER_LOCKED"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
USER_NOT_FOUND = "USER_NOT_FOUND"
INTERNAL_ERROR = "INTERNAL_ERROR"
UPSTREAM_ERROR = "UPSTREAM_ERROR"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
# GraphQL documents refused before validation (/graphql only).
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
PRECONDITION_FAILED = "PRECONDITION_FAILED"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
# Identity and access (docs/auth.md).
UNAUTHENTICATED = "UNAUTHENTICATED"
INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
FORBIDDEN = "FORBIDDEN"
RATE_LIMITED = "RATE_LIMITED"

# The status each code travels with; used when only a code is known.
STATUS_OF: dict[str, int] = {
    BAD_REQUEST: 400,
    VALIDATION_ERROR: 400,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    EMAIL_EXISTS: 409,
    USER_HAS_ACTIVE_ORDERS: 409,
    INVALID_STATUS_TRANSITION: 409,
    ORDER_LOCKED: 409,
    REQUEST_TIMEOUT: 408,
    PAYLOAD_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    USER_NOT_FOUND: 422,
    INTERNAL_ERROR: 500,
    UPSTREAM_ERROR: 502,
    SERVICE_UNAVAILABLE: 503,
    UPSTREAM_TIMEOUT: 504,
    QUERY_TOO_COMPLEX: 400,
    QUERY_TOO_LARGE: 413,
    PRECONDITION_FAILED: 412,
    IDEMPOTENCY_KEY_REUSED: 422,
    IDEMPOTENCY_KEY_IN_USE: 409,
    UNAUTHENTICATED: 401,
    INVALID_CREDENTIALS: 401,
    FORBIDDEN: 403,
    RATE_LIMITED: 429,
}


class ApiError(Exception):
    """An error that reaches the client as the error envelope."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        details: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_OF.get(code, 500)
        self.details = details
        self.headers = dict(headers or {})

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"success": False, "error": error}

    @property
    def extensions(self) -> dict[str, Any]:
        """What a GraphQL error built from this one carries (graphql-core reads it)."""
        extensions: dict[str, Any] = {"code": self.code}
        if self.details:
            extensions["details"] = self.details
        return extensions

    def __repr__(self) -> str:
        return f"ApiError({self.status} {self.code}: {self.message})"


def not_found(what: str) -> ApiError:
    return ApiError(NOT_FOUND, f"{what} not found")


def validation_error(field: str, message: str) -> ApiError:
    return ApiError(
        VALIDATION_ERROR, "Validation failed", details=[{"field": field, "message": message}]
    )
