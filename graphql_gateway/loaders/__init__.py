"""Per-request DataLoaders: built fresh for every request, so the cache lives one request."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql_gateway.clients import Clients
from graphql_gateway.loaders.batching import Projection
from graphql_gateway.loaders.order_stats_by_user import OrderStatsByUserLoader, Period
from graphql_gateway.loaders.orders_by_assignee import OrdersByAssigneeLoader
from graphql_gateway.loaders.orders_by_user import OrdersByUserLoader
from graphql_gateway.loaders.user_by_id import UserByIdLoader


@dataclass(slots=True)
class DataLoaders:
    user_by_id: UserByIdLoader
    orders_by_user: OrdersByUserLoader
    orders_by_assignee: OrdersByAssigneeLoader
    clients: Clients
    projection: Projection = field(default_factory=dict)
    _order_stats: dict[Period, OrderStatsByUserLoader] = field(default_factory=dict)

    @classmethod
    def for_request(cls, clients: Clients) -> DataLoaders:
        projection: Projection = {}
        return cls(
            user_by_id=UserByIdLoader(clients.users, projection),
            orders_by_user=OrdersByUserLoader(clients.orders, projection),
            orders_by_assignee=OrdersByAssigneeLoader(clients.orders, projection),
            clients=clients,
            projection=projection,
        )

    def order_stats_by_user(self, period: Period) -> OrderStatsByUserLoader:
        """Users' stats over `period`: one loader (one batch) per period a request asks for."""
        loader = self._order_stats.get(period)
        if loader is None:
            loader = self._order_stats[period] = OrderStatsByUserLoader(self.clients.orders, period)
        return loader
