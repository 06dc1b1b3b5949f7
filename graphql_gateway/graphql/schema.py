from __future__ import annotations

import functools
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult

from apicore.tracing import tracing_enabled
from graphql_gateway.config import Settings
from graphql_gateway.graphql.access import RequireIdentity
from graphql_gateway.graphql.compiled import CompiledExecution, ExecutionPaths
from graphql_gateway.graphql.cost import Limits
from graphql_gateway.graphql.documents import DocumentCache
from graphql_gateway.graphql.errors import coded, log_unexpected, without_suggestions
from graphql_gateway.graphql.hooks import CachedHooksRunner
from graphql_gateway.graphql.limits import GuardedDocument
from graphql_gateway.graphql.mutations import Mutation
from graphql_gateway.graphql.observed import OperationMetrics
from graphql_gateway.graphql.queries import Query
from graphql_gateway.graphql.scalars import SCALAR_OVERRIDES


def field_value(source: Any, name: str) -> Any:
    """Objects are the services' JSON as parsed: a plain field is a dict read."""
    if type(source) is dict:
        return source[name]
    return getattr(source, name)


class GatewaySchema(strawberry.Schema):
    suggestions = True  # "Did you mean …?" kept in messages
    cached_hooks = True  # graphql_gateway/graphql/hooks.py

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execution_paths = ExecutionPaths()  # counted by CompiledExecution
        self.documents: DocumentCache | None = None  # build_schema sets the one in use

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        # Every answer passes here, parse errors included: codes and masking in one place.
        result = await super().execute(*args, **kwargs)
        if result.errors:
            result.errors = [coded(error) for error in result.errors]
            if not self.suggestions:
                result.errors = [without_suggestions(error) for error in result.errors]
        return result

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        if self.cached_hooks:
            return CachedHooksRunner(execution_context=execution_context, extensions=extensions)
        return super().create_extensions_runner(execution_context, extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (codes for clients) are not log-worthy; bugs are.
        log_unexpected(errors)


def _abuse_rules(settings: Settings) -> list[Any]:
    """Depth, alias and introspection rules, built once per schema.

    The stock limiters build a new rule class for every request they are created for,
    and ValidationCache keys on the rule classes: it would never hit.
    """
    limiters: list[Any] = [
        QueryDepthLimiter(max_depth=settings.graphql_max_depth),
        MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases),
    ]
    if not settings.graphql_introspection_enabled:
        limiters.append(DisableIntrospection())
    return [rule for limiter in limiters for rule in limiter.validation_rules]


def document_cache(settings: Settings) -> DocumentCache:
    """The schema's one document cache: parsed, validated, costed and compiled documents."""
    limits = Limits(
        max_document_bytes=settings.graphql_max_document_bytes,
        max_fields=settings.graphql_max_fields,
        max_cost=settings.graphql_max_cost,
        assumed_list_size=settings.graphql_assumed_list_size,
        max_list_items=settings.graphql_max_list_items,
        cache_entries=settings.graphql_document_cache_entries,
        cache_bytes=settings.graphql_document_cache_bytes,
    )
    return DocumentCache(limits)


def _extensions(settings: Settings, documents: DocumentCache) -> list[Any]:
    """Classes or factories, never instances: each request gets its own."""
    extensions: list[Any] = [
        OperationMetrics,
        functools.partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        functools.partial(AddValidationRules, _abuse_rules(settings)),
        # Parses (cached), refuses costly documents, then validates (cached).
        functools.partial(
            GuardedDocument,
            cache=documents,
            hide_suggestions=not settings.graphql_suggestions,
        ),
    ]
    if settings.auth_enabled:
        extensions.append(RequireIdentity)  # before any plan runs
    if settings.graphql_compile:
        extensions.append(functools.partial(CompiledExecution, cache=documents))
    if tracing_enabled():
        from graphql_gateway.graphql.tracing import GraphQLSpans  # imports OpenTelemetry

        extensions.insert(0, GraphQLSpans)  # first: its spans wrap the others' hooks
    return extensions


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    documents = document_cache(settings)
    schema = GatewaySchema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(default_resolver=field_value),
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=_extensions(settings, documents),
    )
    schema.documents = documents
    schema.suggestions = settings.graphql_suggestions
    schema.cached_hooks = settings.graphql_cached_hooks
    return schema


def export_sdl() -> str:
    return str(build_schema()) + "\n"
