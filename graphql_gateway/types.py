"""The shapes our services send, as they arrive: parsed once, never re-validated."""

from __future__ import annotations

from typing import TypedDict


class OrderItemData(TypedDict):
    product: str
    quantity: int
    price: str


class UserData(TypedDict):
    id: str
    email: str
    name: str
    roles: list[str]
    created_at: str
    updated_at: str


class OrderData(TypedDict):
    id: str
    user_id: str
    items: list[OrderItemData]
    status: str
    total_amount: str
    created_at: str
    updated_at: str


class PageMeta(TypedDict):
    total: int
    limit: int | None
    offset: int
