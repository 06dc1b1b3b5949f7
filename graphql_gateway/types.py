"""The shapes our services send, as they arrive: parsed once, never re-validated."""

from __future__ import annotations

from typing import NotRequired, TypedDict


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
    assignee_id: str | None
    items: list[OrderItemData]
    status: str
    total_amount: str
    due_date: str | None
    overdue: bool
    created_at: str
    updated_at: str
    created_by: str | None
    updated_by: str | None


class StatusStatsData(TypedDict):
    status: str
    count: int
    total_amount: str


class OrderStatsData(TypedDict):
    count: int
    total_amount: str
    overdue: int
    on_time: int
    late: int
    on_time_share: float | None
    by_status: list[StatusStatsData]


class UserOrderStatsData(OrderStatsData):
    """One user's report (`GET /orders/stats/by-user`): the stats and whose they are."""

    user_id: str


class DayStatsData(TypedDict):
    date: str
    created: int
    completed: int


class PageMeta(TypedDict):
    total: int | None  # None: not counted, unless asked for (docs/totals.md)
    limit: int | None
    offset: int
    next: NotRequired[str | None]  # the lists that page by cursor too
