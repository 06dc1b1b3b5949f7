"""Who is calling: set once per request by the front door, read by the policy."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from apicore.errors import UNAUTHENTICATED, ApiError

ROLES = frozenset({"user", "engineer", "manager", "director", "customer", "admin"})


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified caller. `user_id` is the token's `sub`; roles outside ROLES are dropped.
    `session_id`: the login our own tokens belong to (their `sid`), None for a provider's."""

    user_id: str
    roles: frozenset[str]
    unrestricted: bool = False
    session_id: str | None = None


# With GATEWAY_AUTH=off every route is open, as in the original API: every check passes.
UNRESTRICTED = Identity(user_id="", roles=frozenset(), unrestricted=True)

STATE_KEY = "identity"


def unauthenticated(message: str = "Authentication required") -> ApiError:
    return ApiError(UNAUTHENTICATED, message, headers={"WWW-Authenticate": "Bearer"})


def optional_identity_of(connection: HTTPConnection) -> Identity | None:
    """The caller the front door verified; None for an anonymous caller while auth is on
    (/graphql, where `login` needs no identity); UNRESTRICTED only when auth is off."""
    identity = connection.scope.get("state", {}).get(STATE_KEY)
    if identity is not None:
        return identity
    return None if connection.app.state.settings.auth_enabled else UNRESTRICTED


def identity_of(connection: HTTPConnection) -> Identity:
    """Like optional_identity_of, but an anonymous caller is 401."""
    identity = optional_identity_of(connection)
    if identity is None:
        # The front door lets a request through without an identity only on open routes
        # and /graphql: never mistake that for "off".
        raise unauthenticated()
    return identity
