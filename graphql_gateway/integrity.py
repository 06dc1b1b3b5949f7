"""Cross-service rules, written once for the REST routes and the GraphQL mutations.

- An order is created only for a user that exists (422 USER_NOT_FOUND), and only
  after its body is valid (400 first: the orders service's own schema, checked here).
- A user with active orders (created or in_progress) is not deleted (409
  USER_HAS_ACTIVE_ORDERS); finished orders stay, as history.
- An order's user never changes: the orders service refuses it (400).

These checks and the writes they guard are separate calls to separate
services, so a write racing in between can slip past them; the window is one
round trip.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from apicore.contract.orders import OrderCreate
from apicore.errors import BAD_REQUEST, USER_HAS_ACTIVE_ORDERS, USER_NOT_FOUND, ApiError
from apicore.handlers import translate_validation
from graphql_gateway.clients import Clients
from graphql_gateway.types import OrderData, UserData

ACTIVE_STATUSES = ("created", "in_progress")


async def ensure_user_exists(clients: Clients, user_id: str) -> UserData:
    try:
        return await clients.users.get_user(user_id)
    except ApiError as exc:
        if exc.status == 404:
            raise ApiError(USER_NOT_FOUND, f"User {user_id} does not exist") from None
        raise


def validated_order(payload: Any) -> OrderCreate:
    """The body as the orders service will read it, or its 400 (before any call)."""
    if isinstance(payload, OrderCreate):
        return payload
    if not isinstance(payload, dict):
        raise ApiError(BAD_REQUEST, "Request body must be a JSON object")
    try:
        return OrderCreate.model_validate(payload)
    except ValidationError as exc:
        raise translate_validation(list(exc.errors())) from None


async def create_order(
    clients: Clients, payload: Any, *, raw: bytes | None = None
) -> tuple[OrderData, UserData]:
    """The order, and the user it was checked against: body first, then user, then write.

    `raw` is the body as the client sent it (REST): forwarded byte for byte, so the
    service parses exactly what was validated here. Without it, `payload` is sent.
    """
    order = validated_order(payload)
    user = await ensure_user_exists(clients, str(order.user_id))
    if raw is not None:
        return await clients.orders.create_order_raw(raw), user
    return await clients.orders.create_order(payload), user


async def delete_user(clients: Clients, user_id: str) -> str:
    counts = await asyncio.gather(
        *(clients.orders.count_orders(user_id=user_id, status=s) for s in ACTIVE_STATUSES)
    )
    if sum(counts):
        raise ApiError(
            USER_HAS_ACTIVE_ORDERS,
            f"User has {sum(counts)} active order(s); complete or cancel them first",
        )
    return await clients.users.delete_user(user_id)


async def user_with_orders(clients: Clients, user_id: str) -> tuple[UserData, list[OrderData]]:
    """The user and all of its orders, one call to each service, made concurrently."""
    user, orders = await asyncio.gather(
        clients.users.get_user(user_id),
        clients.orders.get_orders_by_user_ids([user_id]),
        return_exceptions=True,
    )
    # The user's own error (404 first of all) says more than the orders' one.
    for outcome in (user, orders):
        if isinstance(outcome, BaseException):
            raise outcome
    return user, orders  # type: ignore[return-value]
