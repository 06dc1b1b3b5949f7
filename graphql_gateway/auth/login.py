"""Logging in, refreshing, logging out: the users service keeps the sessions, the gateway
issues the access tokens.

The password hash never leaves the users service: the gateway sends the email and
password to its internal route (never exposed here) and gets the public user and a new
session back, or 401 INVALID_CREDENTIALS, the same for an unknown email and a wrong
password. An email that is no bare address is 400 before anything is counted or checked;
attempts are limited per account (its canonical email) and failures per client address
(auth/ratelimit.py).

A login answers a short-lived access token (GATEWAY_JWT_TTL, naming the session as
`sid`) and a refresh token, spent by `refresh` for the next pair (rotation; a spent one
presented again ends the session: service_users/sessions.py). `logout` ends the caller's
session. These are the functions the routes call (REST, GraphQL, any other).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from apicore.contract.users import Email, canonical_email
from apicore.errors import NOT_FOUND, ApiError, validation_error
from graphql_gateway.auth.frontdoor import client_address
from graphql_gateway.auth.identity import Identity, unauthenticated
from graphql_gateway.auth.ratelimit import RateLimits
from graphql_gateway.auth.sessions import SessionCheck
from graphql_gateway.auth.tokens import TokenService
from graphql_gateway.clients import Clients

TOKEN_TYPE = "bearer"
MAX_EMAIL_CHARS = 320


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=512)


def auth_is_off() -> ApiError:
    return ApiError(NOT_FOUND, "Authentication is off on this gateway (GATEWAY_AUTH=off)")


def _tokens(connection: HTTPConnection) -> TokenService:
    tokens: TokenService | None = connection.app.state.tokens
    if tokens is None:
        raise auth_is_off()
    return tokens


def _answer(tokens: TokenService, session: dict[str, Any]) -> dict[str, Any]:
    return {
        "access_token": tokens.issue(session["user"], str(session["session_id"])),
        "token_type": TOKEN_TYPE,
        "expires_in": tokens.ttl,
        "refresh_token": session["refresh_token"],
        "refresh_expires_in": session["refresh_expires_in"],
        "user": session["user"],
    }


async def login(connection: HTTPConnection, email: str, password: str) -> dict[str, Any]:
    """`{access_token, token_type, expires_in, refresh_token, refresh_expires_in, user}`
    for valid credentials; 400 for an email that is no address, 401, 429."""
    tokens = _tokens(connection)
    if len(email) > MAX_EMAIL_CHARS:  # GraphQL's argument has no bound of its own
        raise validation_error("email", f"At most {MAX_EMAIL_CHARS} characters")
    try:
        account = canonical_email(email)
    except ValueError as exc:
        raise validation_error("email", str(exc)) from None
    rate_limits: RateLimits = connection.app.state.rate_limits
    address = client_address(connection.scope)
    await rate_limits.check_login(address, account)
    clients: Clients = connection.app.state.clients
    try:
        session = await clients.users.start_session(account, password)
    except ApiError as exc:
        if exc.status == 401:
            await rate_limits.login_failed(address)
        raise
    return _answer(tokens, session)


async def refresh(connection: HTTPConnection, refresh_token: str) -> dict[str, Any]:
    """As login answers, for an unspent refresh token of a live session; 401 otherwise."""
    tokens = _tokens(connection)
    clients: Clients = connection.app.state.clients
    try:
        session = await clients.users.refresh_session(refresh_token)
    except ApiError as exc:
        if exc.status in (400, 401):
            # One answer for every refused token, with the reason (spent, expired, unknown).
            message = exc.message if exc.status == 401 else "Invalid refresh token"
            raise unauthenticated(message) from None
        raise
    return _answer(tokens, session)


async def logout(connection: HTTPConnection, identity: Identity) -> None:
    """End the caller's session: its access tokens (here at once, in every other worker
    within GATEWAY_SESSION_CHECK_INTERVAL) and its refresh tokens are refused."""
    _tokens(connection)
    if identity.session_id is None:
        raise ApiError(
            NOT_FOUND, "This token has no session here: log out at its identity provider"
        )
    clients: Clients = connection.app.state.clients
    sessions: SessionCheck = connection.app.state.sessions
    try:
        await clients.users.end_session(identity.session_id)
    except ApiError as exc:
        if exc.status != 404:  # ended meanwhile: what was asked is done
            raise
    sessions.forget(identity.session_id)


async def count_email_change(connection: HTTPConnection, identity: Identity, email: str) -> bool:
    """Before a caller who is no administrator changes their email: the change is counted
    as a login attempt at that address's account, and its address checked for failures,
    as a login is (429 when over). Its answer, 409 EMAIL_EXISTS or not, tells whether the
    address is registered, so this probe costs what a login does. True when counted: then
    `email_change_refused` counts a 409 as a failed login from the address."""
    if identity.unrestricted or "admin" in identity.roles:
        return False
    try:
        account = canonical_email(email)
    except ValueError:
        return False  # the users service refuses it: 400, which tells nothing
    rate_limits: RateLimits = connection.app.state.rate_limits
    await rate_limits.check_login(client_address(connection.scope), account)
    return True


async def email_change_refused(connection: HTTPConnection) -> None:
    rate_limits: RateLimits = connection.app.state.rate_limits
    await rate_limits.login_failed(client_address(connection.scope))
