"""Legacy REST routes for users: the original API, envelope and codes, unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from apicore.envelope import EnvelopeResponse, error_responses, ok
from apicore.params import ResourceId
from graphql_gateway import integrity
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, proxy

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", operation_id="listUsers", responses=error_responses(400, *UPSTREAM))
async def list_users(clients: ClientsDep, request: Request) -> Response:
    return await proxy(clients.users, request, "/users")


@router.post(
    "", operation_id="createUser", status_code=201, responses=error_responses(400, 409, *UPSTREAM)
)
async def create_user(clients: ClientsDep, request: Request) -> Response:
    return await proxy(clients.users, request, "/users")


@router.get("/{id}", operation_id="getUser", responses=error_responses(400, 404, *UPSTREAM))
async def get_user(clients: ClientsDep, request: Request, user_id: ResourceId) -> Response:
    return await proxy(clients.users, request, f"/users/{user_id}")


@router.put("/{id}", operation_id="updateUser", responses=error_responses(400, 404, 409, *UPSTREAM))
async def update_user(clients: ClientsDep, request: Request, user_id: ResourceId) -> Response:
    return await proxy(clients.users, request, f"/users/{user_id}")


@router.delete(
    "/{id}", operation_id="deleteUser", responses=error_responses(400, 404, 409, *UPSTREAM)
)
async def delete_user(clients: ClientsDep, user_id: ResourceId) -> EnvelopeResponse:
    return ok({"id": await integrity.delete_user(clients, str(user_id))})


@router.get(
    "/{id}/details",
    operation_id="getUserDetails",
    responses=error_responses(400, 404, *UPSTREAM),
)
async def user_details(clients: ClientsDep, user_id: ResourceId) -> EnvelopeResponse:
    user, orders = await integrity.user_with_orders(clients, str(user_id))
    return ok({"user": user, "orders": orders})
