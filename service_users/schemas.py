"""The users service's bodies: the shared contract (apicore.contract.users), and the body
of its internal credentials check (service_users.credentials), which the gateway never
exposes and which is therefore no part of the shared contract."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from apicore.contract.users import Role, UserCreate, UserPartial, UserPublic, UserUpdate
from apicore.validation import StrictModel


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000, so no stored email has one (nor can SQL take it).
    if "\x00" in value:
        raise ValueError("Must not contain the NUL character")
    return value


class Credentials(StrictModel):
    """An email and a password to check. Any text: a malformed email is simply nobody's.

    Bounded, so that nobody makes the service hash megabytes. No user's email is longer
    than 320 characters, nor their password than 128: a longer password (up to 1024) is
    checked, and simply matches nobody's.
    """

    email: Annotated[str, Field(min_length=1, max_length=320), AfterValidator(_no_nul)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


__all__ = ["Credentials", "Role", "UserCreate", "UserPartial", "UserPublic", "UserUpdate"]
