"""Users: what the users service accepts and serves."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from apicore.validation import NonBlank200, PartialModel, StrictModel

Role = Literal["user", "engineer", "manager", "director", "customer", "admin"]


def _unique(roles: list[str]) -> list[str]:
    return list(dict.fromkeys(roles))


Roles = Annotated[list[Role], Field(min_length=1, max_length=6), AfterValidator(_unique)]
Password = Annotated[str, Field(min_length=8, max_length=128)]


class UserCreate(StrictModel):
    email: EmailStr
    name: NonBlank200
    password: Password | None = None
    roles: Roles = Field(default_factory=lambda: ["user"])


class UserUpdate(StrictModel):
    """Any subset of the fields; a field sent as null is an error, not "no change"."""

    email: EmailStr = None  # type: ignore[assignment]
    name: NonBlank200 = None  # type: ignore[assignment]
    password: Password = None  # type: ignore[assignment]
    roles: Roles = None  # type: ignore[assignment]


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
    email: str = None  # type: ignore[assignment]
    name: str = None  # type: ignore[assignment]
    roles: list[str] = None  # type: ignore[assignment]
    created_at: datetime = None  # type: ignore[assignment]
    updated_at: datetime = None  # type: ignore[assignment]
