from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from apicore.envelope import (
    CursorListEnvelope,
    Envelope,
    EnvelopeResponse,
    IdOnly,
    ListEnvelope,
    RawJson,
    cursor_page,
    error_responses,
    ok,
    page,
)
from apicore.errors import not_found
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
from apicore.idempotency import IdempotencyKey, created_response, request_idempotency
from apicore.keyset import AfterQuery, following, starting
from apicore.params import (
    DEFAULT_LIMIT,
    AssigneeIdQuery,
    AssigneeIdsQuery,
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
    wants_total,
)
from apicore.routing import WRITE_ERRORS, ContractRoute
from apicore.service import EngineDep
from apicore.versions import IfMatch, parse_if_match, with_etag
from service_orders import history, reports, repository
from service_orders.acting import ActorDep
from service_orders.models import IDEMPOTENCY_KEYS
from service_orders.schemas import (
    DayStats,
    OrderCreate,
    OrderHistoryEntry,
    OrderPartial,
    OrderPublic,
    OrderStats,
    OrderUpdate,
    UserOrderStats,
    order_total,
)

KIND = "orders"  # the list a cursor is of (apicore/keyset.py)
router = APIRouter(prefix="/orders", tags=["orders"], route_class=ContractRoute)


@router.get(
    "",
    operation_id="listOrders",
    response_model=CursorListEnvelope[OrderPublic | OrderPartial],
    responses=error_responses(400),
)
async def list_orders(
    engine: EngineDep,
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
    assignee_ids: AssigneeIdsQuery = None,
    sort: SortQuery = None,
    created_from: CreatedFromQuery = None,
    created_to: CreatedToQuery = None,
    due_from: DueFromQuery = None,
    due_to: DueToQuery = None,
    statuses: StatusesQuery = None,
    q: SearchQuery = None,
    after: AfterQuery = None,
    total: TotalQuery = None,
) -> EnvelopeResponse:
    finding = parse_finding(
        sort=sort,
        created_from=created_from,
        created_to=created_to,
        due_from=due_from,
        due_to=due_to,
        statuses=statuses,
        q=q,
    )
    id_list = parse_id_list(user_ids, field="userIds")
    min_amount, max_amount = checked_amounts(min_amount, max_amount)
    assignees = parse_id_list(assignee_ids, field="assigneeIds")
    size = effective_limit(limit, batch=id_list is not None or assignees is not None)
    order = finding.sort, finding.descending
    keyset = starting(after, offset=offset, kind=KIND, key=order[0], descending=order[1])
    found = await repository.list_orders(
        engine,
        limit=size,
        offset=offset,
        user_id=user_id,
        user_ids=id_list,
        status=status,
        overdue=overdue,
        fields=parse_fields(fields, allowed=repository.PUBLIC_FIELDS),
        min_amount=min_amount,
        max_amount=max_amount,
        assignee_id=assignee_id,
        assignee_ids=assignees,
        finding=finding,
        want_total=wants_total(total),
        keyset=keyset,
    )
    next_page = following(KIND, *order, found.next)
    return cursor_page(
        RawJson(found.text), total=found.total, limit=size, offset=offset, next=next_page
    )


# The reports come before `/{id}`, which would take `stats` for an id.
@router.get(
    "/stats",
    operation_id="orderStats",
    response_model=Envelope[OrderStats],
    responses=error_responses(400),
)
async def order_stats(
    engine: EngineDep,
    user_id: UserIdQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
) -> EnvelopeResponse:
    """Counts and amounts in all, per status and overdue; `from`/`to` bound `created_at`."""
    period = reports.Period(*parse_period(first, last))
    return ok(await reports.order_stats(engine, user_id=user_id, period=period))


@router.get(
    "/stats/by-user",
    operation_id="orderStatsByUser",
    response_model=Envelope[list[UserOrderStats]],
    responses=error_responses(400),
)
async def order_stats_by_user(
    engine: EngineDep,
    user_ids: UserIdsQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
) -> EnvelopeResponse:
    """The stats of each user asked for (at most 500), in the order asked: one query."""
    id_list = parse_id_list(user_ids, field="userIds") or []
    period = reports.Period(*parse_period(first, last))
    return ok(await reports.order_stats_by_user(engine, user_ids=id_list, period=period))


@router.get(
    "/stats/daily",
    operation_id="ordersByDay",
    response_model=Envelope[list[DayStats]],
    responses=error_responses(400),
)
async def orders_by_day(
    engine: EngineDep,
    user_id: UserIdQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
) -> EnvelopeResponse:
    """Orders created and completed on each day (default: the last 30 days; 366 at most)."""
    start, end = daily_period(first, last)
    return ok(await reports.orders_by_day(engine, first=start, last=end, user_id=user_id))


@router.post(
    "",
    operation_id="createOrder",
    status_code=201,
    response_model=Envelope[OrderPublic],
    # 422: the user's order book is closed (the user is being deleted: books.py), or an
    # Idempotency-Key used for another request; 409: that key's request is still running.
    responses=error_responses(400, 409, *WRITE_ERRORS, 422),
)
async def create_order(
    engine: EngineDep,
    request: Request,
    body: OrderCreate,
    actor: ActorDep,
    key: IdempotencyKey = None,
) -> Response:
    idempotency = request_idempotency(IDEMPOTENCY_KEYS, key, request, await request.body())
    created = await repository.create_order(
        engine,
        user_id=body.user_id,
        items=[item.stored() for item in body.items],
        total=order_total(body.items),
        status=body.status,
        due_date=body.due_date,
        idempotency=idempotency,
        assignee_id=body.assignee_id,
        actor=actor,
    )
    return created_response(created)


@router.get(
    "/{id}",
    operation_id="getOrder",
    response_model=Envelope[OrderPublic],
    responses=error_responses(400, 404),
)
async def get_order(engine: EngineDep, order_id: ResourceId) -> EnvelopeResponse:
    order = await repository.get_order(engine, order_id=order_id)
    if order is None:
        raise not_found("Order")
    return with_etag(ok(RawJson(order)), order)


@router.put(
    "/{id}",
    operation_id="updateOrder",
    response_model=Envelope[OrderPublic],
    responses=error_responses(400, 404, 409, 412, *WRITE_ERRORS),
)
async def update_order(
    engine: EngineDep,
    order_id: ResourceId,
    body: OrderUpdate,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> EnvelopeResponse:
    wanted = parse_if_match(if_match)
    items = body.items
    order = await repository.update_order(
        engine,
        order_id=order_id,
        user_id=body.user_id,
        items=[item.stored() for item in items] if items is not None else None,
        total=order_total(items) if items is not None else None,
        status=body.status,
        due_date=body.due_date if body.changes_due_date() else repository.KEEP,
        if_match=wanted,
        assignee_id=body.assignee_id if body.changes_assignee() else repository.KEEP,
        actor=actor,
    )
    return with_etag(ok(RawJson(order)), order)


@router.delete(
    "/{id}",
    operation_id="deleteOrder",
    response_model=Envelope[IdOnly],
    responses=error_responses(400, 404, 412),
)
async def delete_order(
    engine: EngineDep, order_id: ResourceId, actor: ActorDep, if_match: IfMatch = None
) -> EnvelopeResponse:
    wanted = parse_if_match(if_match)
    deleted = await repository.delete_order(engine, order_id=order_id, if_match=wanted, actor=actor)
    if not deleted:
        raise not_found("Order")
    return ok({"id": order_id})


@router.get(
    "/{id}/history",
    operation_id="getOrderHistory",
    response_model=ListEnvelope[OrderHistoryEntry],
    responses=error_responses(400, 404),
)
async def order_history(
    engine: EngineDep,
    order_id: ResourceId,
    limit: Limit = None,
    offset: Offset = 0,
    total: TotalQuery = None,  # accepted: one order's history is counted by its index
) -> EnvelopeResponse:
    """Every change of the order, newest first (a deleted order's too: its last is the delete)."""
    size = DEFAULT_LIMIT if limit is None else limit
    found = await history.history_page(engine, order_id=order_id, limit=size, offset=offset)
    if found is None:
        raise not_found("Order")
    items, count = found
    return page(RawJson(items), total=count, limit=size, offset=offset)
