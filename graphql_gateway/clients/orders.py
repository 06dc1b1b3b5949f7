from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from apicore.finding import Finding
from apicore.headers import ACTING_USER, GATEWAY_TOKEN
from graphql_gateway.auth.identity import Identity
from graphql_gateway.clients.base import ServiceClient, Upstream
from graphql_gateway.types import (
    DayStatsData,
    OrderData,
    OrderStatsData,
    PageMeta,
    UserOrderStatsData,
)


def _period(params: dict[str, Any], first: date | None, last: date | None) -> dict[str, Any]:
    if first is not None:
        params["from"] = first.isoformat()
    if last is not None:
        params["to"] = last.isoformat()
    return params


class OrdersClient(ServiceClient):
    service_token: str | None = None  # see acting()

    def acting(self, identity: Identity | None) -> dict[str, str]:
        """The headers naming the caller to the service (service_orders/acting.py); none
        without a shared token or an authenticated caller (auth off: nobody is named)."""
        if self.service_token is None or identity is None or identity.unrestricted:
            return {}
        return {ACTING_USER: identity.user_id, GATEWAY_TOKEN: self.service_token}

    async def get_order(self, order_id: str) -> OrderData:
        return cast("OrderData", (await self.fetch("GET", f"/orders/{order_id}")).data)

    async def get_orders_by_user_ids(
        self, user_ids: Iterable[str], *, fields: str | None = None
    ) -> list[OrderData]:
        """Every order of the given users (at most 500 users), oldest first; `fields` if given."""
        params = {"userIds": ",".join(user_ids)}
        if fields is not None:
            params["fields"] = fields
        return cast("list[OrderData]", (await self.fetch("GET", "/orders", params=params)).data)

    async def list_orders(
        self,
        *,
        limit: int,
        offset: int,
        user_id: str | None = None,
        status: str | None = None,
        overdue: bool | None = None,
        fields: str | None = None,
        assignee_id: str | None = None,
        finding: Finding | None = None,
        after: str | None = None,
        total: bool = False,
    ) -> tuple[list[OrderData], PageMeta]:
        """A page of orders; `after`: the page after that cursor; `total`: ask for an exact
        `meta.total` even where it costs a count (docs/pagination.md)."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if after is not None:
            params["after"] = after
        if total:
            params["total"] = "true"
        if finding is not None:
            params.update(finding.query())
        if assignee_id is not None:
            params["assigneeId"] = assignee_id
        if fields is not None:
            params["fields"] = fields
        if user_id is not None:
            params["userId"] = user_id
        if status is not None:
            params["status"] = status
        if overdue is not None:
            params["overdue"] = "true" if overdue else "false"
        body = (await self.fetch("GET", "/orders", params=params)).body
        return body["data"], body["meta"]

    async def orders_page(self, params: dict[str, Any]) -> tuple[list[OrderData], PageMeta]:
        """A page of the list with these query parameters, as the service names them."""
        body = (await self.fetch("GET", "/orders", params=params)).body
        return body["data"], body["meta"]

    # Reports (docs/graphql.md): computed by the service in SQL, one statement each.
    async def order_stats(
        self, *, user_id: str | None, first: date | None, last: date | None
    ) -> OrderStatsData:
        params = _period({"userId": user_id} if user_id is not None else {}, first, last)
        return cast(
            "OrderStatsData", (await self.fetch("GET", "/orders/stats", params=params)).data
        )

    async def order_stats_by_user_ids(
        self, user_ids: Iterable[str], *, first: date | None, last: date | None
    ) -> list[UserOrderStatsData]:
        """One report per user (at most 500), in the order given, duplicates dropped."""
        params = _period({"userIds": ",".join(user_ids)}, first, last)
        return cast(
            "list[UserOrderStatsData]",
            (await self.fetch("GET", "/orders/stats/by-user", params=params)).data,
        )

    async def orders_by_day(
        self, *, user_id: str | None, first: date, last: date
    ) -> list[DayStatsData]:
        params = _period({"userId": user_id} if user_id is not None else {}, first, last)
        return cast(
            "list[DayStatsData]",
            (await self.fetch("GET", "/orders/stats/daily", params=params)).data,
        )

    async def count_orders(self, *, user_id: str, status: str) -> int:
        _, meta = await self.list_orders(limit=0, offset=0, user_id=user_id, status=status)
        count = meta["total"]
        assert count is not None  # one user's orders are always counted (docs/totals.md)
        return count

    async def create_order(
        self,
        payload: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        acting: Identity | None = None,
    ) -> Upstream:
        return await self.fetch(
            "POST",
            "/orders",
            json=payload,
            idempotency_key=idempotency_key,
            headers=self.acting(acting),
        )

    async def create_order_raw(
        self, body: bytes, *, idempotency_key: str | None = None, acting: Identity | None = None
    ) -> Upstream:
        """A REST client's JSON body, forwarded as it came."""
        return await self.fetch(
            "POST",
            "/orders",
            content=body,
            idempotency_key=idempotency_key,
            headers=self.acting(acting),
        )

    async def update_order(
        self,
        order_id: str,
        payload: dict[str, Any],
        *,
        if_match: str | None = None,
        acting: Identity | None = None,
    ) -> OrderData:
        return cast(
            "OrderData",
            (
                await self.fetch(
                    "PUT",
                    f"/orders/{order_id}",
                    json=payload,
                    if_match=if_match,
                    headers=self.acting(acting),
                )
            ).data,
        )

    async def delete_order(self, order_id: str, *, acting: Identity | None = None) -> str:
        answer = await self.fetch("DELETE", f"/orders/{order_id}", headers=self.acting(acting))
        return cast("str", answer.data["id"])

    async def order_history(
        self, order_id: str, *, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], PageMeta]:
        params = {"limit": limit, "offset": offset}
        body = (await self.fetch("GET", f"/orders/{order_id}/history", params=params)).body
        return body["data"], body["meta"]

    async def get_orders_by_assignee_ids(
        self, user_ids: Iterable[str], *, fields: str | None = None
    ) -> list[OrderData]:
        """Every order assigned to the given users (at most 500), oldest first."""
        params = {"assigneeIds": ",".join(user_ids)}
        if fields is not None:
            params["fields"] = fields
        return cast("list[OrderData]", (await self.fetch("GET", "/orders", params=params)).data)

    # The order book of a user (service_orders/books.py): how deleting a user and creating
    # an order for them serialise. Internal routes; every call is idempotent.
    async def close_order_book(self, user_id: str) -> dict[str, Any]:
        """No more orders for this user; 409 USER_HAS_ACTIVE_ORDERS (book unchanged) if any."""
        return cast(
            "dict[str, Any]",
            (await self.fetch("POST", f"/internal/users/{user_id}/order-book/close")).data,
        )

    async def reopen_order_book(
        self, user_id: str, *, if_closed_at: str | None = None
    ) -> dict[str, Any]:
        """Open it; with `if_closed_at`, only if no delete has closed it again since."""
        params = {"ifClosedAt": if_closed_at} if if_closed_at is not None else None
        path = f"/internal/users/{user_id}/order-book/reopen"
        return cast("dict[str, Any]", (await self.fetch("POST", path, params=params)).data)

    async def order_book(self, user_id: str) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            (await self.fetch("GET", f"/internal/users/{user_id}/order-book")).data,
        )
