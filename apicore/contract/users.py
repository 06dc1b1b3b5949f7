"""Users: what the users service accepts and serves."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, Field

from apicore.validation import NonBlank200, PartialModel, StrictModel

Role = Literal["user", "engineer", "manager", "director", "customer", "admin"]


def _unique(roles: list[str]) -> list[str]:
    return list(dict.fromkeys(roles))


def canonical_email(value: str) -> str:
    """An email in the one form it is stored, compared and counted in: trimmed, checked
    as a bare address (email-validator; no display name, no quoted local part, no
    domain literal), its domain decoded from IDNA, then lower-cased whole.

    Lower-casing the local part is our rule, not RFC 5321's: one account per address
    however it is typed, so that nobody registers `Bob@` beside `bob@` and the login
    limit counts one account once (graphql_gateway/auth/ratelimit.py).
    """
    try:
        address = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"Not an email address: {exc}") from None
    return address.normalized.lower()


Email = Annotated[
    str,
    Field(min_length=1, max_length=320, json_schema_extra={"format": "email"}),
    AfterValidator(canonical_email),
]
Roles = Annotated[list[Role], Field(min_length=1, max_length=6), AfterValidator(_unique)]
Password = Annotated[str, Field(min_length=8, max_length=128)]


class UserCreate(StrictModel):
    email: Email
    name: NonBlank200
    password: Password | None = None
    roles: Roles = Field(default_factory=lambda: list[Role](["user"]))


class UserUpdate(StrictModel):
    """Any subset of the fields; a field sent as null is an error, not "no change"."""

    # Ignore below (pydantic): it does not validate a default, so None stands for a field
    # left out while the type stays that of a value sent, and a null sent is refused.
    # `X | None` would accept null and change the exported schema (schema/).
    email: Email = None  # type: ignore[assignment]  # pydantic: unvalidated default
    name: NonBlank200 = None  # type: ignore[assignment]  # pydantic: unvalidated default
    password: Password = None  # type: ignore[assignment]  # pydantic: unvalidated default
    roles: Roles = None  # type: ignore[assignment]  # pydantic: unvalidated default


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    roles: list[str]
    created_at: datetime
    updated_at: datetime


class UserPartial(PartialModel):
    """A user as `?fields=` returns it: `id` and the fields asked for."""

    id: uuid.UUID
    # Ignore below (pydantic): it does not validate a default, so None stands for a field
    # not asked for (absent from the answer) while the type stays that of one given.
    # `X | None` would say null can come, in the exported schema (schema/) too.
    email: str = None  # type: ignore[assignment]  # pydantic: unvalidated default
    name: str = None  # type: ignore[assignment]  # pydantic: unvalidated default
    roles: list[str] = None  # type: ignore[assignment]  # pydantic: unvalidated default
    created_at: datetime = None  # type: ignore[assignment]  # pydantic: unvalidated default
    updated_at: datetime = None  # type: ignore[assignment]  # pydantic: unvalidated default
