"""Cross-service rules, written once for the REST routes and the GraphQL mutations.

- An order is created only for a user that exists (422 USER_NOT_FOUND).
- A user with active orders (created or in_progress) is not deleted (409
  USER_HAS_ACTIVE_ORDERS); finished orders stay, as history.
- An order's user never changes: the orders service refuses it (400).

These checks and the writes they guard are separate calls to separate
services, so a write racing in between can slip past them; the window is one
round trip.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from apicore.errors import USER_HAS_ACTIVE_ORDERS, USER_NOT_FOUND, ApiError
from graphql_gateway.clients import Clients
from graphql_gateway.types import OrderData, UserData

ACTIVE_STATUSES = ("created", "in_progress")


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def ensure_user_exists(clients: Clients, user_id: str) -> UserData:
    try:
        return await clients.users.get_user(user_id)
    except ApiError as exc:
        if exc.status == 404:
            raise ApiError(USER_NOT_FOUND, f"User {user_id} does not exist") from None
        raise


async def create_order(clients: Clients, payload: Any) -> tuple[OrderData, UserData | None]:
    """The order, and the user it was checked against (None when the body had no valid id).

    A malformed body goes straight to the orders service, which says what is wrong.
    """
    user_id = payload.get("user_id") if isinstance(payload, dict) else None
    user = await ensure_user_exists(clients, user_id) if _is_uuid(user_id) else None
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
