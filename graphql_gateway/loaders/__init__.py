"""Per-request DataLoaders: built fresh for every request, so the cache lives one request."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql_gateway.clients import Clients
from graphql_gateway.loaders.batching import Projection
from graphql_gateway.loaders.orders_by_user import OrdersByUserLoader
from graphql_gateway.loaders.user_by_id import UserByIdLoader


@dataclass(slots=True)
class DataLoaders:
    user_by_id: UserByIdLoader
    orders_by_user: OrdersByUserLoader
    projection: Projection = field(default_factory=dict)

    @classmethod
    def for_request(cls, clients: Clients) -> DataLoaders:
        projection: Projection = {}
        return cls(
            user_by_id=UserByIdLoader(clients.users, projection),
            orders_by_user=OrdersByUserLoader(clients.orders, projection),
            projection=projection,
        )
