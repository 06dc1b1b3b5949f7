"""The credentials check behind the gateway's login (docs/auth.md). Internal: the
gateway calls it for `POST /auth/login` and GraphQL `login`, and never exposes it.

`POST /internal/credentials/verify` with `{"email", "password"}` answers the public user,
exactly as `GET /users/{id}` does, when the email (case-insensitively) is a user's and the
password matches that user's hash; otherwise `401 INVALID_CREDENTIALS`, one answer for
every failure. The hash is read, checked and dropped here: it never leaves the service.

Every failure costs what a success costs: one SQL round trip and one argon2 verification,
against a stand-in hash when the email is nobody's or the user has no password, so that
the time of an answer does not tell which emails are registered.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.background import BackgroundTask

from apicore.contract.users import canonical_email
from apicore.envelope import Envelope, EnvelopeResponse, RawJson, error_responses, ok
from apicore.errors import INVALID_CREDENTIALS, ApiError
from apicore.routing import WRITE_ERRORS, ContractRoute
from apicore.service import EngineDep
from service_users import repository
from service_users.passwords import check_password, hash_password, needs_rehash
from service_users.schemas import Credentials, UserPublic

logger = logging.getLogger("service_users.credentials")

router = APIRouter(prefix="/internal", tags=["internal"], route_class=ContractRoute)

INVALID_MESSAGE = "Invalid email or password"


def lookup_email(email: str) -> str:
    """The email as it is stored (apicore.contract.users.canonical_email); one that is no
    address is looked up as given, and is nobody's (the gateway refuses it before)."""
    try:
        return canonical_email(email)
    except ValueError:
        return email


async def checked_user(
    engine: AsyncEngine, email: str, password: str
) -> tuple[uuid.UUID, str, str]:
    """(id, public JSON) of the user whose credentials these are; 401 otherwise.

    Always one verification: with no user or no password, against the stand-in hash. A
    hash made with older parameters is made again after the answer (`rehash_later`).
    """
    found = await repository.find_credentials(engine, email=lookup_email(email))
    stored = found[2] if found is not None else None
    matches = await check_password(stored, password)
    if found is None or stored is None or not matches:
        raise ApiError(INVALID_CREDENTIALS, INVALID_MESSAGE)
    user_id, user, _ = found
    return user_id, user, stored


def rehash_later(
    response: EnvelopeResponse, engine: AsyncEngine, user_id: uuid.UUID, stored: str, password: str
) -> None:
    if needs_rehash(stored):
        response.background = BackgroundTask(_rehash, engine, user_id, stored, password)


async def _rehash(engine: AsyncEngine, user_id: uuid.UUID, old: str, password: str) -> None:
    """After the answer: the same password, hashed with the current parameters."""
    try:
        await repository.replace_password_hash(
            engine, user_id=user_id, old=old, new=await hash_password(password)
        )
    except Exception:
        logger.exception("Could not rehash the password of user %s", user_id)


@router.post(
    "/credentials/verify",
    operation_id="verifyCredentials",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 401, *WRITE_ERRORS),
)
async def verify_credentials(engine: EngineDep, body: Credentials) -> EnvelopeResponse:
    """Internal, for the gateway's login (never exposed): the user whose email and password
    these are, or 401 INVALID_CREDENTIALS whatever the reason."""
    user_id, user, stored = await checked_user(engine, body.email, body.password)
    response = ok(RawJson(user))
    rehash_later(response, engine, user_id, stored, body.password)
    return response
