"""JSON Web Tokens: the gateway's own (HS256, GATEWAY_JWT_SECRET) and an identity provider's.

A token's header picks the key, and each key has its own algorithms, so no token can
choose how it is checked: HS256 only ever against our secret (issuer
GATEWAY_JWT_LOCAL_ISSUER), the provider's asymmetric algorithms only ever against its
JWKS (issuer GATEWAY_JWT_ISSUER). `alg: none` and anything else is refused. Every token
must carry `sub` (a user id), `roles`, `exp`, `iat`, `iss` and `aud`
(GATEWAY_JWT_AUDIENCE); ours also `sid`, the login's session, which the front door checks
is still standing (auth/sessions.py).

Verified tokens are remembered until they expire (bounded): a client sends the same
token on every request, and a dict lookup is ~50x cheaper than checking an HMAC again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import jwt

from apicore.errors import SERVICE_UNAVAILABLE, ApiError
from graphql_gateway.auth.identity import ROLES, Identity, unauthenticated
from graphql_gateway.config import Settings

logger = logging.getLogger("graphql_gateway.auth")

LOCAL_ALGORITHM = "HS256"
MAX_TOKEN_BYTES = 8 * 1024
REQUIRED_CLAIMS = ["sub", "roles", "exp", "iat", "iss", "aud"]
LOCAL_REQUIRED_CLAIMS = [*REQUIRED_CLAIMS, "sid"]
_CACHE_ENTRIES = 10_000


class TokenService:
    def __init__(self, settings: Settings) -> None:
        assert settings.jwt_secret is not None
        self._secret = settings.jwt_secret.get_secret_value().encode()
        self.ttl = settings.jwt_ttl
        self._local_issuer = settings.jwt_local_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway
        self._provider_issuer = settings.jwt_issuer
        self._provider_algorithms = settings.jwks_algorithm_list
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if settings.jwks_url
            else None
        )
        self._verified: dict[str, tuple[Identity, float]] = {}

    def issue(self, user: dict[str, Any], session_id: str) -> str:
        now = int(time.time())
        claims = {
            "sub": user["id"],
            "sid": session_id,
            "roles": list(user["roles"]),
            "iat": now,
            "exp": now + self.ttl,
            "iss": self._local_issuer,
            "aud": self._audience,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=LOCAL_ALGORITHM)

    async def identify(self, authorization: bytes) -> Identity:
        """The caller of an `Authorization` header's bearer token, or 401 UNAUTHENTICATED."""
        scheme, _, credentials = authorization.partition(b" ")
        token = credentials.strip()
        if scheme.lower() != b"bearer" or not token or len(token) > MAX_TOKEN_BYTES:
            raise unauthenticated("Expected `Authorization: Bearer <token>`")
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            raise unauthenticated("Invalid token") from None
        remembered = self._verified.get(text)
        if remembered is not None:
            identity, expires = remembered
            if time.time() < expires + self._leeway:
                return identity
            del self._verified[text]
        claims, local = await self._claims(text)
        identity = _identity(claims, local=local)
        if len(self._verified) >= _CACHE_ENTRIES:
            self._verified.clear()
        self._verified[text] = (identity, float(claims["exp"]))
        return identity

    async def _claims(self, token: str) -> tuple[dict[str, Any], bool]:
        """The token's claims, and whether it is one of ours."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            local = algorithm == LOCAL_ALGORITHM
            issuer: str | None
            if local:
                key: Any = self._secret
                algorithms, issuer = [LOCAL_ALGORITHM], self._local_issuer
            elif self._jwks is not None and algorithm in self._provider_algorithms:
                key = await self._provider_key(token)
                algorithms, issuer = self._provider_algorithms, self._provider_issuer
            else:
                raise unauthenticated("Invalid token")
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": LOCAL_REQUIRED_CLAIMS if local else REQUIRED_CLAIMS},
            )
            return claims, local
        except jwt.ExpiredSignatureError:
            raise unauthenticated("Token expired") from None
        except jwt.PyJWTError:
            raise unauthenticated("Invalid token") from None

    async def _provider_key(self, token: str) -> Any:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches with urllib (blocking) when its cache misses.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            logger.warning("Identity provider's keys unavailable: %s", exc)
            raise ApiError(
                SERVICE_UNAVAILABLE,
                "The identity provider's keys are unavailable",
                headers={"Retry-After": "5"},
            ) from None
        return signing_key.key


def _uuid(value: Any) -> str | None:
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _identity(claims: dict[str, Any], *, local: bool) -> Identity:
    roles = claims["roles"]
    user_id = _uuid(claims["sub"])
    if user_id is None:
        raise unauthenticated("Invalid token: `sub` is not a user id")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise unauthenticated("Invalid token: `roles` is not a list of roles")
    session_id = _uuid(claims["sid"]) if local else None
    if local and session_id is None:
        raise unauthenticated("Invalid token: `sid` is not a session id")
    return Identity(user_id=user_id, roles=frozenset(roles) & ROLES, session_id=session_id)
