"""The roles table (SPEC section 8), written once: REST routes and GraphQL resolvers both ask here.

| action                          | admin | manager | engineer | director | customer | user |
|---------------------------------|-------|---------|----------|----------|----------|------|
| read users                      | all   | all     | all      | all      | self     | self |
| create/delete users, set roles  | yes   | -       | -        | -        | -        | -    |
| update own name, email, password| yes   | yes     | yes      | yes      | yes      | yes  |
| read orders                     | all   | all     | all      | all      | own      | own  |
| create orders                   | any   | any     | own      | -        | -        | own  |
| update orders (items, status)   | any   | any     | own      | -        | -        | -    |
| delete orders                   | yes   | yes     | -        | -        | -        | -    |

`user` is a self-service account, the role of those who register themselves on the /v1
API (rest/v1/): it places its own orders, as that API let every account do, and
otherwise has a customer's rights. A customer watches progress and places nothing.

A caller's permissions are the union of their roles'. Reads are scopes, never errors:
`*_scope()` answers None (everything) or the one user id whose data the caller may read,
and callers turn that into a filter pushed into the downstream request (or applied to a
batch's results), so scoping never adds a downstream call. One resource outside the scope
is 404 NOT_FOUND, as if it did not exist. A write the roles never allow is 403 FORBIDDEN,
decided before any call; a write allowed only on one's own data is checked against the
data: outside the read scope 404, inside it but someone else's 403.
"""

from __future__ import annotations

from apicore.errors import FORBIDDEN, ApiError, not_found
from graphql_gateway.auth.identity import Identity
from graphql_gateway.clients import Clients

READ_ALL = frozenset({"admin", "manager", "engineer", "director"})
MANAGE_USERS = frozenset({"admin"})
WRITE_ANY_ORDER = frozenset({"admin", "manager"})
WRITE_OWN_ORDERS = frozenset({"engineer"})
CREATE_OWN_ORDERS = WRITE_OWN_ORDERS | {"user"}
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


def can_read_user(identity: Identity, user_id: str) -> bool:
    scope = user_scope(identity)
    return scope is None or scope == user_id


def can_read_order(identity: Identity, order: dict) -> bool:
    scope = order_scope(identity)
    return scope is None or scope == order["user_id"]


def visible_user_ids(identity: Identity, ids: list[str] | None) -> list[str] | None:
    """The ids filter a caller's user list runs with: None = no filter (everyone visible)."""
    scope = user_scope(identity)
    if scope is None:
        return ids
    return [scope] if ids is None or scope in ids else []


def visible_order_owner(identity: Identity, user_id: str | None) -> tuple[bool, str | None]:
    """(any visible?, the userId filter to send): a filter outside the scope sees nothing."""
    scope = order_scope(identity)
    if scope is None:
        return True, user_id
    if user_id is not None and user_id != scope:
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


def check_create_order(identity: Identity, user_id: str) -> None:
    if _has(identity, WRITE_ANY_ORDER):
        return
    if _has(identity, CREATE_OWN_ORDERS):
        if identity.user_id == user_id:
            return
        raise forbidden("You can create orders only for yourself")
    raise forbidden("Your roles do not allow creating orders")


def order_update_needs_owner(identity: Identity) -> bool:
    """Whether updating an order needs its owner checked (check_update_order); 403 if never."""
    if _has(identity, WRITE_ANY_ORDER):
        return False
    if _has(identity, WRITE_OWN_ORDERS):
        return True
    raise forbidden("Your roles do not allow updating orders")


def check_update_order(identity: Identity, order: dict) -> None:
    """For callers who may update only their own orders: the order as the service has it."""
    if not order_update_needs_owner(identity):
        return
    if not can_read_order(identity, order):
        raise not_found("Order")
    if order["user_id"] != identity.user_id:
        raise forbidden("You can update only your own orders")


async def authorize_order_update(clients: Clients, identity: Identity, order_id: str) -> None:
    """Before updating an order: 403 for roles that never may, the owner checked for engineers.

    Reading the order first costs one call, only for callers limited to their own orders;
    its owner cannot change between that read and the write (user_id never changes).
    """
    if order_update_needs_owner(identity):
        check_update_order(identity, await clients.orders.get_order(order_id))


def check_delete_order(identity: Identity) -> None:
    if not _has(identity, DELETE_ORDERS):
        raise forbidden("Your roles do not allow deleting orders")
