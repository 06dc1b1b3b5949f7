"""The roles table (docs/auth.md), written once: REST routes and GraphQL resolvers both ask here.

| action                          | admin | manager | engineer | director | customer | user |
|---------------------------------|-------|---------|----------|----------|----------|------|
| read users                      | all   | all     | all      | all      | self     | self |
| create/delete users, set roles  | yes   | -       | -        | -        | -        | -    |
| update own name, email, password| yes   | yes     | yes      | yes      | yes      | yes  |
| read orders                     | all   | all     | all      | all      | own      | own  |
| read an order's assignee        | all   | all     | all      | all      | own's    | own's|
| create orders                   | any   | any     | own      | -        | -        | own  |
| assign / reassign orders        | any   | any     | -        | -        | -        | -    |
| update orders (items, status)   | any   | any     | own+work | -        | -        | -    |
| move an order's deadline        | any   | any     | -        | -        | -        | -    |
| delete orders                   | yes   | yes     | -        | -        | -        | -    |

`user` is a self-service account, the role of those who register themselves on the /v1
API (rest/v1/): it places its own orders (unassigned or assigned to itself), as that API
let every account do, and otherwise has a customer's rights. A customer watches progress
and places nothing.

"own+work": orders whose user is the engineer and orders assigned to the engineer. An
engineer creating an order for themselves may name only themselves as its assignee, and
sets its first deadline; after that, deadlines and assignees are a manager's.

A caller's permissions are the union of their roles'. Reads are scopes, never errors:
`*_scope()` answers None (everything) or the one user id whose data the caller may read,
and callers turn that into a filter pushed into the downstream request (or applied to a
batch's results), so scoping never adds a downstream call. One resource outside the scope
is 404 NOT_FOUND, as if it did not exist. A write the roles never allow is 403 FORBIDDEN,
decided before any call; a write allowed only on one's own data is checked against the
data: outside the read scope 404, inside it but someone else's 403.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from apicore.errors import FORBIDDEN, ApiError, not_found
from apicore.versions import etag, version_of_timestamp
from graphql_gateway.auth.identity import Identity
from graphql_gateway.clients import Clients

READ_ALL = frozenset({"admin", "manager", "engineer", "director"})
MANAGE_USERS = frozenset({"admin"})
WRITE_ANY_ORDER = frozenset({"admin", "manager"})
WRITE_OWN_ORDERS = frozenset({"engineer"})
CREATE_OWN_ORDERS = WRITE_OWN_ORDERS | {"user"}
# Assign and reassign work, move deadlines: whoever may write any order (check_update_order).
ASSIGN_ORDERS = WRITE_ANY_ORDER
DELETE_ORDERS = frozenset({"admin", "manager"})


def forbidden(message: str) -> ApiError:
    return ApiError(FORBIDDEN, message)


def _has(identity: Identity, roles: frozenset[str]) -> bool:
    return identity.unrestricted or not identity.roles.isdisjoint(roles)


# ------------------------------------------------------------------ reads: scopes


def user_scope(identity: Identity) -> str | None:
    """None: every user is visible; else the only visible user's id (the caller's own)."""
    return None if _has(identity, READ_ALL) else identity.user_id


def order_scope(identity: Identity) -> str | None:
    """None: every order is visible; else the only user id whose orders are visible."""
    return None if _has(identity, READ_ALL) else identity.user_id


def reads_every_user(identity: Identity) -> bool:
    """Whether the caller's reads of users need no check of the user (no filter to add)."""
    return user_scope(identity) is None


def reads_every_order(identity: Identity) -> bool:
    """Whether the caller's reads of orders need no check of the order (no filter to add)."""
    return order_scope(identity) is None


def can_read_user(identity: Identity, user_id: str) -> bool:
    scope = user_scope(identity)
    return scope is None or scope == user_id


def can_read_orders_of(identity: Identity, user_id: str) -> bool:
    """Whether the caller may read the orders whose user is `user_id`."""
    scope = order_scope(identity)
    return scope is None or scope == user_id


def can_read_order(identity: Identity, order: Mapping[str, Any]) -> bool:
    return can_read_orders_of(identity, order["user_id"])


def visible_user_ids(identity: Identity, ids: list[str] | None) -> list[str] | None:
    """The ids filter a caller's user list runs with: None = no filter (everyone visible)."""
    scope = user_scope(identity)
    if scope is None:
        return ids
    return [scope] if ids is None or scope in ids else []


def visible_order_owner(
    identity: Identity, user_id: str | None, among: Collection[str] | None = None
) -> tuple[bool, str | None]:
    """(any visible?, the userId filter to send): a filter outside the scope sees nothing.

    `among`: the owners a batch asks for (REST's `userIds`), of which the caller sees
    their own only; a list without it sees nothing. Ignored when the caller reads every
    order (the list goes to the service as asked)."""
    scope = order_scope(identity)
    if scope is None:
        return True, user_id
    if user_id is not None and user_id != scope:
        return False, None
    if among is not None and scope not in among:
        return False, None
    return True, scope


# ------------------------------------------------------------------ writes: checks


def check_manage_users(identity: Identity) -> None:
    """Creating and deleting users."""
    if not _has(identity, MANAGE_USERS):
        raise forbidden("Only an administrator can create or delete users")


def check_update_user(identity: Identity, user_id: str, *, changes_roles: bool) -> None:
    """Anyone may change their own name, email and password; only admins anyone's roles."""
    if _has(identity, MANAGE_USERS):
        return
    if changes_roles:
        raise forbidden("Only an administrator can change roles")
    if identity.user_id == user_id:
        return
    if not can_read_user(identity, user_id):
        raise not_found("User")
    raise forbidden("You can update only your own profile")


def check_create_order(identity: Identity, user_id: str, assignee_id: str | None = None) -> None:
    if _has(identity, WRITE_ANY_ORDER):
        return
    if _has(identity, CREATE_OWN_ORDERS):
        if identity.user_id != user_id:
            raise forbidden("You can create orders only for yourself")
        if assignee_id is not None and assignee_id != identity.user_id:
            raise forbidden("Only a manager can assign work to someone else")
        return
    raise forbidden("Your roles do not allow creating orders")


def order_update_needs_owner(identity: Identity) -> bool:
    """Whether updating an order needs its owner checked (check_update_order); 403 if never."""
    if _has(identity, WRITE_ANY_ORDER):
        return False
    if _has(identity, WRITE_OWN_ORDERS):
        return True
    raise forbidden("Your roles do not allow updating orders")


def works_on(identity: Identity, order: Mapping[str, Any]) -> bool:
    """The order is the caller's own, or assigned to them."""
    return identity.user_id in (order["user_id"], order.get("assignee_id"))


def check_update_order(
    identity: Identity, order: Mapping[str, Any], changes: dict[str, Any] | None = None
) -> None:
    """For callers who may update only their own work: the order as the service has it, and
    the change (JSON: `due_date` as "YYYY-MM-DD", ids as strings) they ask for."""
    if not order_update_needs_owner(identity):
        return
    if not can_read_order(identity, order):
        raise not_found("Order")
    if not works_on(identity, order):
        raise forbidden("You can update only your own orders and the work assigned to you")
    changes = changes or {}
    # A field sent with the value it has is no change (legacy clients send whole objects).
    if "assignee_id" in changes and changes["assignee_id"] != order.get("assignee_id"):
        raise forbidden("Only a manager can assign or reassign work")
    if "due_date" in changes and changes["due_date"] != order.get("due_date"):
        raise forbidden("Only a manager can move a deadline")


async def authorize_order_update(
    clients: Clients, identity: Identity, order_id: str, changes: dict | None = None
) -> str | None:
    """Before updating an order: 403 for roles that never may, the order checked for
    engineers. Answers the version the check was made against (None: no check was needed).

    Reading the order first costs one call, only for callers limited to their own work.
    Its assignee can change between that read and the write (a manager reassigns it):
    the caller sends the write at the version read (If-Match), so it is refused (412)
    rather than applied to work that is no longer theirs.
    """
    if not order_update_needs_owner(identity):
        return None
    order = await clients.orders.get_order(order_id)
    check_update_order(identity, order, changes)
    return etag(version_of_timestamp(order["updated_at"]))


def check_delete_order(identity: Identity) -> None:
    if not _has(identity, DELETE_ORDERS):
        raise forbidden("Your roles do not allow deleting orders")
