"""Relay-style connections (`usersConnection`, `ordersConnection`): cursor pages.

Resolved from plain dicts (resolvers.py builds them) like every other type here; the
cursors are the services' own (apicore/keyset.py, docs/pagination.md).
"""

from __future__ import annotations

import strawberry

from graphql_gateway.graphql.types.order import Order
from graphql_gateway.graphql.types.user import User


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor (null when there is no edge): send it as `after`"
    )


@strawberry.type
class UserEdge:
    cursor: str
    node: User


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


TOTAL_DESCRIPTION = (
    "Every match, counted only when selected (it costs a count the page itself does not)"
)


@strawberry.type
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo
    total_count: int | None = strawberry.field(description=TOTAL_DESCRIPTION)


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo
    total_count: int | None = strawberry.field(description=TOTAL_DESCRIPTION)
