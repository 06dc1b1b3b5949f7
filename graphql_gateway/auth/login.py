"""Logging in: the users service checks the credentials, the gateway issues the token.

The password hash never leaves the users service: the gateway sends the email and
password to its internal route (never exposed here) and gets the public user back, or
401 INVALID_CREDENTIALS, the same for an unknown email and a wrong password. Attempts
are limited per client address and per email before anything is checked.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from apicore.errors import NOT_FOUND, ApiError
from graphql_gateway.auth.frontdoor import client_address
from graphql_gateway.auth.ratelimit import RateLimits
from graphql_gateway.auth.tokens import TokenService
from graphql_gateway.clients import Clients

TOKEN_TYPE = "bearer"


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


def auth_is_off() -> ApiError:
    return ApiError(NOT_FOUND, "Authentication is off on this gateway (GATEWAY_AUTH=off)")


async def login(connection: HTTPConnection, email: str, password: str) -> dict[str, Any]:
    """`{access_token, token_type, expires_in, user}` for valid credentials."""
    state = connection.app.state
    tokens: TokenService | None = state.tokens
    if tokens is None:
        raise auth_is_off()
    rate_limits: RateLimits = state.rate_limits
    await rate_limits.check_login(client_address(connection.scope), email)
    clients: Clients = state.clients
    user = await clients.users.verify_credentials(email, password)
    return {
        "access_token": tokens.issue(user),
        "token_type": TOKEN_TYPE,
        "expires_in": tokens.ttl,
        "user": user,
    }
