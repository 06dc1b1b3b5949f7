from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from graphql_gateway import metrics
from graphql_gateway.clients.orders import OrdersClient
from graphql_gateway.loaders.batching import Loader, Projection, grouped, in_chunks
from graphql_gateway.types import OrderData

# A client call for the orders of some users: (user ids, fields=…) -> their orders.
OrdersOf = Callable[..., Awaitable[list[OrderData]]]


class OrdersByUserLoader(Loader[str, list[OrderData]]):
    """Each user's orders, oldest first: one `GET /orders?userIds=…` per batch."""

    def __init__(self, orders: OrdersClient, projection: Projection) -> None:
        # The batch function holds what it needs, not the loader: no reference cycle, so a
        # request's loaded answers are freed when it ends (docs/performance.md).
        fetch = orders.get_orders_by_user_ids
        super().__init__(
            load_fn=functools.partial(orders_by, "orders_by_user", fetch, "user_id", projection)
        )


async def orders_by(
    loader: str,
    fetch: OrdersOf,
    key: Literal["user_id", "assignee_id"],
    projection: Projection,
    user_ids: Sequence[str],
) -> list[list[OrderData]]:
    """One batch: the orders of `user_ids` (in calls of at most 500), grouped by `key`."""
    metrics.BATCH_SIZE(loader).observe(len(user_ids))
    fields = projection.get("Order")
    found = await in_chunks(user_ids, lambda chunk: fetch(chunk, fields=fields))
    return grouped(user_ids, found, lambda order: order[key])
