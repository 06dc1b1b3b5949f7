from __future__ import annotations

import functools
from collections.abc import Sequence

from graphql_gateway import metrics
from graphql_gateway.clients.users import UsersClient
from graphql_gateway.loaders.batching import Loader, Projection, in_chunks
from graphql_gateway.types import UserData


class UserByIdLoader(Loader[str, UserData | None]):
    """Users by id: one `GET /users?ids=…` per batch; a missing user loads as None."""

    def __init__(self, users: UsersClient, projection: Projection) -> None:
        # The batch function holds what it needs, not the loader: no reference cycle, so a
        # request's loaded answers are freed when it ends (docs/performance.md).
        super().__init__(load_fn=functools.partial(_users_by_id, users, projection))


async def _users_by_id(
    users: UsersClient, projection: Projection, ids: Sequence[str]
) -> list[UserData | None]:
    metrics.BATCH_SIZE("user_by_id").observe(len(ids))
    fields = projection.get("User")
    found = await in_chunks(ids, lambda chunk: users.get_users_by_ids(chunk, fields=fields))
    by_id = {user["id"]: user for user in found}
    return [by_id.get(user_id) for user_id in ids]
