"""What every field that needs a service does, shared by both executors.

The stock Strawberry resolvers and the compiled plans (`compiled.py`) call these, so
a query gives the same result and the same downstream calls either way. Batch forms
take every parent of one level at once; DataLoaders batch the single forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, cast

from apicore import keyset
from apicore.contract.orders import empty_order_stats
from apicore.errors import VALIDATION_ERROR, ApiError
from apicore.finding import Finding, parse_finding
from apicore.params import MAX_BATCH_IDS, MAX_LIMIT, MAX_OFFSET, checked_period, daily_days
from graphql_gateway.auth import policy
from graphql_gateway.graphql.context import Context
from graphql_gateway.types import DayStatsData, OrderData, OrderStatsData, UserData

Page = dict[str, Any]  # {"items": [...], "total": int}, read like any object


def _check_page(limit: int, offset: int, ids: Sequence[str] | None = None) -> None:
    """The bounds REST has on the same arguments, checked before any call."""
    details = []
    if not 0 <= limit <= MAX_LIMIT:
        details.append({"field": "limit", "message": f"must be between 0 and {MAX_LIMIT}"})
    if not 0 <= offset <= MAX_OFFSET:
        details.append({"field": "offset", "message": f"must be between 0 and {MAX_OFFSET}"})
    if ids is not None and len(ids) > MAX_BATCH_IDS:
        details.append({"field": "ids", "message": f"at most {MAX_BATCH_IDS} items"})
    if details:
        raise ApiError(VALIDATION_ERROR, "Validation failed", details=details)


async def user(context: Context, user_id: str) -> UserData | None:
    if not policy.can_read_user(context.caller, user_id):
        return None
    return await context.loaders.user_by_id.load(user_id)


async def me(context: Context) -> UserData | None:
    identity = context.identity
    if identity is None or identity.unrestricted:
        return None  # nobody logged in (or auth is off)
    return await context.loaders.user_by_id.load(identity.user_id)


async def users(
    context: Context,
    *,
    limit: int,
    offset: int,
    ids: Sequence[str] | None,
    want_total: bool = False,
) -> Page:
    """`users(...)`; `want_total`: `total` is selected (the service is asked to count only
    then, docs/totals.md; the users' total is always cheap, so it is only passed on)."""
    _check_page(limit, offset, ids)
    ids = policy.visible_user_ids(context.caller, None if ids is None else list(ids))
    loader = context.loaders.user_by_id
    if ids is not None:
        found = [found for found in await loader.load_many(list(ids)) if found is not None]
        return {"items": found[offset : offset + limit], "total": len(found)}
    fields = context.loaders.projection.get("User")
    items, meta = await context.clients.users.list_users(
        limit=limit, offset=offset, fields=fields, total=want_total
    )
    loader.prime_many({item["id"]: item for item in items})
    return {"items": items, "total": meta["total"]}


async def order(context: Context, order_id: str) -> OrderData | None:
    try:
        found = await context.clients.orders.get_order(order_id)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    return found if policy.can_read_order(context.caller, found) else None


async def orders(
    context: Context,
    *,
    user_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
    overdue: bool | None = None,
    assignee_id: str | None = None,
    finding: Finding | None = None,
    want_total: bool = False,
) -> Page:
    """`orders(...)`; `want_total`: `total` is selected, so the service counts the matches
    even where that is a scan (a search, an amount or due range: docs/totals.md)."""
    _check_page(limit, offset)
    visible, user_id = policy.visible_order_owner(context.caller, user_id)
    if not visible:
        return {"items": [], "total": 0}
    items, meta = await context.clients.orders.list_orders(
        limit=limit,
        offset=offset,
        user_id=user_id,
        status=status,
        overdue=overdue,
        fields=context.loaders.projection.get("Order"),
        assignee_id=assignee_id,
        finding=finding,
        total=want_total,
    )
    return {"items": items, "total": meta["total"]}


# ------------------------------------------------------------------ connections (cursors)

Connection = dict[str, Any]  # {"edges", "page_info", "total_count"}, read like any object


def _check_first(first: int, ids: Sequence[str] | None = None) -> None:
    """`first` within REST's bounds on `limit` (and `ids` on theirs), before any call."""
    if not 0 <= first <= MAX_LIMIT:
        details = [{"field": "first", "message": f"must be between 0 and {MAX_LIMIT}"}]
        raise ApiError(VALIDATION_ERROR, "Validation failed", details=details)
    _check_page(first, 0, ids)


def _with_key(fields: str | None, key: str) -> str | None:
    """The fields to ask for: the operation's, and the sort key every edge's cursor needs."""
    return fields if fields is None or key in fields.split(",") else f"{fields},{key}"


def connection(
    items: list[Any], meta: Any, *, kind: str, sort: tuple[str, bool], total: bool
) -> Connection:
    """A service's page as a connection: each edge's cursor is the one the service would
    give after that row (the same `keyset.encode` of the same key text and id)."""
    key, descending = sort
    edges = [
        {"cursor": keyset.encode(kind, key, descending, [item[key], item["id"]]), "node": item}
        for item in items
    ]
    page_info = {
        "has_next_page": meta.get("next") is not None,
        "end_cursor": edges[-1]["cursor"] if edges else None,
    }
    return {"edges": edges, "page_info": page_info, "total_count": meta["total"] if total else None}


def no_connection() -> Connection:
    page_info = {"has_next_page": False, "end_cursor": None}
    return {"edges": [], "page_info": page_info, "total_count": 0}


async def users_connection(
    context: Context, *, first: int, after: str | None, ids: Sequence[str] | None, total: bool
) -> Connection:
    """`usersConnection`: the page after `after`, oldest first, under the caller's scope."""
    _check_first(first, ids)
    sort = USERS_SORT
    keyset.starting(after, offset=0, kind="users", key=sort[0], descending=sort[1])
    ids = policy.visible_user_ids(context.caller, None if ids is None else list(ids))
    if ids is not None and not ids:
        return no_connection()
    fields = _with_key(context.loaders.projection.get("User"), sort[0])
    items, meta = await context.clients.users.list_users(
        limit=first, offset=0, fields=fields, ids=ids, after=after, total=total
    )
    context.loaders.user_by_id.prime_many({item["id"]: item for item in items})
    return connection(items, meta, kind="users", sort=sort, total=total)


USERS_SORT = ("created_at", False)  # the users list's one order (service_users/repository.py)


async def orders_connection(
    context: Context,
    *,
    first: int,
    after: str | None,
    user_id: str | None,
    status: str | None,
    overdue: bool | None = None,
    assignee_id: str | None = None,
    finding: Finding,
    total: bool,
) -> Connection:
    """`ordersConnection`: `orders(...)`'s filters and sort, the page after `after`."""
    _check_first(first)
    sort = finding.sort, finding.descending
    keyset.starting(after, offset=0, kind="orders", key=sort[0], descending=sort[1])
    visible, user_id = policy.visible_order_owner(context.caller, user_id)
    if not visible:
        return no_connection()
    items, meta = await context.clients.orders.list_orders(
        limit=first,
        offset=0,
        user_id=user_id,
        status=status,
        overdue=overdue,
        fields=_with_key(context.loaders.projection.get("Order"), sort[0]),
        assignee_id=assignee_id,
        finding=finding,
        after=after,
        total=total,
    )
    return connection(items, meta, kind="orders", sort=sort, total=total)


def finding_of(
    *,
    sort: str | None = None,
    statuses: Sequence[str] | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    q: str | None = None,
) -> Finding:
    """GraphQL's `orders(...)` finding arguments, checked as REST checks its parameters."""
    return parse_finding(
        sort=sort,
        created_from=created_from.isoformat() if created_from else None,
        created_to=created_to.isoformat() if created_to else None,
        due_from=due_from.isoformat() if due_from else None,
        due_to=due_to.isoformat() if due_to else None,
        statuses=",".join(statuses) if statuses is not None else None,
        q=q,
    )


def _with_status(found: list[OrderData], status: str | None) -> list[OrderData]:
    """`User.orders(status:)` filters in memory: one call whatever the filter."""
    return found if status is None else [o for o in found if o["status"] == status]


async def orders_of_users(
    context: Context, user_ids: Sequence[str], status: str | None
) -> list[list[OrderData]]:
    if not policy.reads_every_order(context.caller):
        return [await orders_of_user(context, user_id, status) for user_id in user_ids]
    found = await context.loaders.orders_by_user.load_many(list(user_ids))
    return [_with_status(each, status) for each in found]


async def orders_of_user(context: Context, user_id: str, status: str | None) -> list[OrderData]:
    if not policy.can_read_orders_of(context.caller, user_id):
        return []
    return _with_status(await context.loaders.orders_by_user.load(user_id), status)


async def users_of_orders(context: Context, user_ids: Sequence[str]) -> list[UserData | None]:
    if not policy.reads_every_user(context.caller):
        return [await user(context, user_id) for user_id in user_ids]
    return await context.loaders.user_by_id.load_many(list(user_ids))


async def assignees_of_orders(
    context: Context, assignee_ids: Sequence[str | None]
) -> list[UserData | None]:
    """`Order.assignee` of a whole level: one batched call. No scope check: whoever may read
    an order may see who works on it (a customer their own orders' engineers), and the
    orders here are ones the caller may read already."""
    wanted = [each for each in assignee_ids if each is not None]
    found = iter(await context.loaders.user_by_id.load_many(wanted) if wanted else [])
    return [None if each is None else next(found) for each in assignee_ids]


async def assigned_orders_of_users(
    context: Context, user_ids: Sequence[str], status: str | None
) -> list[list[OrderData]]:
    """`User.assignedOrders` of a whole level: one batched call, whatever the scope; a
    caller limited to their own orders sees, of someone's work, their own orders only."""
    found = await context.loaders.orders_by_assignee.load_many(list(user_ids))
    if not policy.reads_every_order(context.caller):
        found = [[o for o in each if policy.can_read_order(context.caller, o)] for each in found]
    return [_with_status(each, status) for each in found]


async def order_history(context: Context, order_id: str, *, limit: int, offset: int) -> Page:
    """`Order.history`, newest first: one call per order (the order is one the caller may
    read: its history is under the same scope)."""
    _check_page(limit, offset)
    items, meta = await context.clients.orders.order_history(order_id, limit=limit, offset=offset)
    return {"items": items, "total": meta["total"]}


# ------------------------------------------------------------------ reports (docs/graphql.md)


def no_orders() -> OrderStatsData:
    """The stats of orders the caller may not read: none, every status at zero."""
    # The contract builds it as a plain dict (apicore does not know the gateway's types);
    # its shape is the service's report, as the client states it (clients/orders.py).
    return cast("OrderStatsData", empty_order_stats())


def no_orders_by_day(first: date, last: date) -> list[DayStatsData]:
    days = ((first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1))
    return [{"date": day, "created": 0, "completed": 0} for day in days]


async def order_stats(
    context: Context, *, user_id: str | None, first: date | None, last: date | None
) -> OrderStatsData:
    first, last = checked_period(first, last)
    visible, user_id = policy.visible_order_owner(context.caller, user_id)
    if not visible:
        return no_orders()
    return await context.clients.orders.order_stats(user_id=user_id, first=first, last=last)


async def order_stats_of_users(
    context: Context, user_ids: Sequence[str], first: date | None, last: date | None
) -> list[OrderStatsData]:
    """`User.orderStats` of a whole level: one batched call (per period asked for)."""
    period = checked_period(first, last)
    loader = context.loaders.order_stats_by_user(period)
    if policy.reads_every_order(context.caller):
        return await loader.load_many(list(user_ids))
    caller = context.caller
    return [
        await loader.load(u) if policy.can_read_orders_of(caller, u) else no_orders()
        for u in user_ids
    ]


async def order_stats_of_user(
    context: Context, user_id: str, first: date | None, last: date | None
) -> OrderStatsData:
    (found,) = await order_stats_of_users(context, [user_id], first, last)
    return found


async def orders_by_day(
    context: Context, *, user_id: str | None, first: date | None, last: date | None
) -> list[DayStatsData]:
    first, last = daily_days(first, last)
    visible, user_id = policy.visible_order_owner(context.caller, user_id)
    if not visible:
        return no_orders_by_day(first, last)
    return await context.clients.orders.orders_by_day(user_id=user_id, first=first, last=last)
