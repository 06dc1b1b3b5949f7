from __future__ import annotations

import strawberry

from graphql_gateway.graphql.types.user import User


@strawberry.type(description="A bearer token: send it as `Authorization: Bearer <accessToken>`")
class LoginResult:
    access_token: str
    token_type: str
    expires_in: int = strawberry.field(description="Seconds until the access token expires")
    refresh_token: str = strawberry.field(
        description="For `refresh(refreshToken:)`: one use, then spent; used twice, the"
        " session ends"
    )
    refresh_expires_in: int = strawberry.field(
        description="Seconds the session lasts unless refreshed"
    )
    user: User


@strawberry.type(description="A session ended by `logout`")
class LogoutResult:
    session_id: strawberry.ID
