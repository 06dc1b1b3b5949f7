from __future__ import annotations

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
        self._orders = orders
        self._first, self._last = period
        super().__init__(load_fn=self._load)

    async def _load(self, user_ids: Sequence[str]) -> list[OrderStatsData]:
        metrics.BATCH_SIZE("order_stats_by_user").observe(len(user_ids))
        found = await in_chunks(
            user_ids,
            lambda chunk: self._orders.order_stats_by_user_ids(
                chunk, first=self._first, last=self._last
            ),
        )
        by_user = {report["user_id"]: report for report in found}  # type: ignore[typeddict-item]
        return [by_user[user_id] for user_id in user_ids]
