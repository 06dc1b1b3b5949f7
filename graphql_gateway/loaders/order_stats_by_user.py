from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date

from graphql_gateway import metrics
from graphql_gateway.clients.orders import OrdersClient
from graphql_gateway.loaders.batching import Loader, in_chunks
from graphql_gateway.types import OrderStatsData

Period = tuple[date | None, date | None]


class OrderStatsByUserLoader(Loader[str, OrderStatsData]):
    """Each user's order stats over one period: one `GET /orders/stats/by-user` per batch."""

    def __init__(self, orders: OrdersClient, period: Period) -> None:
        # The batch function holds what it needs, not the loader: no reference cycle, so a
        # request's loaded answers are freed when it ends (docs/performance.md).
        super().__init__(load_fn=functools.partial(_stats_by_user, orders, period))


async def _stats_by_user(
    orders: OrdersClient, period: Period, user_ids: Sequence[str]
) -> list[OrderStatsData]:
    metrics.BATCH_SIZE("order_stats_by_user").observe(len(user_ids))
    first, last = period
    found = await in_chunks(
        user_ids, lambda chunk: orders.order_stats_by_user_ids(chunk, first=first, last=last)
    )
    by_user = {report["user_id"]: report for report in found}
    return [by_user[user_id] for user_id in user_ids]
