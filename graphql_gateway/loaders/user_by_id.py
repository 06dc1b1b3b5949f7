from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from graphql_gateway.clients.users import UsersClient
from graphql_gateway.loaders.batching import in_chunks
from graphql_gateway.types import UserData


class UserByIdLoader(DataLoader[str, UserData | None]):
    """Users by id: one `GET /users?ids=…` per batch; a missing user loads as None."""

    def __init__(self, users: UsersClient) -> None:
        self._users = users
        super().__init__(load_fn=self._load)

    async def _load(self, ids: Sequence[str]) -> list[UserData | None]:
        found = await in_chunks(ids, self._users.get_users_by_ids)
        by_id = {user["id"]: user for user in found}
        return [by_id.get(user_id) for user_id in ids]
