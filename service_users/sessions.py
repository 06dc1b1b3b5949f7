"""Sessions behind the gateway's logins (internal: the gateway calls these, never exposes them).

A session is one login. Its refresh tokens are one family: each refresh spends the token
presented and gives a new one (rotation); a spent token presented again means two
holders, the rightful one and a thief, so the whole session ends (OAuth 2.0 Security
BCP, RFC 9700 section 4.14.2). The gateway puts the session's id in each access token
(`sid`) and asks `GET /internal/sessions/{id}` whether it still stands, at most once a
second per worker (graphql_gateway/auth/sessions.py).

A session ends by logout, by a reused refresh token, by a change of the user's roles or
password (service_users/repository.py: update_user), by the user's deletion (foreign key
ON DELETE CASCADE), or when nobody refreshed it for USERS_SESSION_TTL seconds. Ended is
deleted: nothing of it is kept.

Refresh tokens are 256 random bits, stored as their SHA-256 only: a slow hash buys
nothing against a secret that cannot be guessed, and the lookup stays one index probe.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from apicore.contract.users import UserPublic
from apicore.db import reading
from apicore.envelope import Envelope, EnvelopeResponse, IdOnly, error_responses, ok
from apicore.errors import UNAUTHENTICATED, ApiError, not_found
from apicore.params import ResourceId
from apicore.routing import WRITE_ERRORS, ContractRoute
from apicore.service import EngineDep
from apicore.validation import StrictModel
from service_users import repository
from service_users.credentials import checked_user, rehash_later
from service_users.models import RefreshToken, Session, User
from service_users.schemas import Credentials

router = APIRouter(prefix="/internal/sessions", tags=["internal"], route_class=ContractRoute)

REFRESH_TOKEN_BYTES = 32


class RefreshRequest(StrictModel):
    # Ours are 43 characters; anything else up to 512 is simply nobody's.
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class Started(BaseModel):
    session_id: uuid.UUID
    refresh_token: str
    refresh_expires_in: int
    user: UserPublic


class Standing(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    roles: list[str]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _ttl(request: Request) -> int:
    return request.app.state.session_ttl


def refresh_refused(message: str = "Invalid refresh token") -> ApiError:
    return ApiError(UNAUTHENTICATED, message)


async def _new_token(conn: AsyncConnection, session_id: uuid.UUID) -> str:
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    row = {"token_hash": _digest(token), "session_id": session_id}
    await conn.execute(insert(RefreshToken).values(**row))
    return token


async def start(engine: AsyncEngine, user_id: uuid.UUID, ttl: int) -> tuple[uuid.UUID, str]:
    """A new session of the user and its first refresh token. The user's sessions that
    expired are removed on the way (each login tidies its own user's)."""
    async with engine.begin() as conn:
        await conn.execute(
            delete(Session).where(Session.user_id == user_id, Session.expires_at <= func.now())
        )
        statement = (
            insert(Session)
            .values(user_id=user_id, expires_at=func.now() + timedelta(seconds=ttl))
            .returning(Session.id)
        )
        session_id = (await conn.execute(statement)).scalar_one()
        return session_id, await _new_token(conn, session_id)


async def rotate(engine: AsyncEngine, token: str, ttl: int) -> tuple[uuid.UUID, str, str]:
    """(session id, new refresh token, user JSON) for an unspent token of a live session.

    The token's row is locked: of two refreshes with one token, the second waits, finds
    it spent, and ends the session. Raises 401 otherwise (the session ended first when
    the token was spent or the session had expired).
    """
    ended: str | None = None
    async with engine.begin() as conn:
        found = (
            await conn.execute(
                select(
                    RefreshToken.session_id,
                    RefreshToken.used_at,
                    Session.expires_at <= func.now(),
                    Session.user_id,
                )
                .join(Session, Session.id == RefreshToken.session_id)
                .where(RefreshToken.token_hash == _digest(token))
                .with_for_update(of=RefreshToken)
            )
        ).first()
        if found is None:
            raise refresh_refused()
        session_id, used_at, expired, user_id = found
        if used_at is not None or expired:
            await conn.execute(delete(Session).where(Session.id == session_id))
            ended = (
                "Refresh token already used: its session is ended; log in again"
                if used_at is not None
                else "Session expired; log in again"
            )
        else:
            await conn.execute(
                update(RefreshToken)
                .where(RefreshToken.token_hash == _digest(token))
                .values(used_at=func.now())
            )
            await conn.execute(
                update(Session)
                .where(Session.id == session_id)
                .values(expires_at=func.now() + timedelta(seconds=ttl))
            )
            new_token = await _new_token(conn, session_id)
            user = (
                await conn.execute(select(repository.USER_JSON).where(User.id == user_id))
            ).scalar_one()
    if ended is not None:
        raise refresh_refused(ended)
    return session_id, new_token, user


def _started(session_id: uuid.UUID, token: str, ttl: int, user: str) -> dict[str, Any]:
    return {
        "session_id": str(session_id),
        "refresh_token": token,
        "refresh_expires_in": ttl,
        "user": orjson.loads(user),
    }


@router.post(
    "",
    operation_id="startSession",
    status_code=201,
    response_model=Envelope[Started],
    responses=error_responses(400, 401, *WRITE_ERRORS),
)
async def start_session(engine: EngineDep, request: Request, body: Credentials) -> EnvelopeResponse:
    """A new session for valid credentials (401 INVALID_CREDENTIALS otherwise), as the
    credentials check decides (service_users/credentials.py)."""
    user_id, user, stored = await checked_user(engine, body.email, body.password)
    session_id, token = await start(engine, user_id, _ttl(request))
    response = ok(_started(session_id, token, _ttl(request), user), status=201)
    rehash_later(response, engine, user_id, stored, body.password)
    return response


@router.post(
    "/refresh",
    operation_id="refreshSession",
    response_model=Envelope[Started],
    responses=error_responses(400, 401, *WRITE_ERRORS),
)
async def refresh_session(
    engine: EngineDep, request: Request, body: RefreshRequest
) -> EnvelopeResponse:
    """The next refresh token of the session, the one sent spent; 401 UNAUTHENTICATED for
    a token that is nobody's, spent (which ends its session) or of an expired session."""
    session_id, token, user = await rotate(engine, body.refresh_token, _ttl(request))
    return ok(_started(session_id, token, _ttl(request), user))


@router.get(
    "/{id}",
    operation_id="getSession",
    response_model=Envelope[Standing],
    responses=error_responses(400, 404),
)
async def get_session(engine: EngineDep, session_id: ResourceId) -> EnvelopeResponse:
    """The session if it stands (with its user's roles now); 404 once it has ended."""
    statement = (
        select(Session.id, Session.user_id, User.roles)
        .join(User, User.id == Session.user_id)
        .where(Session.id == session_id, Session.expires_at > func.now())
    )
    async with reading(engine) as conn:
        row = (await conn.execute(statement)).first()
    if row is None:
        raise not_found("Session")
    return ok({"id": str(row.id), "user_id": str(row.user_id), "roles": list(row.roles)})


@router.delete(
    "/{id}",
    operation_id="endSession",
    response_model=Envelope[IdOnly],
    responses=error_responses(400, 404),
)
async def end_session(engine: EngineDep, session_id: ResourceId) -> EnvelopeResponse:
    """Logout: the session and its refresh tokens are deleted; 404 if it had ended."""
    async with engine.begin() as conn:
        statement = delete(Session).where(Session.id == session_id).returning(Session.id)
        gone = (await conn.execute(statement)).first()
    if gone is None:
        raise not_found("Session")
    return ok({"id": str(session_id)})
