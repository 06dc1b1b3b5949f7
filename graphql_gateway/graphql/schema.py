from __future__ import annotations

import functools
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphql_gateway.config import Settings
from graphql_gateway.graphql.errors import ErrorCodes, log_unexpected
from graphql_gateway.graphql.mutations import Mutation
from graphql_gateway.graphql.queries import Query
from graphql_gateway.graphql.scalars import SCALAR_OVERRIDES


def field_value(source: Any, name: str) -> Any:
    """Objects are the services' JSON as parsed: a plain field is a dict read."""
    if type(source) is dict:
        return source[name]
    return getattr(source, name)


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (codes for clients) are not log-worthy; bugs are.
        log_unexpected(errors)


def _extensions(settings: Settings) -> list[Any]:
    """Classes or factories, never instances: each request gets its own."""
    extensions: list[Any] = [
        ErrorCodes,
        functools.partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        ParserCache,
        functools.partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        functools.partial(MaxAliasesLimiter, max_alias_count=settings.graphql_max_aliases),
        ValidationCache,
    ]
    if not settings.graphql_introspection:
        extensions.append(DisableIntrospection)
    return extensions


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(default_resolver=field_value),
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=_extensions(settings or Settings()),
    )


def export_sdl() -> str:
    return str(build_schema()) + "\n"
