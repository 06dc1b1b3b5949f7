"""What the /v1 API accepts and serves, and its words translated to ours.

Its resources are ours (the same users, the same orders) with one word changed: an
order's `in_progress` is that version's `processing`, in both directions. Its pages are
numbered (`page`, `per_page`) where ours are offsets (`offset`, `limit`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from apicore.contract.orders import CENT, OrderItemCreate, OrderItemPublic, Price
from apicore.contract.users import Password
from apicore.validation import NonBlank200, StrictModel

T = TypeVar("T")

V1Status = Literal["created", "processing", "completed", "cancelled"]
# Only the word that differs: every other status is spelled the same in both.
_OURS = {"processing": "in_progress"}
_THEIRS = {ours: theirs for theirs, ours in _OURS.items()}


def our_status(status: str) -> str:
    return _OURS.get(status, status)


def v1_status(status: str) -> str:
    return _THEIRS.get(status, status)


def v1_order(order: Mapping[str, Any]) -> dict[str, Any]:
    return {**order, "status": v1_status(order["status"])}


def v1_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    by_status = [{**each, "status": v1_status(each["status"])} for each in stats["by_status"]]
    return {**stats, "by_status": by_status}


# ------------------------------------------------------------------ requests


def _two_characters(name: str) -> str:
    if len(name) < 2:  # already stripped
        raise ValueError("Must be at least 2 characters")
    return name


class Registration(StrictModel):
    """That version asked for 6 characters of password; ours asks for 8 (the users
    service's rule, apicore.contract.users), and ours stands."""

    email: EmailStr
    password: Password
    name: Annotated[NonBlank200, AfterValidator(_two_characters)]


def _at_least_a_cent(price: Decimal) -> Decimal:
    if price < CENT:
        raise ValueError("Must be at least 0.01")
    return price


class V1Item(OrderItemCreate):
    """Our line item (product, quantity >= 1, price with at most 2 decimals), but free
    items are refused, as that version did."""

    price: Annotated[Price, AfterValidator(_at_least_a_cent)]


class V1OrderCreate(StrictModel):
    """The caller's own order: its user is never in the body."""

    items: Annotated[list[V1Item], Field(min_length=1, max_length=100)]


class V1StatusChange(StrictModel):
    status: V1Status


# ------------------------------------------------------------------ responses


class V1Order(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    items: list[OrderItemPublic]
    status: V1Status
    total_amount: str = Field(examples=["520.00"])
    due_date: date | None
    overdue: bool
    created_at: datetime
    updated_at: datetime


class V1StatusStats(BaseModel):
    status: V1Status
    count: int
    total_amount: str = Field(examples=["520.00"])


class V1OrderStats(BaseModel):
    count: int
    total_amount: str = Field(examples=["1040.00"])
    overdue: int
    by_status: list[V1StatusStats]


class V1PageMeta(BaseModel):
    page: int
    per_page: int
    total: int
    total_pages: int


class V1ListEnvelope(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: list[T]
    meta: V1PageMeta
