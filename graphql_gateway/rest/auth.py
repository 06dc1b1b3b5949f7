"""POST /auth/login, /auth/refresh, /auth/logout and GET /auth/me (auth/login.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from apicore.contract.users import UserPublic
from apicore.envelope import Envelope, EnvelopeResponse, IdOnly, error_responses, ok
from apicore.errors import ApiError
from apicore.routing import WRITE_ERRORS, ContractRoute
from graphql_gateway.auth.identity import unauthenticated
from graphql_gateway.auth.login import (
    LoginRequest,
    RefreshRequest,
    auth_is_off,
    login,
    logout,
    refresh,
)
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, IdentityDep

router = APIRouter(prefix="/auth", tags=["auth"], route_class=ContractRoute)
# RFC 6749 section 5.1: a response carrying a token is never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Token(BaseModel):
    access_token: str
    token_type: str
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="For POST /auth/refresh: one use, then spent")
    refresh_expires_in: int = Field(description="Seconds the session lasts unless refreshed")
    user: UserPublic


def _no_store(response: EnvelopeResponse) -> EnvelopeResponse:
    response.headers.update(NO_STORE)
    return response


@router.post(
    "/login",
    operation_id="login",
    response_model=Envelope[Token],
    responses=error_responses(400, 401, 404, *WRITE_ERRORS, 429, *UPSTREAM),
)
async def login_route(request: Request, body: LoginRequest) -> EnvelopeResponse:
    """An access token and a refresh token for an email and password (401
    INVALID_CREDENTIALS otherwise; 400 for an email that is no bare address)."""
    return _no_store(ok(await login(request, body.email, body.password)))


@router.post(
    "/refresh",
    operation_id="refresh",
    response_model=Envelope[Token],
    responses=error_responses(400, 401, 404, *WRITE_ERRORS, 429, *UPSTREAM),
)
async def refresh_route(request: Request, body: RefreshRequest) -> EnvelopeResponse:
    """The next access and refresh tokens, the refresh token sent spent. A spent one sent
    again ends its session (its access tokens too): 401 UNAUTHENTICATED."""
    return _no_store(ok(await refresh(request, body.refresh_token)))


@router.post(
    "/logout",
    operation_id="logout",
    response_model=Envelope[IdOnly],
    responses=error_responses(400, 401, 404, 429, *UPSTREAM),
)
async def logout_route(request: Request, identity: IdentityDep) -> EnvelopeResponse:
    """End the caller's session: its access and refresh tokens are refused from now on.
    The answer is the session's id."""
    if identity.unrestricted:
        raise auth_is_off()
    await logout(request, identity)
    return ok({"id": identity.session_id})


@router.get(
    "/me",
    operation_id="me",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 401, 404, 429, *UPSTREAM),
)
async def me(clients: ClientsDep, identity: IdentityDep) -> EnvelopeResponse:
    """The caller's own user, as the users service has it now."""
    if identity.unrestricted:
        raise auth_is_off()
    try:
        return ok(await clients.users.get_user(identity.user_id))
    except ApiError as exc:
        if exc.status == 404:
            raise unauthenticated("The token's user no longer exists") from None
        raise
