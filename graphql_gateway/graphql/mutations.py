"""Every REST write, through the same integrity layer and access policy as the REST routes.

A write the caller may not make raises FORBIDDEN (or NOT_FOUND for what the caller
cannot see) before any call: the mutation is null with that error at its path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from uuid import UUID

import strawberry

from apicore.errors import PRECONDITION_FAILED, ApiError
from apicore.versions import tag_of_version
from graphql_gateway import integrity
from graphql_gateway.auth import policy
from graphql_gateway.auth.identity import ROLES, Identity
from graphql_gateway.auth.login import (
    auth_is_off,
    count_email_change,
    email_change_refused,
    login,
    logout,
    refresh,
)
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.served import served
from graphql_gateway.graphql.types.auth import LoginResult, LogoutResult
from graphql_gateway.graphql.types.inputs import (
    OrderCreateInput,
    OrderUpdateInput,
    UserCreateInput,
    UserUpdateInput,
    to_payload,
)
from graphql_gateway.graphql.types.order import Order
from graphql_gateway.graphql.types.user import User
from graphql_gateway.types import UserData

Info = strawberry.Info[Context, None]


def _remember(info: Info, user: UserData) -> UserData:
    """A user written in this request is already in hand for the rest of it."""
    info.context.loaders.user_by_id.prime(user["id"], user, force=True)
    return user


def _given(value: str | None) -> str | None:
    return None if value is strawberry.UNSET else value


def _if_match(expected_version: str | None) -> str | None:
    """`expectedVersion` (a `version` read before): the write happens only at that version."""
    if expected_version is None or expected_version is strawberry.UNSET:
        return None
    # Not a tag at all (non-ASCII, a quote): 400 before any call, never a header no
    # service could read (a stale or made-up version is the service's 412).
    return tag_of_version(expected_version, field="expectedVersion")


@contextlib.contextmanager
def _named_expected_version() -> Iterator[None]:
    """A service's 412 names its header (If-Match); a GraphQL client sent `expectedVersion`."""
    try:
        yield
    except ApiError as error:
        if error.code != PRECONDITION_FAILED:
            raise
        raise ApiError(
            PRECONDITION_FAILED,
            "The resource has changed since that version (expectedVersion): read it again",
        ) from None


def _logged_in(info: Info, result: dict) -> LoginResult:
    user = _remember(info, result["user"])
    # The rest of this request (`login { user { orders } }`) runs as the one logged in.
    info.context.identity = Identity(user_id=user["id"], roles=frozenset(user["roles"]) & ROLES)
    return LoginResult(
        access_token=result["access_token"],
        token_type=result["token_type"],
        expires_in=result["expires_in"],
        refresh_token=result["refresh_token"],
        refresh_expires_in=result["refresh_expires_in"],
        user=result["user"],
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Access and refresh tokens for an email and password")
    async def login(self, info: Info, email: str, password: str) -> LoginResult:
        return _logged_in(info, await login(info.context.current_request, email, password))

    @strawberry.mutation(
        description="The next access and refresh tokens; the refresh token sent is spent"
        " (sent again, it ends its session)"
    )
    async def refresh(self, info: Info, refresh_token: str) -> LoginResult:
        return _logged_in(info, await refresh(info.context.current_request, refresh_token))

    @strawberry.mutation(description="End the caller's session: its tokens are refused")
    async def logout(self, info: Info) -> LogoutResult:
        caller = info.context.caller
        if caller.unrestricted:
            raise auth_is_off()
        await logout(info.context.current_request, caller)
        return LogoutResult(session_id=strawberry.ID(caller.session_id or ""))

    @strawberry.mutation
    async def create_user(
        self, info: Info, input: UserCreateInput, idempotency_key: str | None = strawberry.UNSET
    ) -> User:
        caller = info.context.caller
        policy.check_manage_users(caller)
        key = integrity.scoped_key(caller, _given(idempotency_key))
        user = await info.context.clients.users.create_user(to_payload(input), idempotency_key=key)
        return served(_remember(info, user))

    @strawberry.mutation
    async def update_user(
        self,
        info: Info,
        id: UUID,
        input: UserUpdateInput,
        expected_version: str | None = strawberry.UNSET,
    ) -> User:
        payload = to_payload(input)
        caller, request = info.context.caller, info.context.current_request
        policy.check_update_user(caller, str(id), changes_roles="roles" in payload)
        email = payload.get("email")
        counted = isinstance(email, str) and await count_email_change(request, caller, email)
        try:
            with _named_expected_version():
                user = await info.context.clients.users.update_user(
                    str(id), payload, if_match=_if_match(expected_version)
                )
        except ApiError as exc:
            if counted and exc.status == 409:
                await email_change_refused(request)
            raise
        return served(_remember(info, user))

    @strawberry.mutation
    async def delete_user(self, info: Info, id: UUID) -> UUID:
        policy.check_manage_users(info.context.caller)
        deleted = await integrity.delete_user(info.context.clients, str(id))
        # Gone for the rest of this request too.
        info.context.loaders.user_by_id.prime(str(id), None, force=True)
        return UUID(deleted)

    @strawberry.mutation
    async def create_order(
        self, info: Info, input: OrderCreateInput, idempotency_key: str | None = strawberry.UNSET
    ) -> Order:
        caller = info.context.caller
        assignee = input.assignee_id if input.assignee_id is not strawberry.UNSET else None
        policy.check_create_order(caller, str(input.user_id), str(assignee) if assignee else None)
        key = integrity.scoped_key(caller, _given(idempotency_key))
        created, user = await integrity.create_order(
            info.context.clients, to_payload(input), idempotency_key=key, acting=caller
        )
        if user is not None:
            _remember(info, user)
        return created.data

    @strawberry.mutation
    async def update_order(
        self,
        info: Info,
        id: UUID,
        input: OrderUpdateInput,
        expected_version: str | None = strawberry.UNSET,
    ) -> Order:
        clients, caller = info.context.clients, info.context.caller
        payload = to_payload(input)
        version = await policy.authorize_order_update(clients, caller, str(id), payload)
        await integrity.check_new_assignee(clients, payload)
        with _named_expected_version():
            order = await clients.orders.update_order(
                str(id), payload, if_match=_if_match(expected_version) or version, acting=caller
            )
        return served(order)

    @strawberry.mutation
    async def delete_order(self, info: Info, id: UUID) -> UUID:
        caller = info.context.caller
        policy.check_delete_order(caller)
        return UUID(await info.context.clients.orders.delete_order(str(id), acting=caller))
