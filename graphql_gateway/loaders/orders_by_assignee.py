from __future__ import annotations

import functools

from graphql_gateway.clients.orders import OrdersClient
from graphql_gateway.loaders.batching import Loader, Projection
from graphql_gateway.loaders.orders_by_user import orders_by
from graphql_gateway.types import OrderData


class OrdersByAssigneeLoader(Loader[str, list[OrderData]]):
    """The orders assigned to each user, oldest first: one `GET /orders?assigneeIds=…` per
    batch (a page of users' `assignedOrders`: one call)."""

    def __init__(self, orders: OrdersClient, projection: Projection) -> None:
        # The batch function holds what it needs, not the loader (see OrdersByUserLoader).
        fetch = orders.get_orders_by_assignee_ids
        super().__init__(
            load_fn=functools.partial(
                orders_by, "orders_by_assignee", fetch, "assignee_id", projection
            )
        )
