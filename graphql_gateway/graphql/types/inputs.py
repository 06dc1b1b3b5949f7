from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import strawberry

from graphql_gateway.graphql.types.enums import OrderStatus


@strawberry.input
class UserCreateInput:
    email: str
    name: str
    password: str | None = strawberry.UNSET
    roles: list[str] | None = strawberry.UNSET


@strawberry.input
class UserUpdateInput:
    email: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    password: str | None = strawberry.UNSET
    roles: list[str] | None = strawberry.UNSET


@strawberry.input
class OrderItemInput:
    product: str
    quantity: int
    price: Decimal


@strawberry.input
class OrderCreateInput:
    user_id: UUID
    items: list[OrderItemInput]
    status: OrderStatus | None = strawberry.UNSET
    due_date: date | None = strawberry.UNSET
    assignee_id: UUID | None = strawberry.field(
        default=strawberry.UNSET, description="Who does the work (a manager's to set)"
    )


@strawberry.input
class OrderUpdateInput:
    items: list[OrderItemInput] | None = strawberry.UNSET
    status: OrderStatus | None = strawberry.UNSET
    due_date: date | None = strawberry.field(
        default=strawberry.UNSET, description="null removes the deadline"
    )
    assignee_id: UUID | None = strawberry.field(
        default=strawberry.UNSET, description="Assign or reassign; null: nobody"
    )


# Fields whose null is a value ("no deadline", "nobody assigned"), not "left out".
NULL_IS_A_VALUE = frozenset({"due_date", "assignee_id"})


def to_payload(value: Any) -> Any:
    """An input as the services' JSON: snake_case keys, unset and null fields left out."""
    if isinstance(value, list):
        return [to_payload(item) for item in value]
    if isinstance(value, OrderStatus):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "__strawberry_definition__"):
        return {
            key: to_payload(item)
            for key, item in vars(value).items()
            if item is not strawberry.UNSET and (item is not None or key in NULL_IS_A_VALUE)
        }
    return value
