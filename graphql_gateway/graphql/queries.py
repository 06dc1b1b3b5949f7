from __future__ import annotations

from uuid import UUID

import strawberry

from graphql_gateway.graphql import resolvers
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.types.enums import OrderStatus
from graphql_gateway.graphql.types.order import Order
from graphql_gateway.graphql.types.pages import OrderPage, UserPage
from graphql_gateway.graphql.types.user import User

Info = strawberry.Info[Context, None]


@strawberry.type
class Query:
    @strawberry.field(description="The caller (null when nobody is logged in or auth is off)")
    async def me(self, info: Info) -> User | None:
        return await resolvers.me(info.context)  # type: ignore[return-value]

    @strawberry.field
    async def user(self, info: Info, id: UUID) -> User | None:
        return await resolvers.user(info.context, str(id))  # type: ignore[return-value]

    @strawberry.field
    async def users(
        self,
        info: Info,
        limit: int = 100,
        offset: int = 0,
        ids: list[UUID] | None = strawberry.UNSET,
    ) -> UserPage:
        # Absent or null: no filter. A list, even an empty one: exactly those users.
        id_list = None if ids is None or ids is strawberry.UNSET else [str(i) for i in ids]
        return await resolvers.users(info.context, limit=limit, offset=offset, ids=id_list)  # type: ignore[return-value]

    @strawberry.field
    async def order(self, info: Info, id: UUID) -> Order | None:
        return await resolvers.order(info.context, str(id))  # type: ignore[return-value]

    @strawberry.field
    async def orders(
        self,
        info: Info,
        user_id: UUID | None = strawberry.UNSET,
        status: OrderStatus | None = strawberry.UNSET,
        limit: int = 100,
        offset: int = 0,
    ) -> OrderPage:
        return await resolvers.orders(  # type: ignore[return-value]
            info.context,
            user_id=str(user_id) if user_id else None,
            status=status.value if status else None,
            limit=limit,
            offset=offset,
        )
