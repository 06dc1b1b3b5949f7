"""/v1/users: self-registration, login with a `token`, the caller's profile, the user list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from apicore.contract.users import UserPublic
from apicore.envelope import Envelope, EnvelopeResponse, error_responses, ok
from apicore.errors import ApiError
from apicore.routing import WRITE_ERRORS, ContractRoute
from graphql_gateway.auth import policy
from graphql_gateway.auth.frontdoor import client_address
from graphql_gateway.auth.identity import unauthenticated
from graphql_gateway.auth.login import LoginRequest, login
from graphql_gateway.auth.ratelimit import RateLimits
from graphql_gateway.rest.auth import NO_STORE
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, IdentityDep
from graphql_gateway.rest.v1.deps import (
    DEFAULT_PER_PAGE,
    PageNumber,
    PerPage,
    numbered_page,
    offset_of,
)
from graphql_gateway.rest.v1.schemas import Registration, V1ListEnvelope

# The role of a self-registered account: the users service's default for an account, the
# one the roles table lets place its own orders and read nothing else (auth/policy.py).
REGISTERED_ROLE = "user"

# Open (no token): login, and registration unless it is turned off on its own.
open_router = APIRouter(prefix="/users", tags=["v1"], route_class=ContractRoute)
registration = APIRouter(prefix="/users", tags=["v1"], route_class=ContractRoute)
router = APIRouter(prefix="/users", tags=["v1"], route_class=ContractRoute)


class V1Token(BaseModel):
    token: str
    user: UserPublic


@registration.post(
    "/register",
    operation_id="v1Register",
    status_code=201,
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 409, *WRITE_ERRORS, 429, *UPSTREAM),
)
async def register(request: Request, clients: ClientsDep, body: Registration) -> EnvelopeResponse:
    """A new account with the `user` role; at the logins' rate, per address and per email."""
    rate_limits: RateLimits = request.app.state.rate_limits
    address = client_address(request.scope)
    # Counted per address on its own: the logins' per-address limit counts failed logins
    # only, and a registration that succeeds would cost nothing there.
    await rate_limits.check_route("register", rate_limits.login_limits, address)
    await rate_limits.check_login(address, body.email)
    user = await clients.users.create_user(
        {
            "email": body.email,
            "name": body.name,
            "password": body.password,
            "roles": [REGISTERED_ROLE],
        }
    )
    return ok(user, status=201)


@open_router.post(
    "/login",
    operation_id="v1Login",
    response_model=Envelope[V1Token],
    responses=error_responses(400, 401, *WRITE_ERRORS, 429, *UPSTREAM),
)
async def login_route(request: Request, body: LoginRequest) -> EnvelopeResponse:
    """`{token, user}` for an email and password (401 INVALID_CREDENTIALS otherwise)."""
    answer = await login(request, body.email, body.password)
    response = ok({"token": answer["access_token"], "user": answer["user"]})
    response.headers.update(NO_STORE)
    return response


@router.get(
    "/profile",
    operation_id="v1Profile",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 401, 429, *UPSTREAM),
)
async def profile(clients: ClientsDep, identity: IdentityDep) -> EnvelopeResponse:
    """The caller, as the users service has it now."""
    try:
        return ok(await clients.users.get_user(identity.user_id))
    except ApiError as exc:
        if exc.status == 404:
            raise unauthenticated("The token's user no longer exists") from None
        raise


@router.get(
    "",
    operation_id="v1ListUsers",
    response_model=V1ListEnvelope[UserPublic],
    responses=error_responses(400, 401, 403, 429, *UPSTREAM),
)
async def list_users(
    clients: ClientsDep,
    identity: IdentityDep,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
) -> EnvelopeResponse:
    """A page of every user: for those who read every user (403 for the others)."""
    if not policy.reads_every_user(identity):
        raise policy.forbidden("Only staff can list users")
    offset = offset_of(page, per_page)
    users, meta = await clients.users.list_users(limit=per_page, offset=offset)
    return numbered_page(users, total=meta["total"], page=page, per_page=per_page)
