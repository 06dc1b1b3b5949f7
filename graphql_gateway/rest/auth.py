"""POST /auth/login and GET /auth/me (SPEC section 8)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from apicore.contract.users import UserPublic
from apicore.envelope import Envelope, EnvelopeResponse, error_responses, ok
from apicore.errors import ApiError
from apicore.routing import WRITE_ERRORS, ContractRoute
from graphql_gateway.auth.identity import unauthenticated
from graphql_gateway.auth.login import LoginRequest, auth_is_off, login
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, IdentityDep

router = APIRouter(prefix="/auth", tags=["auth"], route_class=ContractRoute)
# RFC 6749 section 5.1: a response carrying a token is never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Token(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    user: UserPublic


@router.post(
    "/login",
    operation_id="login",
    response_model=Envelope[Token],
    responses=error_responses(400, 401, 404, *WRITE_ERRORS, 429, *UPSTREAM),
)
async def login_route(request: Request, body: LoginRequest) -> EnvelopeResponse:
    """A bearer token for an email and password (401 INVALID_CREDENTIALS otherwise)."""
    response = ok(await login(request, body.email, body.password))
    response.headers.update(NO_STORE)
    return response


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
