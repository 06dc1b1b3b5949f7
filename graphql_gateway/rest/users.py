"""Legacy REST routes for users: the original API, envelope and codes, unchanged.

Bodies and query parameters are checked here with the users service's own contract
(apicore.contract), so nothing malformed or unknown is forwarded; what is forwarded
is the request as it came.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from apicore.contract.orders import OrderPublic
from apicore.contract.users import UserCreate, UserPartial, UserPublic, UserUpdate
from apicore.envelope import Envelope, EnvelopeResponse, IdOnly, ListEnvelope, error_responses, ok
from apicore.params import FieldsQuery, IdsQuery, Limit, Offset, ResourceId
from apicore.routing import WRITE_ERRORS, ContractRoute
from graphql_gateway import integrity
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, proxy

router = APIRouter(prefix="/users", tags=["users"], route_class=ContractRoute)


class UserDetails(BaseModel):
    user: UserPublic
    orders: list[OrderPublic]


@router.get(
    "",
    operation_id="listUsers",
    response_model=ListEnvelope[UserPublic | UserPartial],
    responses=error_responses(400, *UPSTREAM),
)
async def list_users(
    clients: ClientsDep,
    request: Request,
    limit: Limit = None,
    offset: Offset = 0,
    ids: IdsQuery = None,
    fields: FieldsQuery = None,
) -> Response:
    return await proxy(clients.users, request, "/users")


@router.post(
    "",
    operation_id="createUser",
    status_code=201,
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 409, *WRITE_ERRORS, *UPSTREAM),
)
async def create_user(clients: ClientsDep, request: Request, body: UserCreate) -> Response:
    return await proxy(clients.users, request, "/users")


@router.get(
    "/{id}",
    operation_id="getUser",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 404, *UPSTREAM),
)
async def get_user(clients: ClientsDep, request: Request, user_id: ResourceId) -> Response:
    return await proxy(clients.users, request, f"/users/{user_id}")


@router.put(
    "/{id}",
    operation_id="updateUser",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 404, 409, *WRITE_ERRORS, *UPSTREAM),
)
async def update_user(
    clients: ClientsDep, request: Request, user_id: ResourceId, body: UserUpdate
) -> Response:
    return await proxy(clients.users, request, f"/users/{user_id}")


@router.delete(
    "/{id}",
    operation_id="deleteUser",
    response_model=Envelope[IdOnly],
    responses=error_responses(400, 404, 409, *UPSTREAM),
)
async def delete_user(clients: ClientsDep, user_id: ResourceId) -> EnvelopeResponse:
    return ok({"id": await integrity.delete_user(clients, str(user_id))})


@router.get(
    "/{id}/details",
    operation_id="getUserDetails",
    response_model=Envelope[UserDetails],
    responses=error_responses(400, 404, *UPSTREAM),
)
async def user_details(clients: ClientsDep, user_id: ResourceId) -> EnvelopeResponse:
    user, orders = await integrity.user_with_orders(clients, str(user_id))
    return ok({"user": user, "orders": orders})
