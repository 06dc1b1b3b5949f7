from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.types.enums import OrderStatus
from graphql_gateway.types import OrderData, UserData

if TYPE_CHECKING:
    from graphql_gateway.graphql.types.order import Order


@strawberry.type
class User:
    """Resolved from the users service's JSON: plain fields are plain dict reads."""

    id: UUID
    email: str
    name: str
    roles: list[str]
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="Null, with an error at this path, when orders are unavailable")
    async def orders(
        root: UserData,
        info: strawberry.Info[Context, None],
        status: OrderStatus | None = strawberry.UNSET,
    ) -> list[Annotated[Order, strawberry.lazy("graphql_gateway.graphql.types.order")]] | None:
        orders: list[OrderData] = await info.context.loaders.orders_by_user.load(root["id"])
        if status:
            return [order for order in orders if order["status"] == status.value]  # type: ignore[misc]
        return orders  # type: ignore[return-value]
