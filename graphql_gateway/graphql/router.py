from __future__ import annotations

import orjson
from strawberry.fastapi import GraphQLRouter

from graphql_gateway.config import Settings
from graphql_gateway.graphql.context import get_context
from graphql_gateway.graphql.schema import build_schema


class GatewayGraphQLRouter(GraphQLRouter):
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def graphql_router(settings: Settings) -> GraphQLRouter:
    """POST /graphql for clients, GraphiQL on GET /graphql from a browser."""
    return GatewayGraphQLRouter(
        build_schema(settings),
        path="/graphql",
        context_getter=get_context,
        graphql_ide="graphiql",
        tags=["graphql"],
    )
