from __future__ import annotations

from collections.abc import Sequence

from graphql_gateway import metrics
from graphql_gateway.clients.users import UsersClient
from graphql_gateway.loaders.batching import Loader, Projection, in_chunks
from graphql_gateway.types import UserData


class UserByIdLoader(Loader[str, UserData | None]):
    """Users by id: one `GET /users?ids=…` per batch; a missing user loads as None."""

    def __init__(self, users: UsersClient, projection: Projection) -> None:
        self._users = users
        self._projection = projection
        super().__init__(load_fn=self._load)

    async def _load(self, ids: Sequence[str]) -> list[UserData | None]:
        metrics.BATCH_SIZE("user_by_id").observe(len(ids))
        fields = self._projection.get("User")
        found = await in_chunks(
            ids, lambda chunk: self._users.get_users_by_ids(chunk, fields=fields)
        )
        by_id = {user["id"]: user for user in found}
        return [by_id.get(user_id) for user_id in ids]
