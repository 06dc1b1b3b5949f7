"""Who is calling: set once per request by the front door, read by the policy."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from apicore.errors import UNAUTHENTICATED, ApiError

ROLES = frozenset({"user", "engineer", "manager", "director", "customer", "admin"})


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified caller. `user_id` is the token's `sub`; roles outside ROLES are dropped."""

    user_id: str
    roles: frozenset[str]
    unrestricted: bool = False


# With GATEWAY_AUTH=off every route is open, as in the original API: every check passes.
UNRESTRICTED = Identity(user_id="", roles=frozenset(), unrestricted=True)

STATE_KEY = "identity"


def unauthenticated(message: str = "Authentication required") -> ApiError:
    return ApiError(UNAUTHENTICATED, message, headers={"WWW-Authenticate": "Bearer"})


def identity_of(connection: HTTPConnection) -> Identity:
    """The caller the front door verified; UNRESTRICTED only when authentication is off."""
    identity = connection.scope.get("state", {}).get(STATE_KEY)
    if identity is not None:
        return identity
    if connection.app.state.settings.auth_enabled:
        # The front door lets a request through without an identity only on open routes
        # and /graphql (where `login` needs none): never mistake that for "off".
        raise unauthenticated()
    return UNRESTRICTED


def optional_identity_of(connection: HTTPConnection) -> Identity | None:
    """Like identity_of, but None for an anonymous caller while auth is on (/graphql)."""
    identity = connection.scope.get("state", {}).get(STATE_KEY)
    if identity is not None:
        return identity
    return None if connection.app.state.settings.auth_enabled else UNRESTRICTED
