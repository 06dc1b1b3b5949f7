from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from apicore.versions import version_of_timestamp
from graphql_gateway.graphql import resolvers
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.served import served
from graphql_gateway.graphql.types.enums import OrderStatus
from graphql_gateway.graphql.types.order_item import OrderItem
from graphql_gateway.types import OrderData

if TYPE_CHECKING:
    from graphql_gateway.graphql.types.history import OrderHistoryPage
    from graphql_gateway.graphql.types.user import User


@strawberry.type
class Order:
    """Resolved from the orders service's JSON: plain fields are plain dict reads."""

    id: UUID
    user_id: UUID = strawberry.field(description="The customer or owner the order is for")

    @strawberry.field(description="Null, with an error at this path, when users are unavailable")
    async def user(
        root: OrderData, info: strawberry.Info[Context, None]
    ) -> Annotated[User, strawberry.lazy("graphql_gateway.graphql.types.user")] | None:
        return served(await resolvers.user(info.context, root["user_id"]))

    assignee_id: UUID | None = strawberry.field(description="Who does the work, null for nobody")

    @strawberry.field(
        description="Who does the work (null: nobody, or a user since deleted), visible to"
        " whoever may read the order; a page of orders asks the users service once"
    )
    async def assignee(
        root: OrderData, info: strawberry.Info[Context, None]
    ) -> Annotated[User, strawberry.lazy("graphql_gateway.graphql.types.user")] | None:
        (found,) = await resolvers.assignees_of_orders(info.context, [root.get("assignee_id")])
        return served(found)

    created_by: UUID | None = strawberry.field(description="Who created it (null: not recorded)")
    updated_by: UUID | None = strawberry.field(
        description="Who changed it last (null: not recorded)"
    )

    @strawberry.field(description="Every change, newest first: who, when, each field's values")
    async def history(
        root: OrderData,
        info: strawberry.Info[Context, None],
        limit: int = 100,
        offset: int = 0,
    ) -> Annotated[OrderHistoryPage, strawberry.lazy("graphql_gateway.graphql.types.history")]:
        found = await resolvers.order_history(info.context, root["id"], limit=limit, offset=offset)
        return served(found)

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
