"""Cross-service rules, written once for the REST routes and the GraphQL mutations.

- An order is created only for a user that exists (422 USER_NOT_FOUND), and only
  after its body is valid (400 first: the orders service's own schema, checked here).
- A user with active orders (created or in_progress) is not deleted (409
  USER_HAS_ACTIVE_ORDERS); finished orders stay, as history.
- An order's user never changes: the orders service refuses it (400).
- An order is assigned only to a user that exists (422 USER_NOT_FOUND), checked like its
  user, on create and on every change of assignee.
- A user to whom active orders are assigned is not deleted either (409
  USER_HAS_ACTIVE_ORDERS: reassign them first); finished ones keep their assignee.
- No order ever points at a deleted user, however the two requests race; no active order
  is assigned to one either (the assignee's book is held the same way, books.py).

The last one cannot be a check here: the user is in one service and the orders in
another, and a check then a write leaves a window (a delete racing an order's creation
used to orphan it 99 times in 100). The two writes meet in the orders service instead, on
the user's order book (service_orders/books.py): an order is created only while the
book is open, in the order's own transaction; deleting a user is a short saga:

1. close the user's book: from now on no order can be created for them; this waits for
   orders being created right now, then refuses (409, book left open) if any is active;
2. delete the user in the users service;
3. if that failed (the service is down, timed out): if the user is still there, reopen the
   book and answer the error; if it is gone (only the answer was lost), it was deleted;
   if that cannot be told, the book stays closed (see below).

Each step is idempotent, so a delete that died halfway is finished by running it again.
One that died between 1 and 3 (this process killed) leaves the user with a closed book:
their next order finds it closed longer than a delete can take (`delete_stale_after`),
sees the user still there, reopens the book and goes ahead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from aiobreaker import CircuitBreakerError
from pydantic import ValidationError

from apicore.contract.orders import OrderCreate
from apicore.errors import BAD_REQUEST, USER_NOT_FOUND, ApiError
from apicore.handlers import translate_validation
from apicore.idempotency import checked_key
from apicore.versions import checked_if_match
from graphql_gateway.auth.identity import Identity
from graphql_gateway.clients import Clients
from graphql_gateway.clients.admission import Overloaded
from graphql_gateway.clients.base import Upstream
from graphql_gateway.clients.breaker import CircuitOpenError
from graphql_gateway.types import OrderData, UserData

logger = logging.getLogger("graphql_gateway.integrity")


async def ensure_user_exists(clients: Clients, user_id: str) -> UserData:
    try:
        return await clients.users.get_user(user_id)
    except ApiError as exc:
        if exc.status == 404:
            raise ApiError(USER_NOT_FOUND, f"User {user_id} does not exist") from None
        raise


async def ensure_users_exist(clients: Clients, *user_ids: str) -> list[UserData]:
    """Each user (an order's user and assignee), looked up concurrently: the first missing
    one's 422 USER_NOT_FOUND, in the order given."""
    found = await asyncio.gather(
        *(ensure_user_exists(clients, user_id) for user_id in user_ids), return_exceptions=True
    )
    users: list[UserData] = []
    for outcome in found:
        if isinstance(outcome, BaseException):
            raise outcome
        users.append(outcome)
    return users


async def check_new_assignee(clients: Clients, changes: dict[str, Any]) -> None:
    """An update that assigns the order to someone: they exist (422 USER_NOT_FOUND)."""
    assignee = changes.get("assignee_id")
    if assignee is not None:
        await ensure_user_exists(clients, str(assignee))


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


def scoped_key(identity: Identity, key: str | None) -> str | None:
    """The client's Idempotency-Key as the services store it: the caller's own.

    Two callers who happen to pick the same key must never be answered each other's
    creates: the key is bound to the caller (with auth off, everyone is one caller).
    """
    key = checked_key(key)
    if key is None:
        return None
    return hashlib.sha256(f"{identity.user_id}\0{key}".encode()).hexdigest()


async def create_order(
    clients: Clients,
    payload: Any,
    *,
    raw: bytes | None = None,
    idempotency_key: str | None = None,
    acting: Identity | None = None,
) -> tuple[Upstream, UserData]:
    """The order's answer, and the user it was checked against: body, then user, then write.

    `raw` is the body as the client sent it (REST): forwarded byte for byte, so the
    service parses exactly what was validated here. Without it, `payload` is sent.
    `idempotency_key` (scoped_key): the service creates it once, and replays after.
    """
    order = validated_order(payload)
    user_id = str(order.user_id)
    if order.assignee_id is None:
        user = await ensure_user_exists(clients, user_id)
    else:  # both looked up at once; the user's 422 first when neither exists
        user, _ = await ensure_users_exist(clients, user_id, str(order.assignee_id))
    key = idempotency_key

    async def create() -> Upstream:
        if raw is not None:
            return await clients.orders.create_order_raw(raw, idempotency_key=key, acting=acting)
        return await clients.orders.create_order(payload, idempotency_key=key, acting=acting)

    try:
        return await create(), user
    except ApiError as exc:
        # A book is closed: a delete of this user (or the assignee) is under way, or died
        # halfway.
        if exc.code != USER_NOT_FOUND:
            raise
        people = [user_id] if order.assignee_id is None else [user_id, str(order.assignee_id)]
        reopened = [await _reopened_if_stale(clients, person) for person in people]
        if not any(reopened):
            raise
    return await create(), user


async def _reopened_if_stale(clients: Clients, user_id: str) -> bool:
    """Reopen a user's book that a dead delete left closed; False if a delete may be running."""
    book = await clients.orders.order_book(user_id)
    if not book["closed"] or book["closed_for_s"] < clients.delete_stale_after:
        return False
    await ensure_user_exists(clients, user_id)  # deleted meanwhile: 422 after all
    logger.warning("Reopening the order book of user %s, left closed by a delete", user_id)
    # Only the stale close: a delete that closed it again meanwhile keeps it closed (and
    # the retried create is refused, as it must be).
    await clients.orders.reopen_order_book(user_id, if_closed_at=book["closed_at"])
    return True


async def delete_user(clients: Clients, user_id: str, *, if_match: str | None = None) -> str:
    """The saga above: close the user's order book, delete the user, reopen if that failed.

    `if_match` goes to the users service's delete: a stale one is 412, and the book reopens.
    Whatever can be refused without the services is refused before the book is closed:
    an If-Match no service could read is 400 here (REST refuses it earlier still, in
    apicore/headers.py; GraphQL's `expectedVersion` comes this way too).
    """
    checked_if_match(if_match)
    await clients.users.get_user(user_id)  # 404 first, and no book for someone who never was
    # 409 while the user has active orders. The close's stamp names this delete's close: the
    # reopen below undoes only it, never the close of a delete that came after (which may
    # have deleted the user meanwhile: reopening its book would let orphans in).
    closed = await clients.orders.close_order_book(user_id)
    try:
        return await clients.users.delete_user(user_id, if_match=if_match)
    except ApiError as exc:
        if exc.status == 404:
            raise  # nobody to delete: a closed book for no user is no harm
        failure: Exception = exc
    except Exception as exc:
        # Not an answer of the service (a request that could not be sent, a bug): asked
        # about like any failure below, so the book never stays closed for a user who is
        # still there; the error itself still reaches the client (a 500).
        failure = exc
    if _never_sent(failure):
        # Shed in the gateway's queue, or refused by an open circuit: the users service was
        # not asked, so the user is certainly still there (and asking now would most likely
        # be refused the same way, leaving the book closed for nothing).
        await _reopen_after(clients, user_id, closed, failure)
        raise failure
    # The delete failed, or only its answer did (a timeout after the service deleted): ask.
    try:
        await clients.users.get_user(user_id)
    except ApiError as exc:
        if exc.status == 404:
            return user_id  # it was deleted after all: the book stays closed, as it must
        # Unknown: leave the book closed; the user's next order reopens it if it is stale.
        logger.warning("Order book of user %s left closed after %r", user_id, failure)
        raise failure from None
    await _reopen_after(clients, user_id, closed, failure)
    raise failure


def _never_sent(failure: Exception) -> bool:
    """A call refused before any byte went to the service (clients/admission.py, an open
    circuit): it certainly did nothing."""
    cause = failure.__cause__
    if isinstance(cause, CircuitBreakerError):  # aiobreaker's own refusal: nothing sent
        return cause.__cause__ is None
    return isinstance(cause, Overloaded | CircuitOpenError)


async def _reopen_after(
    clients: Clients, user_id: str, closed: dict[str, Any], failure: Exception
) -> None:
    """Reopen the book this delete closed (only that close: see delete_user)."""
    try:
        await clients.orders.reopen_order_book(user_id, if_closed_at=closed["closed_at"])
    except ApiError:
        # Left closed: the user's next order reopens it once it is stale (see above).
        logger.warning("Could not reopen the order book of user %s after %r", user_id, failure)


async def user_with_orders(clients: Clients, user_id: str) -> tuple[UserData, list[OrderData]]:
    """The user and all of its orders, one call to each service, made concurrently."""
    user, orders = await asyncio.gather(
        clients.users.get_user(user_id),
        clients.orders.get_orders_by_user_ids([user_id]),
        return_exceptions=True,
    )
    # The user's own error (404 first of all) says more than the orders' one.
    if isinstance(user, BaseException):
        raise user
    if isinstance(orders, BaseException):
        raise orders
    return user, orders
