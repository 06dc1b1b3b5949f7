from __future__ import annotations

from uuid import UUID

import strawberry

from apicore.errors import ApiError
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.types.enums import OrderStatus
from graphql_gateway.graphql.types.order import Order
from graphql_gateway.graphql.types.pages import OrderPage, UserPage
from graphql_gateway.graphql.types.user import User

Info = strawberry.Info[Context, None]


@strawberry.type
class Query:
    @strawberry.field
    async def user(self, info: Info, id: UUID) -> User | None:
        return await info.context.loaders.user_by_id.load(str(id))  # type: ignore[return-value]

    @strawberry.field
    async def users(
        self,
        info: Info,
        limit: int = 100,
        offset: int = 0,
        ids: list[UUID] | None = strawberry.UNSET,
    ) -> UserPage:
        loader = info.context.loaders.user_by_id
        if ids:
            found = [user for user in await loader.load_many([str(i) for i in ids]) if user]
            return UserPage(items=found[offset : offset + limit], total=len(found))  # type: ignore[arg-type]
        if ids is not None and ids is not strawberry.UNSET:  # an empty list asks for no one
            return UserPage(items=[], total=0)
        items, meta = await info.context.clients.users.list_users(limit=limit, offset=offset)
        loader.prime_many({user["id"]: user for user in items})
        return UserPage(items=items, total=meta["total"])  # type: ignore[arg-type]

    @strawberry.field
    async def order(self, info: Info, id: UUID) -> Order | None:
        try:
            return await info.context.clients.orders.get_order(str(id))  # type: ignore[return-value]
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    @strawberry.field
    async def orders(
        self,
        info: Info,
        user_id: UUID | None = strawberry.UNSET,
        status: OrderStatus | None = strawberry.UNSET,
        limit: int = 100,
        offset: int = 0,
    ) -> OrderPage:
        items, meta = await info.context.clients.orders.list_orders(
            limit=limit,
            offset=offset,
            user_id=str(user_id) if user_id else None,
            status=status.value if status else None,
        )
        return OrderPage(items=items, total=meta["total"])  # type: ignore[arg-type]
