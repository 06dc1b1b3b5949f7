"""An order's history, as the orders service records it (service_orders/history.py)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from strawberry.scalars import JSON


@strawberry.type
class FieldChange:
    field: str
    old: JSON | None = strawberry.field(description="The value before, as the order serves it")
    new: JSON | None = strawberry.field(description="The value after, as the order serves it")


@strawberry.type(description="One change of an order: who made it, when, and what it set")
class OrderHistoryEntry:
    id: strawberry.ID
    at: datetime
    actor_id: UUID | None = strawberry.field(description="The acting user (null: not recorded)")
    action: str = strawberry.field(description="created, updated or deleted")
    changes: list[FieldChange]


@strawberry.type
class OrderHistoryPage:
    items: list[OrderHistoryEntry]
    total: int
