"""CORS from GATEWAY_CORS_ORIGINS (none by default: no browser on another origin may call)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TypedDict

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from apicore.errors import BAD_REQUEST, ApiError
from apicore.handlers import error_response

ALLOW_METHODS = ("GET", "POST", "PUT", "DELETE")
ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key", "If-Match")
EXPOSE_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    "WWW-Authenticate",
    "ETag",
    "Idempotent-Replayed",
)


class EnvelopeCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in our envelope, not plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        reason = bytes(response.body).decode()
        refused = error_response(ApiError(BAD_REQUEST, f"Preflight refused: {reason}"))
        for name in ("vary", "access-control-allow-origin"):
            if name in response.headers:
                refused.headers[name] = response.headers[name]
        return refused


class CORSOptions(TypedDict):
    """The arguments of Starlette's CORSMiddleware that we set."""

    allow_origins: Collection[str]
    allow_methods: Collection[str]
    allow_headers: Collection[str]
    expose_headers: Collection[str]
    allow_credentials: bool
    max_age: int


def cors_options(origins: list[str]) -> CORSOptions:
    return {
        "allow_origins": origins,
        "allow_methods": ALLOW_METHODS,
        "allow_headers": ALLOW_HEADERS,
        "expose_headers": EXPOSE_HEADERS,
        "allow_credentials": False,  # bearer tokens, never cookies
        "max_age": 600,
    }
