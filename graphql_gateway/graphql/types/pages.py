from __future__ import annotations

import strawberry

from graphql_gateway.graphql.types.order import Order
from graphql_gateway.graphql.types.user import User


@strawberry.type
class UserPage:
    items: list[User]
    total: int


@strawberry.type
class OrderPage:
    items: list[Order]
    total: int
