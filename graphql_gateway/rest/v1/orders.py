"""/v1/orders: the caller's orders, created as theirs, with that version's words.

Each route asks the roles table (auth/policy.py) as our own routes do, and creates
through integrity.create_order (the user checked, the order book, the Idempotency-Key).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query

from apicore.envelope import Envelope, EnvelopeResponse, error_responses, ok
from apicore.errors import not_found
from apicore.idempotency import IdempotencyKey
from apicore.params import amount_query, checked_amounts
from apicore.routing import WRITE_ERRORS, ContractRoute
from graphql_gateway import integrity
from graphql_gateway.auth import policy
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, IdentityDep
from graphql_gateway.rest.v1.deps import (
    DEFAULT_PER_PAGE,
    OrderId,
    PageNumber,
    PerPage,
    count_create,
    numbered_page,
    offset_of,
)
from graphql_gateway.rest.v1.schemas import (
    V1ListEnvelope,
    V1Order,
    V1OrderCreate,
    V1OrderStats,
    V1Status,
    V1StatusChange,
    our_status,
    v1_order,
    v1_stats,
)

router = APIRouter(prefix="/orders", tags=["v1"], route_class=ContractRoute)

V1StatusQuery = Annotated[V1Status | None, Query(description="Only orders in this status")]
# That version's names for our minAmount/maxAmount (apicore/params.py), the same bounds.
if TYPE_CHECKING:  # what FastAPI hands the route; amount_query builds it at run time
    MinAmount = Decimal | None
    MaxAmount = Decimal | None
else:
    MinAmount = amount_query("min_amount", "Only orders whose total is at least this")
    MaxAmount = amount_query("max_amount", "Only orders whose total is at most this")


@router.get(
    "",
    operation_id="v1ListOrders",
    response_model=V1ListEnvelope[V1Order],
    responses=error_responses(400, 401, 429, *UPSTREAM),
)
async def list_orders(
    clients: ClientsDep,
    identity: IdentityDep,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    status: V1StatusQuery = None,
    min_amount: MinAmount = None,
    max_amount: MaxAmount = None,
) -> EnvelopeResponse:
    """The caller's orders (everyone's for those who read every order), oldest first."""
    checked_amounts(min_amount, max_amount, field="min_amount")
    # /v1 always gave a total (and `total_pages`): asked for, even where it is a count of
    # every match (an amount filter; docs/totals.md).
    params: dict[str, Any] = {
        "limit": per_page,
        "offset": offset_of(page, per_page),
        "total": "true",
    }
    _, owner = policy.visible_order_owner(identity, None)  # None: every order
    if owner is not None:
        params["userId"] = owner
    if status is not None:
        params["status"] = our_status(status)
    if min_amount is not None:
        params["minAmount"] = str(min_amount)
    if max_amount is not None:
        params["maxAmount"] = str(max_amount)
    orders, meta = await clients.orders.orders_page(params)
    items = [v1_order(order) for order in orders]
    return numbered_page(items, total=meta["total"], page=page, per_page=per_page)


@router.post(
    "",
    operation_id="v1CreateOrder",
    status_code=201,
    response_model=Envelope[V1Order],
    responses=error_responses(400, 401, 403, 409, *WRITE_ERRORS, 422, 429, *UPSTREAM),
    dependencies=[Depends(count_create)],
)
async def create_order(
    clients: ClientsDep, identity: IdentityDep, body: V1OrderCreate, key: IdempotencyKey = None
) -> EnvelopeResponse:
    """An order of the caller's; GATEWAY_V1_CREATE_RATE_LIMIT per user."""
    policy.check_create_order(identity, identity.user_id)
    payload = {"user_id": identity.user_id, "items": [item.stored() for item in body.items]}
    scoped = integrity.scoped_key(identity, key)
    created, _ = await integrity.create_order(
        clients, payload, idempotency_key=scoped, acting=identity
    )
    response = ok(v1_order(created.data), status=created.status)
    if created.replayed:
        response.headers["idempotent-replayed"] = "true"
    return response


# The reports come before `/{orderId}`, which would take `stats` for an id.
@router.get(
    "/stats",
    operation_id="v1OrderStats",
    response_model=Envelope[V1OrderStats],
    responses=error_responses(400, 401, 403, 429, *UPSTREAM),
)
async def order_stats(clients: ClientsDep, identity: IdentityDep) -> EnvelopeResponse:
    """Every order's figures: for those who read every order (403 for the others)."""
    if not policy.reads_every_order(identity):
        raise policy.forbidden("Only staff can read every order's figures")
    return ok(v1_stats(await clients.orders.order_stats(user_id=None, first=None, last=None)))


@router.get(
    "/my-stats",
    operation_id="v1MyOrderStats",
    response_model=Envelope[V1OrderStats],
    responses=error_responses(400, 401, 429, *UPSTREAM),
)
async def my_order_stats(clients: ClientsDep, identity: IdentityDep) -> EnvelopeResponse:
    """The figures of the caller's own orders."""
    stats = await clients.orders.order_stats(user_id=identity.user_id, first=None, last=None)
    return ok(v1_stats(stats))


@router.get(
    "/{orderId}",
    operation_id="v1GetOrder",
    response_model=Envelope[V1Order],
    responses=error_responses(400, 401, 404, 429, *UPSTREAM),
)
async def get_order(
    clients: ClientsDep, identity: IdentityDep, order_id: OrderId
) -> EnvelopeResponse:
    order = await clients.orders.get_order(str(order_id))
    if not policy.can_read_order(identity, order):
        raise not_found("Order")
    return ok(v1_order(order))


@router.put(
    "/{orderId}/status",
    operation_id="v1ChangeOrderStatus",
    response_model=Envelope[V1Order],
    responses=error_responses(400, 401, 403, 404, 409, *WRITE_ERRORS, 429, *UPSTREAM),
)
async def change_status(
    clients: ClientsDep, identity: IdentityDep, order_id: OrderId, body: V1StatusChange
) -> EnvelopeResponse:
    """A status change, as the roles table allows (403 otherwise) and the lifecycle (409)."""
    # At the version the caller's access was checked at, and in the history as theirs.
    version = await policy.authorize_order_update(clients, identity, str(order_id))
    order = await clients.orders.update_order(
        str(order_id), {"status": our_status(body.status)}, if_match=version, acting=identity
    )
    return ok(v1_order(order))
