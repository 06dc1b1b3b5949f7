"""Per-request DataLoaders: built fresh for every request, so the cache lives one request."""

from __future__ import annotations

from dataclasses import dataclass

from graphql_gateway.clients import Clients
from graphql_gateway.loaders.orders_by_user import OrdersByUserLoader
from graphql_gateway.loaders.user_by_id import UserByIdLoader


@dataclass(slots=True)
class DataLoaders:
    user_by_id: UserByIdLoader
    orders_by_user: OrdersByUserLoader

    @classmethod
    def for_request(cls, clients: Clients) -> DataLoaders:
        return cls(
            user_by_id=UserByIdLoader(clients.users),
            orders_by_user=OrdersByUserLoader(clients.orders),
        )
