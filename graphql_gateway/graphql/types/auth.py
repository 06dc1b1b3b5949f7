from __future__ import annotations

import strawberry

from graphql_gateway.graphql.types.user import User


@strawberry.type(description="A bearer token: send it as `Authorization: Bearer <accessToken>`")
class LoginResult:
    access_token: str
    token_type: str
    expires_in: int = strawberry.field(description="Seconds until the token expires")
    user: User
