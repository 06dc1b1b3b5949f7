"""Legacy REST routes for users: the original API, envelope and codes, unchanged.

Bodies and query parameters are checked here with the users service's own contract
(apicore.contract), so nothing malformed or unknown is forwarded; what is forwarded
is the request as it came.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from apicore.contract.orders import OrderPublic
from apicore.contract.users import UserCreate, UserPartial, UserPublic, UserUpdate
from apicore.envelope import (
    CursorListEnvelope,
    Envelope,
    EnvelopeResponse,
    IdOnly,
    cursor_page,
    error_responses,
    ok,
)
from apicore.errors import not_found
from apicore.idempotency import IdempotencyKey
from apicore.keyset import AfterQuery, starting
from apicore.params import (
    FieldsQuery,
    IdsQuery,
    Limit,
    Offset,
    ResourceId,
    TotalQuery,
    effective_limit,
    parse_id_list,
)
from apicore.routing import WRITE_ERRORS, ContractRoute
from apicore.versions import IfMatch
from graphql_gateway import integrity
from graphql_gateway.auth import policy
from graphql_gateway.auth.login import count_email_change, email_change_refused
from graphql_gateway.rest.deps import UPSTREAM, ClientsDep, IdentityDep, proxy

router = APIRouter(prefix="/users", tags=["users"], route_class=ContractRoute)


class UserDetails(BaseModel):
    user: UserPublic
    orders: list[OrderPublic]


@router.get(
    "",
    operation_id="listUsers",
    response_model=CursorListEnvelope[UserPublic | UserPartial],
    responses=error_responses(400, 401, *UPSTREAM),
)
async def list_users(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    limit: Limit = None,
    offset: Offset = 0,
    ids: IdsQuery = None,
    fields: FieldsQuery = None,
    total: TotalQuery = None,
    after: AfterQuery = None,
) -> Response:
    starting(after, offset=offset, kind="users", key="created_at", descending=False)  # 400 here
    if policy.reads_every_user(identity):
        return await proxy(clients.users, request, "/users")
    # The caller sees only themselves: the same page, filtered by the service.
    asked = parse_id_list(ids, field="ids")
    batch = asked is not None
    visible = policy.visible_user_ids(
        identity, None if asked is None else [str(each) for each in asked]
    )
    if not visible:
        size = effective_limit(limit, batch=batch)
        return cursor_page([], total=0, limit=size, offset=offset, next=None)
    query: dict[str, object] = {"ids": ",".join(visible), "offset": offset}
    if after is not None:
        query["after"] = after
    size = effective_limit(limit, batch=batch)
    if size is not None:
        query["limit"] = size
    if fields is not None:
        query["fields"] = fields
    if total is not None:
        query["total"] = total
    return await proxy(clients.users, request, "/users", query=urlencode(query).encode())


@router.post(
    "",
    operation_id="createUser",
    status_code=201,
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 401, 403, 409, *WRITE_ERRORS, 422, *UPSTREAM),
)
async def create_user(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    body: UserCreate,
    key: IdempotencyKey = None,
) -> Response:
    policy.check_manage_users(identity)
    scoped = integrity.scoped_key(identity, key)
    return await proxy(clients.users, request, "/users", idempotency_key=scoped)


# Most `GET /users/{id}` never reach this route: its plain form (no query string, a
# lower-case id, a caller who reads every user) is answered before FastAPI's routing by
# `Passthrough` (rest/passthrough.py), with the same call and the same answer. get_user()
# answers every other form: an upper-case id, a query string (400), a caller limited to
# their own profile (404 for another's). Both paths: tests/graphql_gateway/test_passthrough.py.
@router.get(
    "/{id}",
    operation_id="getUser",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 401, 404, *UPSTREAM),
)
async def get_user(
    clients: ClientsDep, identity: IdentityDep, request: Request, user_id: ResourceId
) -> Response:
    if not policy.can_read_user(identity, str(user_id)):
        raise not_found("User")
    return await proxy(clients.users, request, f"/users/{user_id}")


@router.put(
    "/{id}",
    operation_id="updateUser",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 401, 403, 404, 409, 412, *WRITE_ERRORS, *UPSTREAM),
)
async def update_user(
    clients: ClientsDep,
    identity: IdentityDep,
    request: Request,
    user_id: ResourceId,
    body: UserUpdate,
    if_match: IfMatch = None,
) -> Response:
    changes_roles = "roles" in body.model_fields_set
    policy.check_update_user(identity, str(user_id), changes_roles=changes_roles)
    counted = body.email is not None and await count_email_change(request, identity, body.email)
    response = await proxy(clients.users, request, f"/users/{user_id}")
    if counted and response.status_code == 409:
        await email_change_refused(request)
    return response


@router.delete(
    "/{id}",
    operation_id="deleteUser",
    response_model=Envelope[IdOnly],
    responses=error_responses(400, 401, 403, 404, 409, 412, *UPSTREAM),
)
async def delete_user(
    clients: ClientsDep, identity: IdentityDep, user_id: ResourceId, if_match: IfMatch = None
) -> EnvelopeResponse:
    policy.check_manage_users(identity)
    deleted = await integrity.delete_user(clients, str(user_id), if_match=if_match)
    return ok({"id": deleted})


@router.get(
    "/{id}/details",
    operation_id="getUserDetails",
    response_model=Envelope[UserDetails],
    responses=error_responses(400, 401, 404, *UPSTREAM),
)
async def user_details(
    clients: ClientsDep, identity: IdentityDep, user_id: ResourceId
) -> EnvelopeResponse:
    # Whoever may read the user may read all of its orders (the roles table's scopes agree).
    if not policy.can_read_user(identity, str(user_id)):
        raise not_found("User")
    user, orders = await integrity.user_with_orders(clients, str(user_id))
    return ok({"user": user, "orders": orders})
