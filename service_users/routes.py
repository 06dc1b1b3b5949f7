from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from apicore.envelope import (
    CursorListEnvelope,
    Envelope,
    EnvelopeResponse,
    IdOnly,
    RawJson,
    cursor_page,
    error_responses,
    ok,
)
from apicore.errors import not_found
from apicore.idempotency import IdempotencyKey, created_response, request_idempotency
from apicore.keyset import AfterQuery, following, starting
from apicore.params import (
    FieldsQuery,
    IdsQuery,
    Limit,
    Offset,
    ResourceId,
    TotalQuery,
    effective_limit,
    parse_fields,
    parse_id_list,
)
from apicore.routing import WRITE_ERRORS, ContractRoute
from apicore.service import EngineDep
from apicore.versions import IfMatch, parse_if_match, with_etag
from service_users import repository
from service_users.models import IDEMPOTENCY_KEYS
from service_users.passwords import hash_password
from service_users.schemas import UserCreate, UserPartial, UserPublic, UserUpdate

KIND = "users"  # the list a cursor is of (apicore/keyset.py)
router = APIRouter(prefix="/users", tags=["users"], route_class=ContractRoute)


@router.get(
    "",
    operation_id="listUsers",
    response_model=CursorListEnvelope[UserPublic | UserPartial],
    responses=error_responses(400),
)
async def list_users(
    engine: EngineDep,
    limit: Limit = None,
    offset: Offset = 0,
    ids: IdsQuery = None,
    fields: FieldsQuery = None,
    after: AfterQuery = None,
    total: TotalQuery = None,  # accepted: meta.total is exact here in any case
) -> EnvelopeResponse:
    id_list = parse_id_list(ids, field="ids")
    size = effective_limit(limit, batch=id_list is not None)
    sort = KIND, *repository.SORT
    keyset = starting(after, offset=offset, kind=KIND, key=sort[1], descending=sort[2])
    found = await repository.list_users(
        engine,
        limit=size,
        offset=offset,
        ids=id_list,
        fields=parse_fields(fields, allowed=repository.PUBLIC_FIELDS),
        keyset=keyset,
    )
    next_page = following(*sort, found.next)
    return cursor_page(
        RawJson(found.text), total=found.total, limit=size, offset=offset, next=next_page
    )


@router.post(
    "",
    operation_id="createUser",
    status_code=201,
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 409, *WRITE_ERRORS, 422),
)
async def create_user(
    engine: EngineDep, request: Request, body: UserCreate, key: IdempotencyKey = None
) -> Response:
    idempotency = request_idempotency(IDEMPOTENCY_KEYS, key, request, await request.body())
    password_hash = await hash_password(body.password) if body.password else None
    created = await repository.create_user(
        engine,
        email=body.email,
        name=body.name,
        roles=body.roles,
        password_hash=password_hash,
        idempotency=idempotency,
    )
    return created_response(created)


@router.get(
    "/{id}",
    operation_id="getUser",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 404),
)
async def get_user(engine: EngineDep, user_id: ResourceId) -> EnvelopeResponse:
    user = await repository.get_user(engine, user_id=user_id)
    if user is None:
        raise not_found("User")
    return with_etag(ok(RawJson(user)), user)


@router.put(
    "/{id}",
    operation_id="updateUser",
    response_model=Envelope[UserPublic],
    responses=error_responses(400, 404, 409, 412, *WRITE_ERRORS),
)
async def update_user(
    engine: EngineDep, user_id: ResourceId, body: UserUpdate, if_match: IfMatch = None
) -> EnvelopeResponse:
    wanted = parse_if_match(if_match)
    changes = body.model_dump(exclude_none=True, exclude={"password"})
    if body.password is not None:
        changes["password_hash"] = await hash_password(body.password)
    user = await repository.update_user(engine, user_id=user_id, changes=changes, if_match=wanted)
    if user is None:
        raise not_found("User")
    return with_etag(ok(RawJson(user)), user)


@router.delete(
    "/{id}",
    operation_id="deleteUser",
    response_model=Envelope[IdOnly],
    responses=error_responses(400, 404, 412),
)
async def delete_user(
    engine: EngineDep, user_id: ResourceId, if_match: IfMatch = None
) -> EnvelopeResponse:
    wanted = parse_if_match(if_match)
    if not await repository.delete_user(engine, user_id=user_id, if_match=wanted):
        raise not_found("User")
    return ok({"id": user_id})
