from __future__ import annotations

import functools
from collections.abc import Sequence

from graphql_gateway import metrics
from graphql_gateway.clients.orders import OrdersClient
from graphql_gateway.loaders.batching import Loader, Projection, grouped, in_chunks
from graphql_gateway.types import OrderData


class OrdersByUserLoader(Loader[str, list[OrderData]]):
    """Each user's orders, oldest first: one `GET /orders?userIds=…` per batch."""

    def __init__(self, orders: OrdersClient, projection: Projection) -> None:
        # The batch function holds what it needs, not the loader: no reference cycle, so a
        # request's loaded answers are freed when it ends (docs/performance.md).
        super().__init__(load_fn=functools.partial(_orders_by_user, orders, projection))


async def _orders_by_user(
    orders: OrdersClient, projection: Projection, user_ids: Sequence[str]
) -> list[list[OrderData]]:
    metrics.BATCH_SIZE("orders_by_user").observe(len(user_ids))
    fields = projection.get("Order")
    found = await in_chunks(
        user_ids, lambda chunk: orders.get_orders_by_user_ids(chunk, fields=fields)
    )
    return grouped(user_ids, found, lambda order: order["user_id"])
