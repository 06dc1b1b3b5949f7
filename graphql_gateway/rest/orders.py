"""Legacy REST routes for orders: the original API, envelope and codes, unchanged.

Bodies and query parameters are checked here with the orders service's own contract
(apicore.contract), so nothing malformed or unknown is forwarded: an order's body is
valid (400) before its user is looked up (422 USER_NOT_FOUND).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from apicore.contract.orders import (
    DayStats,
    OrderCreate,
    OrderHistoryEntry,
    OrderPartial,
    OrderPublic,
    OrderStats,
    OrderUpdate,
)
from apicore.envelope import (
    CursorListEnvelope,
    Envelope,
    IdOnly,
    ListEnvelope,
    cursor_page,
    error_responses,
    ok,
)
from apicore.errors import not_found, validation_error
from apicore.finding import (
    CreatedFromQuery,
    CreatedToQuery,
    DueFromQuery,
    DueToQuery,
    SearchQuery,
    SortQuery,
    StatusesQuery,
    parse_finding,
)
from apicore.idempotency import IdempotencyKey
from apicore.keyset import AfterQuery, starting
from apicore.params import (
    AssigneeIdQuery,
    FieldsQuery,
    FromQuery,
    Limit,
    MaxAmountQuery,
    MinAmountQuery,
    Offset,
    OverdueQuery,
    ResourceId,
    StatusQuery,
    ToQuery,
    TotalQuery,
    UserIdQuery,
    UserIdsQuery,
    checked_amounts,
    daily_period,
    effective_limit,
    parse_fields,
    parse_id_list,
    parse_period,
)
from apicore.routing import WRITE_ERRORS, ContractRoute
from apicore.versions import IfMatch
from graphql_gateway import integrity
from graphql_gateway.auth import policy
from graphql_gateway.graphql import resolvers
from graphql_gateway.rest import csv_export
from graphql_gateway.rest.deps import (
    UPSTREAM,
    ClientsDep,
    IdentityDep,
    proxy,
    upstream_response,
)

router = APIRouter(prefix="/orders", tags=["orders"], route_class=ContractRoute)


@router.get(
    "",
    operation_id="listOrders",
    response_model=CursorListEnvelope[OrderPublic | OrderPartial],
    responses={**error_responses(400, 401, *UPSTREAM), **csv_export.CSV_RESPONSE},
)
async def list_orders(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    user_id: UserIdQuery = None,
    user_ids: UserIdsQuery = None,
    status: StatusQuery = None,
    overdue: OverdueQuery = None,
    limit: Limit = None,
    offset: Offset = 0,
    fields: FieldsQuery = None,
    min_amount: MinAmountQuery = None,
    max_amount: MaxAmountQuery = None,
    assignee_id: AssigneeIdQuery = None,
    sort: SortQuery = None,
    created_from: CreatedFromQuery = None,
    created_to: CreatedToQuery = None,
    due_from: DueFromQuery = None,
    due_to: DueToQuery = None,
    statuses: StatusesQuery = None,
    q: SearchQuery = None,
    format_: csv_export.FormatQuery = None,
    total: TotalQuery = None,
    after: AfterQuery = None,
) -> Response:
    """A page of orders; as CSV (`Accept: text/csv`, `?format=csv`), every matching order."""
    checked_amounts(min_amount, max_amount)
    as_csv = csv_export.wants_csv(request, format_)
    columns = parse_fields(fields, allowed=csv_export.ORDER_COLUMNS) if as_csv else None
    finding = parse_finding(  # 400 here, before any call
        sort=sort,
        created_from=created_from,
        created_to=created_to,
        due_from=due_from,
        due_to=due_to,
        statuses=statuses,
        q=q,
    )
    starting(after, offset=offset, kind="orders", key=finding.sort, descending=finding.descending)
    if as_csv and after is not None:
        raise validation_error("after", "An export is every match from `offset`: no cursor")

    def exported(query: list[tuple[str, str]]) -> Awaitable[Response]:
        return csv_export.orders_csv(
            clients.orders,
            query,
            offset=offset,
            limit=limit,
            columns=columns or csv_export.ORDER_COLUMNS,
        )

    if policy.reads_every_order(identity):
        client_query = csv_export.without_format(request)
        if as_csv:
            return await exported(client_query)
        return await proxy(
            clients.orders, request, "/orders", query=urlencode(client_query).encode()
        )
    # Only the caller's own orders: the same list, filtered by the service.
    batch = user_ids is not None
    asked = parse_id_list(user_ids, field="userIds")
    visible, owner = policy.visible_order_owner(
        identity,
        None if user_id is None else str(user_id),
        among=None if asked is None else {str(each) for each in asked},
    )
    if not visible:
        if as_csv:
            return csv_export.csv_response(columns or csv_export.ORDER_COLUMNS, [])
        size = effective_limit(limit, batch=batch)
        return cursor_page([], total=0, limit=size, offset=offset, next=None)
    query: dict[str, object] = {"userIds" if batch else "userId": owner, "offset": offset}
    if after is not None:
        query["after"] = after
    if status is not None:
        query["status"] = status
    if overdue is not None:
        query["overdue"] = "true" if overdue else "false"
    if limit is not None:
        query["limit"] = limit
    if fields is not None:
        query["fields"] = fields
    if total is not None:
        query["total"] = total
    query.update(amounts(min_amount, max_amount))
    if assignee_id is not None:
        query["assigneeId"] = str(assignee_id)
    query.update(finding.query())
    if as_csv:
        return await exported([(k, str(v)) for k, v in query.items()])
    return await proxy(clients.orders, request, "/orders", query=urlencode(query).encode())


def amounts(low: object, high: object) -> dict[str, str]:
    """`minAmount`/`maxAmount` as the orders service reads them (apicore/params.py)."""
    given = {"minAmount": low, "maxAmount": high}
    return {name: str(value) for name, value in given.items() if value is not None}


def _scoped_query(identity: IdentityDep, request: Request, user_id: object) -> bytes | None:
    """A report's query string for the caller: theirs, or with `userId` set to their own.

    None when the caller asks about someone else's orders (they see none of them).
    """
    query = csv_export.without_format(request)
    if policy.reads_every_order(identity):
        return urlencode(query).encode()
    visible, owner = policy.visible_order_owner(identity, None if user_id is None else str(user_id))
    if not visible or owner is None:
        return None
    query = [(k, v) for k, v in query if k != "userId"]
    return urlencode([*query, ("userId", owner)]).encode()


class _Asked(NamedTuple):
    """Who asks for a report, and how (its route's parameters that `_report` reads)."""

    clients: ClientsDep
    identity: IdentityDep
    request: Request
    user_id: object
    format_: str | None


async def _report(
    asked: _Asked,
    path: str,
    empty: Callable[[], Any],
    rows: Callable[[Any], tuple[list[str], list[list[Any]]]],
) -> Response:
    """A report as the service answers it (JSON), or written as CSV (`rows` of its data);
    `empty()` is the report of no orders, for a caller who may read none."""
    clients, identity, request, user_id, format_ = asked
    as_csv = csv_export.wants_csv(request, format_)
    query = _scoped_query(identity, request, user_id)
    if query is None:
        report = empty()
        if not as_csv:
            return ok(report)
    elif not as_csv:
        return await proxy(clients.orders, request, path, query=query)
    else:
        params = parse_qsl(query.decode(), keep_blank_values=True)
        report = (await clients.orders.fetch("GET", path, params=params)).data
    return csv_export.csv_response(*rows(report))


# The reports come before `/{id}`, which would take `stats` for an id. With
# authentication on they cover only the orders the caller may read.
@router.get(
    "/stats",
    operation_id="orderStats",
    response_model=Envelope[OrderStats],
    responses={**error_responses(400, 401, *UPSTREAM), **csv_export.CSV_RESPONSE},
)
async def order_stats(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    user_id: UserIdQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    format_: csv_export.FormatQuery = None,
) -> Response:
    """Counts and amounts in all, per status and overdue; `from`/`to` bound `created_at`.
    As CSV: a row per status, then `all`."""
    parse_period(first, last)
    asked = _Asked(clients, identity, request, user_id, format_)
    return await _report(asked, "/orders/stats", resolvers.no_orders, csv_export.stats_rows)


@router.get(
    "/stats/daily",
    operation_id="ordersByDay",
    response_model=Envelope[list[DayStats]],
    responses={**error_responses(400, 401, *UPSTREAM), **csv_export.CSV_RESPONSE},
)
async def orders_by_day(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    user_id: UserIdQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    format_: csv_export.FormatQuery = None,
) -> Response:
    """Orders created and completed on each day (default: the last 30 days; 366 at most)."""
    start, end = daily_period(first, last)
    asked = _Asked(clients, identity, request, user_id, format_)
    empty = partial(resolvers.no_orders_by_day, start, end)
    return await _report(asked, "/orders/stats/daily", empty, csv_export.days_rows)


@router.post(
    "",
    operation_id="createOrder",
    status_code=201,
    response_model=Envelope[OrderPublic],
    responses=error_responses(400, 401, 403, 409, *WRITE_ERRORS, 422, *UPSTREAM),
)
async def create_order(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    body: OrderCreate,
    key: IdempotencyKey = None,
) -> Response:
    assignee = str(body.assignee_id) if body.assignee_id is not None else None
    policy.check_create_order(identity, str(body.user_id), assignee)
    scoped = integrity.scoped_key(identity, key)
    created, _ = await integrity.create_order(
        clients, body, raw=await request.body(), idempotency_key=scoped, acting=identity
    )
    return upstream_response(created)


# Most `GET /orders/{id}` never reach this route: its plain form (no query string, a
# lower-case id, a caller who reads every order) is answered before FastAPI's routing by
# `Passthrough` (rest/passthrough.py), with the same call and the same answer. get_order()
# answers every other form: an upper-case id, a query string (400), a caller limited to
# their own orders (the order read, then 404 if someone else's). Both paths:
# tests/graphql_gateway/test_passthrough.py.
@router.get(
    "/{id}",
    operation_id="getOrder",
    response_model=Envelope[OrderPublic],
    responses=error_responses(400, 401, 404, *UPSTREAM),
)
async def get_order(
    clients: ClientsDep, identity: IdentityDep, request: Request, order_id: ResourceId
) -> Response:
    if policy.reads_every_order(identity):
        return await proxy(clients.orders, request, f"/orders/{order_id}")
    upstream = await clients.orders.send("GET", f"/orders/{order_id}")
    if upstream.status == 200 and not policy.can_read_order(identity, upstream.data):
        raise not_found("Order")
    return upstream_response(upstream)


@router.put(
    "/{id}",
    operation_id="updateOrder",
    response_model=Envelope[OrderPublic],
    responses=error_responses(400, 401, 403, 404, 409, 412, *WRITE_ERRORS, *UPSTREAM),
)
async def update_order(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    order_id: ResourceId,
    body: OrderUpdate,
    if_match: IfMatch = None,
) -> Response:
    changes = body.model_dump(mode="json", exclude_unset=True)
    version = await policy.authorize_order_update(clients, identity, str(order_id), changes)
    await integrity.check_new_assignee(clients, changes)
    return await proxy(
        clients.orders,
        request,
        f"/orders/{order_id}",
        headers=clients.orders.acting(identity),
        if_match=version,
    )


@router.delete(
    "/{id}",
    operation_id="deleteOrder",
    response_model=Envelope[IdOnly],
    responses=error_responses(400, 401, 403, 404, 412, *UPSTREAM),
)
async def delete_order(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    order_id: ResourceId,
    if_match: IfMatch = None,
) -> Response:
    policy.check_delete_order(identity)
    headers = clients.orders.acting(identity)
    return await proxy(clients.orders, request, f"/orders/{order_id}", headers=headers)


@router.get(
    "/{id}/history",
    operation_id="getOrderHistory",
    response_model=ListEnvelope[OrderHistoryEntry],
    responses=error_responses(400, 401, 404, *UPSTREAM),
)
async def order_history(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    order_id: ResourceId,
    limit: Limit = None,
    offset: Offset = 0,
    total: TotalQuery = None,  # forwarded as it came (one order's history is counted)
) -> Response:
    """Every change of the order, newest first, with who made it and when; under the order's
    read scope (a caller limited to their own orders: of those only, while they exist)."""
    if not policy.reads_every_order(identity):
        order = await clients.orders.get_order(str(order_id))  # 404 passes through
        if not policy.can_read_order(identity, order):
            raise not_found("Order")
    return await proxy(clients.orders, request, f"/orders/{order_id}/history")
