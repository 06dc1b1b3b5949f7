"""Reports (docs/graphql.md), as the orders service computes them: plain dict reads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from graphql_gateway.graphql.types.enums import OrderStatus


@strawberry.type
class StatusStats:
    status: OrderStatus
    count: int
    total_amount: Decimal


@strawberry.type(description="Orders counted and summed by the orders service, in SQL")
class OrderStats:
    count: int
    total_amount: Decimal
    overdue: int = strawberry.field(
        description="Orders past their due date while created or in progress"
    )
    on_time: int = strawberry.field(
        description="Completed orders with a due date, completed (UTC day) on or before it"
    )
    late: int = strawberry.field(description="Completed orders with a due date, completed after it")
    on_time_share: float | None = strawberry.field(
        description="onTime / (onTime + late), 4 decimals; null when both are 0"
    )
    by_status: list[StatusStats] = strawberry.field(description="Every status, zeros included")


@strawberry.type(description="One UTC day of a progress chart")
class DayStats:
    date: date
    created: int = strawberry.field(description="Orders created that day")
    completed: int = strawberry.field(description="Orders completed that day")
