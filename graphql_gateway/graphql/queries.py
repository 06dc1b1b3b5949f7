from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from apicore.finding import Finding
from graphql_gateway.graphql import resolvers
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.served import served
from graphql_gateway.graphql.types.connections import OrderConnection, UserConnection
from graphql_gateway.graphql.types.enums import OrderStatus
from graphql_gateway.graphql.types.order import Order
from graphql_gateway.graphql.types.pages import OrderPage, UserPage
from graphql_gateway.graphql.types.stats import DayStats, OrderStats
from graphql_gateway.graphql.types.user import User

Info = strawberry.Info[Context, None]
AfterArgument = Annotated[
    str | None,
    strawberry.argument(description="An edge's cursor (`pageInfo.endCursor`): the edges after it"),
]
CONNECTION_DESCRIPTION = (
    "Cursor pages (Relay): `first` edges after the cursor `after`; the same rows, scope and"
    " sort as the list, and a page costs the same however deep (docs/pagination.md)"
)


# The filters `orders(...)` and `ordersConnection(...)` both take (apicore/finding.py).
OverdueArgument = Annotated[
    bool | None,
    strawberry.argument(description="true: only overdue orders; false: only the others"),
]
AssigneeArgument = Annotated[
    UUID | None, strawberry.argument(description="Only orders assigned to this user")
]
SortArgument = Annotated[
    str | None,
    strawberry.argument(
        description="created_at (default), updated_at, due_date or total_amount;"
        " a leading `-` sorts descending; ties by id"
    ),
]
StatusesArgument = Annotated[
    list[OrderStatus] | None,
    strawberry.argument(description="Orders in any of these statuses"),
]
CreatedFromArgument = Annotated[
    date | None, strawberry.argument(description="Created on or after (UTC day)")
]
CreatedToArgument = Annotated[
    date | None, strawberry.argument(description="Created on or before (UTC day)")
]
DueFromArgument = Annotated[date | None, strawberry.argument(description="Due on or after")]
DueToArgument = Annotated[date | None, strawberry.argument(description="Due on or before")]
SearchArgument = Annotated[
    str | None,
    strawberry.argument(description="Case-insensitive search in the items' products"),
]


def _finding(
    sort: str | None,
    statuses: list[OrderStatus] | None,
    created_from: date | None,
    created_to: date | None,
    due_from: date | None,
    due_to: date | None,
    q: str | None,
) -> Finding:
    """The filters as the resolvers take them (an argument left out arrives as UNSET)."""
    return resolvers.finding_of(
        sort=sort or None,
        statuses=None if statuses in (None, strawberry.UNSET) else [s.value for s in statuses],
        created_from=created_from or None,
        created_to=created_to or None,
        due_from=due_from or None,
        due_to=due_to or None,
        q=None if q is strawberry.UNSET else q,
    )


def selects(info: Info, name: str) -> bool:
    """Whether the operation reads `name` of this field's object (through fragments too).

    `total` is asked of a service only when read (docs/totals.md); the compiled plan reads
    the same from its field plans (compiled.py `wants_total`).
    """

    def among(selections: list[Selection]) -> bool:
        for selection in selections:
            if isinstance(selection, SelectedField):
                if selection.name == name:
                    return True
            elif among(selection.selections):  # a fragment: its fields are this object's
                return True
        return False

    return any(among(each.selections) for each in info.selected_fields)


@strawberry.type
class Query:
    @strawberry.field(description="The caller (null when nobody is logged in or auth is off)")
    async def me(self, info: Info) -> User | None:
        return served(await resolvers.me(info.context))

    @strawberry.field
    async def user(self, info: Info, id: UUID) -> User | None:
        return served(await resolvers.user(info.context, str(id)))

    @strawberry.field
    async def users(
        self,
        info: Info,
        limit: int = 100,
        offset: int = 0,
        ids: list[UUID] | None = strawberry.UNSET,
    ) -> UserPage:
        # Absent or null: no filter. A list, even an empty one: exactly those users.
        id_list = None if ids is None or ids is strawberry.UNSET else [str(i) for i in ids]
        found = await resolvers.users(
            info.context,
            limit=limit,
            offset=offset,
            ids=id_list,
            want_total=selects(info, "total"),
        )
        return served(found)

    @strawberry.field
    async def order(self, info: Info, id: UUID) -> Order | None:
        return served(await resolvers.order(info.context, str(id)))

    @strawberry.field
    async def orders(
        self,
        info: Info,
        user_id: UUID | None = strawberry.UNSET,
        status: OrderStatus | None = strawberry.UNSET,
        limit: int = 100,
        offset: int = 0,
        overdue: OverdueArgument = strawberry.UNSET,
        assignee_id: AssigneeArgument = strawberry.UNSET,
        sort: SortArgument = strawberry.UNSET,
        statuses: StatusesArgument = strawberry.UNSET,
        created_from: CreatedFromArgument = strawberry.UNSET,
        created_to: CreatedToArgument = strawberry.UNSET,
        due_from: DueFromArgument = strawberry.UNSET,
        due_to: DueToArgument = strawberry.UNSET,
        q: SearchArgument = strawberry.UNSET,
    ) -> OrderPage:
        found = await resolvers.orders(
            info.context,
            user_id=str(user_id) if user_id else None,
            status=status.value if status else None,
            limit=limit,
            offset=offset,
            overdue=None if overdue is strawberry.UNSET else overdue,
            assignee_id=str(assignee_id) if assignee_id else None,
            finding=_finding(sort, statuses, created_from, created_to, due_from, due_to, q),
            want_total=selects(info, "total"),
        )
        return served(found)

    @strawberry.field(description=CONNECTION_DESCRIPTION)
    async def users_connection(
        self,
        info: Info,
        first: int = 100,
        after: AfterArgument = strawberry.UNSET,
        ids: list[UUID] | None = strawberry.UNSET,
    ) -> UserConnection:
        id_list = None if ids is None or ids is strawberry.UNSET else [str(i) for i in ids]
        found = await resolvers.users_connection(
            info.context,
            first=first,
            after=None if after is strawberry.UNSET else after,
            ids=id_list,
            total=selects(info, "totalCount"),
        )
        return served(found)

    @strawberry.field(description=CONNECTION_DESCRIPTION)
    async def orders_connection(
        self,
        info: Info,
        first: int = 100,
        after: AfterArgument = strawberry.UNSET,
        user_id: UUID | None = strawberry.UNSET,
        status: OrderStatus | None = strawberry.UNSET,
        overdue: OverdueArgument = strawberry.UNSET,
        assignee_id: AssigneeArgument = strawberry.UNSET,
        sort: SortArgument = strawberry.UNSET,
        statuses: StatusesArgument = strawberry.UNSET,
        created_from: CreatedFromArgument = strawberry.UNSET,
        created_to: CreatedToArgument = strawberry.UNSET,
        due_from: DueFromArgument = strawberry.UNSET,
        due_to: DueToArgument = strawberry.UNSET,
        q: SearchArgument = strawberry.UNSET,
    ) -> OrderConnection:
        found = await resolvers.orders_connection(
            info.context,
            first=first,
            after=None if after is strawberry.UNSET else after,
            total=selects(info, "totalCount"),
            user_id=str(user_id) if user_id else None,
            status=status.value if status else None,
            overdue=None if overdue is strawberry.UNSET else overdue,
            assignee_id=str(assignee_id) if assignee_id else None,
            finding=_finding(sort, statuses, created_from, created_to, due_from, due_to, q),
        )
        return served(found)

    @strawberry.field(
        description="Counts and amounts of the orders (of one user; created from/to, whole UTC"
        " days, both included), computed by the orders service in one SQL query"
    )
    async def order_stats(
        self,
        info: Info,
        user_id: UUID | None = strawberry.UNSET,
        first: Annotated[date | None, strawberry.argument(name="from")] = strawberry.UNSET,
        to: date | None = strawberry.UNSET,
    ) -> OrderStats:
        found = await resolvers.order_stats(
            info.context,
            user_id=str(user_id) if user_id else None,
            first=first or None,
            last=to or None,
        )
        return served(found)

    @strawberry.field(
        description="Orders created and completed on each UTC day from/to (default: the last 30"
        " days; 366 at most), for progress charts"
    )
    async def orders_by_day(
        self,
        info: Info,
        first: Annotated[date | None, strawberry.argument(name="from")] = strawberry.UNSET,
        to: date | None = strawberry.UNSET,
        user_id: UUID | None = strawberry.UNSET,
    ) -> list[DayStats]:
        found = await resolvers.orders_by_day(
            info.context,
            user_id=str(user_id) if user_id else None,
            first=first or None,
            last=to or None,
        )
        return served(found)
