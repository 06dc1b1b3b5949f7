from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from apicore.versions import version_of_timestamp
from graphql_gateway.graphql import resolvers
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.types.enums import OrderStatus
from graphql_gateway.graphql.types.order_item import OrderItem
from graphql_gateway.types import OrderData

if TYPE_CHECKING:
    from graphql_gateway.graphql.types.user import User


@strawberry.type
class Order:
    """Resolved from the orders service's JSON: plain fields are plain dict reads."""

    id: UUID
    user_id: UUID

    @strawberry.field(description="Null, with an error at this path, when users are unavailable")
    async def user(
        root: OrderData, info: strawberry.Info[Context, None]
    ) -> Annotated[User, strawberry.lazy("graphql_gateway.graphql.types.user")] | None:
        return await resolvers.user(info.context, root["user_id"])  # type: ignore[return-value]

    items: list[OrderItem]
    status: OrderStatus

    @strawberry.field(description="Changes on every change: send it as `expectedVersion`")
    def version(root: OrderData) -> str:
        return version_of_timestamp(root["updated_at"])

    total_amount: Decimal
    due_date: date | None = strawberry.field(description="The deadline (UTC), null for none")
    overdue: bool = strawberry.field(
        description="Past its due date (before today, UTC) while created or in progress"
    )
    created_at: datetime
    updated_at: datetime
