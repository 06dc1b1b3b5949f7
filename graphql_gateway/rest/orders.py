"""Legacy REST routes for orders: the original API, envelope and codes, unchanged.

Bodies and query parameters are checked here with the orders service's own contract
(apicore.contract), so nothing malformed or unknown is forwarded: an order's body is
valid (400) before its user is looked up (422 USER_NOT_FOUND).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from apicore.contract.orders import OrderCreate, OrderPartial, OrderPublic, OrderUpdate
from apicore.envelope import Envelope, EnvelopeResponse, IdOnly, ListEnvelope, error_responses, ok
from apicore.params import (
    FieldsQuery,
    Limit,
    Offset,
    ResourceId,
    StatusQuery,
    UserIdQuery,
    UserIdsQuery,
)
from apicore.routing import WRITE_ERRORS, ContractRoute
from graphql_gateway import integrity
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, proxy

router = APIRouter(prefix="/orders", tags=["orders"], route_class=ContractRoute)


@router.get(
    "",
    operation_id="listOrders",
    response_model=ListEnvelope[OrderPublic | OrderPartial],
    responses=error_responses(400, *UPSTREAM),
)
async def list_orders(
    clients: ClientsDep,
    request: Request,
    user_id: UserIdQuery = None,
    user_ids: UserIdsQuery = None,
    status: StatusQuery = None,
    limit: Limit = None,
    offset: Offset = 0,
    fields: FieldsQuery = None,
) -> Response:
    return await proxy(clients.orders, request, "/orders")


@router.post(
    "",
    operation_id="createOrder",
    status_code=201,
    response_model=Envelope[OrderPublic],
    responses=error_responses(400, *WRITE_ERRORS, 422, *UPSTREAM),
)
async def create_order(
    clients: ClientsDep, request: Request, body: OrderCreate
) -> EnvelopeResponse:
    order, _ = await integrity.create_order(clients, body, raw=await request.body())
    return ok(order, status=201)


@router.get(
    "/{id}",
    operation_id="getOrder",
    response_model=Envelope[OrderPublic],
    responses=error_responses(400, 404, *UPSTREAM),
)
async def get_order(clients: ClientsDep, request: Request, order_id: ResourceId) -> Response:
    return await proxy(clients.orders, request, f"/orders/{order_id}")


@router.put(
    "/{id}",
    operation_id="updateOrder",
    response_model=Envelope[OrderPublic],
    responses=error_responses(400, 404, 409, *WRITE_ERRORS, *UPSTREAM),
)
async def update_order(
    clients: ClientsDep, request: Request, order_id: ResourceId, body: OrderUpdate
) -> Response:
    return await proxy(clients.orders, request, f"/orders/{order_id}")


@router.delete(
    "/{id}",
    operation_id="deleteOrder",
    response_model=Envelope[IdOnly],
    responses=error_responses(400, 404, *UPSTREAM),
)
async def delete_order(clients: ClientsDep, request: Request, order_id: ResourceId) -> Response:
    return await proxy(clients.orders, request, f"/orders/{order_id}")
