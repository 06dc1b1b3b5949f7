"""Legacy REST routes for orders: the original API, envelope and codes, unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from apicore.envelope import EnvelopeResponse, error_responses, ok
from apicore.params import ResourceId
from graphql_gateway import integrity
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, JsonBody, proxy

router = APIRouter(prefix="/orders", tags=["orders"])


@router.get("", operation_id="listOrders", responses=error_responses(400, *UPSTREAM))
async def list_orders(clients: ClientsDep, request: Request) -> Response:
    return await proxy(clients.orders, request, "/orders")


@router.post(
    "",
    operation_id="createOrder",
    status_code=201,
    responses=error_responses(400, 422, *UPSTREAM),
)
async def create_order(clients: ClientsDep, body: JsonBody) -> EnvelopeResponse:
    order, _ = await integrity.create_order(clients, body)
    return ok(order, status=201)


@router.get("/{id}", operation_id="getOrder", responses=error_responses(400, 404, *UPSTREAM))
async def get_order(clients: ClientsDep, request: Request, order_id: ResourceId) -> Response:
    return await proxy(clients.orders, request, f"/orders/{order_id}")


@router.put(
    "/{id}", operation_id="updateOrder", responses=error_responses(400, 404, 409, *UPSTREAM)
)
async def update_order(clients: ClientsDep, request: Request, order_id: ResourceId) -> Response:
    return await proxy(clients.orders, request, f"/orders/{order_id}")


@router.delete("/{id}", operation_id="deleteOrder", responses=error_responses(400, 404, *UPSTREAM))
async def delete_order(clients: ClientsDep, request: Request, order_id: ResourceId) -> Response:
    return await proxy(clients.orders, request, f"/orders/{order_id}")
