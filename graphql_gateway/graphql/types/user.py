from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from apicore.versions import version_of_timestamp
from graphql_gateway.graphql import resolvers
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.served import served
from graphql_gateway.graphql.types.enums import OrderStatus
from graphql_gateway.graphql.types.stats import OrderStats
from graphql_gateway.types import UserData

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

    @strawberry.field(description="Changes on every change: send it as `expectedVersion`")
    def version(root: UserData) -> str:
        return version_of_timestamp(root["updated_at"])

    @strawberry.field(description="Null, with an error at this path, when orders are unavailable")
    async def orders(
        root: UserData,
        info: strawberry.Info[Context, None],
        status: OrderStatus | None = strawberry.UNSET,
    ) -> list[Annotated[Order, strawberry.lazy("graphql_gateway.graphql.types.order")]] | None:
        chosen = status.value if status else None
        return served(await resolvers.orders_of_user(info.context, root["id"], chosen))

    @strawberry.field(
        description="The orders assigned to this user, oldest first (of a customer: their own"
        " only). A page of users asks the orders service once. Null, with an error at this"
        " path, when orders are unavailable"
    )
    async def assigned_orders(
        root: UserData,
        info: strawberry.Info[Context, None],
        status: OrderStatus | None = strawberry.UNSET,
    ) -> list[Annotated[Order, strawberry.lazy("graphql_gateway.graphql.types.order")]] | None:
        chosen = status.value if status else None
        (found,) = await resolvers.assigned_orders_of_users(info.context, [root["id"]], chosen)
        return served(found)

    @strawberry.field(
        description="Counts and amounts of this user's orders (created from/to, whole UTC days)."
        " A page of users asks the orders service once. Null, with an error at this path,"
        " when orders are unavailable"
    )
    async def order_stats(
        root: UserData,
        info: strawberry.Info[Context, None],
        first: Annotated[date | None, strawberry.argument(name="from")] = strawberry.UNSET,
        to: date | None = strawberry.UNSET,
    ) -> OrderStats | None:
        found = await resolvers.order_stats_of_user(
            info.context, root["id"], first or None, to or None
        )
        return served(found)
