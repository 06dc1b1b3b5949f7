from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from graphql_gateway.clients.base import ServiceClient
from graphql_gateway.types import PageMeta, UserData


class UsersClient(ServiceClient):
    async def get_user(self, user_id: str) -> UserData:
        return cast("UserData", (await self.fetch("GET", f"/users/{user_id}")).data)

    async def get_users_by_ids(
        self, ids: Iterable[str], *, fields: str | None = None
    ) -> list[UserData]:
        """Every user among `ids` (at most 500), in no particular order; only `fields` if given."""
        params = {"ids": ",".join(ids)}
        if fields is not None:
            params["fields"] = fields
        return cast("list[UserData]", (await self.fetch("GET", "/users", params=params)).data)

    async def list_users(
        self,
        *,
        limit: int,
        offset: int,
        fields: str | None = None,
        ids: Iterable[str] | None = None,
        after: str | None = None,
        total: bool = False,
    ) -> tuple[list[UserData], PageMeta]:
        """A page of users; `after`: the page after that cursor; `total`: ask for an exact
        `meta.total` even where it costs a count (docs/pagination.md)."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if fields is not None:
            params["fields"] = fields
        if ids is not None:
            params["ids"] = ",".join(ids)
        if after is not None:
            params["after"] = after
        if total:
            params["total"] = "true"
        body = (await self.fetch("GET", "/users", params=params)).body
        return body["data"], body["meta"]

    async def verify_credentials(self, email: str, password: str) -> UserData:
        """The public user whose credentials these are; 401 INVALID_CREDENTIALS otherwise."""
        payload = {"email": email, "password": password}
        return cast(
            "UserData",
            (await self.fetch("POST", "/internal/credentials/verify", json=payload)).data,
        )

    async def start_session(self, email: str, password: str) -> dict[str, Any]:
        """A new session for these credentials: `{session_id, refresh_token,
        refresh_expires_in, user}`; 401 INVALID_CREDENTIALS otherwise."""
        payload = {"email": email, "password": password}
        return cast(
            "dict[str, Any]", (await self.fetch("POST", "/internal/sessions", json=payload)).data
        )

    async def refresh_session(self, refresh_token: str) -> dict[str, Any]:
        """The session's next refresh token, as start_session answers; 401 otherwise."""
        payload = {"refresh_token": refresh_token}
        return cast(
            "dict[str, Any]",
            (await self.fetch("POST", "/internal/sessions/refresh", json=payload)).data,
        )

    async def get_session(self, session_id: str) -> dict[str, Any]:
        """`{id, user_id, roles}` of a session that stands; 404 once it has ended."""
        return cast(
            "dict[str, Any]", (await self.fetch("GET", f"/internal/sessions/{session_id}")).data
        )

    async def end_session(self, session_id: str) -> None:
        await self.fetch("DELETE", f"/internal/sessions/{session_id}")

    async def create_user(
        self, payload: dict[str, Any], *, idempotency_key: str | None = None
    ) -> UserData:
        return cast(
            "UserData",
            (
                await self.fetch("POST", "/users", json=payload, idempotency_key=idempotency_key)
            ).data,
        )

    async def update_user(
        self, user_id: str, payload: dict[str, Any], *, if_match: str | None = None
    ) -> UserData:
        return cast(
            "UserData",
            (await self.fetch("PUT", f"/users/{user_id}", json=payload, if_match=if_match)).data,
        )

    async def delete_user(self, user_id: str, *, if_match: str | None = None) -> str:
        return cast(
            "str", (await self.fetch("DELETE", f"/users/{user_id}", if_match=if_match)).data["id"]
        )
