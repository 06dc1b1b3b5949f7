"""Every REST write, through the same integrity layer as the REST routes."""

from __future__ import annotations

from uuid import UUID

import strawberry

from graphql_gateway import integrity
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.types.inputs import (
    OrderCreateInput,
    OrderUpdateInput,
    UserCreateInput,
    UserUpdateInput,
    to_payload,
)
from graphql_gateway.graphql.types.order import Order
from graphql_gateway.graphql.types.user import User

Info = strawberry.Info[Context, None]


def _remember(info: Info, user: dict) -> dict:
    """A user written in this request is already in hand for the rest of it."""
    info.context.loaders.user_by_id.prime(user["id"], user, force=True)  # type: ignore[arg-type]
    return user


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_user(self, info: Info, input: UserCreateInput) -> User:
        user = await info.context.clients.users.create_user(to_payload(input))
        return _remember(info, user)  # type: ignore[return-value, arg-type]

    @strawberry.mutation
    async def update_user(self, info: Info, id: UUID, input: UserUpdateInput) -> User:
        user = await info.context.clients.users.update_user(str(id), to_payload(input))
        return _remember(info, user)  # type: ignore[return-value, arg-type]

    @strawberry.mutation
    async def delete_user(self, info: Info, id: UUID) -> UUID:
        deleted = await integrity.delete_user(info.context.clients, str(id))
        # Gone for the rest of this request too.
        info.context.loaders.user_by_id.prime(str(id), None, force=True)
        return UUID(deleted)

    @strawberry.mutation
    async def create_order(self, info: Info, input: OrderCreateInput) -> Order:
        order, user = await integrity.create_order(info.context.clients, to_payload(input))
        if user is not None:
            _remember(info, user)  # type: ignore[arg-type]
        return order  # type: ignore[return-value]

    @strawberry.mutation
    async def update_order(self, info: Info, id: UUID, input: OrderUpdateInput) -> Order:
        return await info.context.clients.orders.update_order(str(id), to_payload(input))  # type: ignore[return-value]

    @strawberry.mutation
    async def delete_order(self, info: Info, id: UUID) -> UUID:
        return UUID(await info.context.clients.orders.delete_order(str(id)))
