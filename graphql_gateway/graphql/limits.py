"""What a GraphQL document may cost, decided before validation.

Validation is not linear (graphql_gateway/graphql/overlap.py): 490 copies of
`users { total }`, inside the token limit, hold the event loop for about a second. The
token limit is enforced by the parser; `GuardedDocument` adds, after parsing and
before validation:

- the document size (`graphql_max_document_bytes`), checked before parsing;
- the number of field selections, fragments expanded where they are spread
  (`graphql_max_fields`), and the pairs of same-named fields validation would compare
  (`MAX_OVERLAP_WORK`): what validation's cost grows with;
- an estimated cost (`graphql_max_cost`, graphql_gateway/graphql/cost.py);
- at most `graphql_max_list_items` items in any list argument, literal or variable;
- one operation named or alone (GraphQL spec, GetOperation).

Both numbers come from one walk over the parsed document, done once per document: the
result is kept in the document cache (graphql_gateway/graphql/documents.py) with the
parsed document and its validation errors, keyed by a digest of the text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from apicore.errors import BAD_REQUEST, QUERY_TOO_COMPLEX, QUERY_TOO_LARGE, VALIDATION_ERROR
from apicore.jsonbody import json_containers
from graphql_gateway.graphql.cost import Analysis, analyse
from graphql_gateway.graphql.documents import (
    Chosen,
    DocumentCache,
    Entry,
    document_key,
    document_size,
    select_operation,
)
from graphql_gateway.graphql.errors import refused
from graphql_gateway.graphql.overlap import MAX_OVERLAP_WORK

MAX_REPORTED_COST = 2**53 - 1  # the largest integer every JSON reader keeps exactly


def list_too_long(field: str, limit: int) -> GraphQLError:
    return refused(
        VALIDATION_ERROR,
        "Validation failed",
        details=[{"field": field, "message": f"at most {limit} items"}],
    )


def longest_list(value: Any, limit: int, name: str = "variables") -> str | None:
    """The name under which a list of more than `limit` items sits in JSON input, if any
    (apicore/jsonbody.py walks it)."""
    for key, container, _ in json_containers(value, name):
        if type(container) is list and len(container) > limit:
            return key
    return None


class GuardedDocument(SchemaExtension):
    """Parse (cached), limit, choose the operation and validate (cached), in that order.

    Replaces Strawberry's ParserCache and ValidationCache: those key on the whole text
    and on the document, and hold 128 of each whatever their size.
    """

    def __init__(self, *, cache: DocumentCache, hide_suggestions: bool = False) -> None:
        self.cache = cache
        self.limits = cache.limits
        self.hide_suggestions = hide_suggestions
        self.entry: Entry | None = None
        self.operation: OperationDefinitionNode | None = None
        self.analysis: Analysis | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and context.graphql_document is None:
            limits = self.limits
            size = document_size(query, limits.max_document_bytes)
            if size > limits.max_document_bytes:
                raise refused(
                    QUERY_TOO_LARGE,
                    f"The document is {size} bytes; at most {limits.max_document_bytes} "
                    "are accepted",
                )
            if context.variables:
                name = longest_list(context.variables, limits.max_list_items)
                if name is not None:
                    raise list_too_long(name, limits.max_list_items)
            key = document_key(query)
            entry = self.cache.get(key)
            if entry is None:
                # Syntax errors and the token limit raise here, reported as before.
                document = parse(query, **context.parse_options)
                entry = Entry(document, size, {})
                self.cache.put(key, entry)
            context.graphql_document = entry.document
            self.entry = entry
            self._check_before_validation(entry)
        yield

    def _check_before_validation(self, entry: Entry) -> None:
        """The operation, and what validation's own cost grows with."""
        context = self.execution_context
        name = context._provided_operation_name  # what the client sent, not a guess
        known = entry.operations.get(name)
        if known is None:
            operation = select_operation(entry.document, name)
            analysis = None
            if not isinstance(operation, GraphQLError):
                schema = context.schema._schema
                analysis = analyse(schema, entry.document, operation, None, self.limits)
            known = entry.operations[name] = Chosen(operation, analysis)
        operation, analysis = known.operation, known.analysis
        if isinstance(operation, GraphQLError):
            raise refused(BAD_REQUEST, operation.message)
        assert analysis is not None
        if analysis.fields > self.limits.max_fields:
            raise refused(
                QUERY_TOO_COMPLEX,
                f"The operation selects more than {self.limits.max_fields} fields",
            )
        if analysis.overlap > MAX_OVERLAP_WORK:
            raise refused(
                QUERY_TOO_COMPLEX, "The operation selects the same fields too many times over"
            )
        self.operation, self.analysis = operation, analysis

    def _check_after_validation(self) -> None:
        """List arguments and cost: validation's errors (depth, unknown fields) say more."""
        context = self.execution_context
        operation, analysis, limits = self.operation, self.analysis, self.limits
        if operation is None or analysis is None or self.entry is None:
            return
        if analysis.uses_variables and context.variables:
            schema = context.schema._schema
            analysis = analyse(schema, self.entry.document, operation, context.variables, limits)
        if analysis.too_long is not None:
            raise list_too_long(analysis.too_long, limits.max_list_items)
        if analysis.bad_page is not None:
            raise refused(VALIDATION_ERROR, "Validation failed", details=analysis.bad_page)
        if analysis.cost > limits.max_cost:
            # A `limit` of 2**63 under a list multiplies past what JSON carries safely (and
            # past orjson's 64 bits): the cost is reported at most as 2**53 - 1.
            cost = min(analysis.cost, MAX_REPORTED_COST)
            raise refused(
                QUERY_TOO_COMPLEX,
                f"The operation's estimated cost is {cost}; at most {limits.max_cost} is accepted",
                cost=cost,
            )

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        entry = self.entry
        if entry is not None and entry.document is document:
            if entry.validation_errors is None:
                entry.validation_errors = self._validate(document)
            context.pre_execution_errors = entry.validation_errors
        elif document is not None:
            context.pre_execution_errors = self._validate(document)
        if not context.pre_execution_errors:
            try:
                self._check_after_validation()
            except GraphQLError as error:
                context.pre_execution_errors = [error]
        yield

    def _validate(self, document: DocumentNode) -> list[GraphQLError]:
        context = self.execution_context
        return validate(
            context.schema._schema,
            document,
            (*context.validation_rules, *_STRAWBERRY_RULES),
            hide_suggestions=self.hide_suggestions,
        )


# What Strawberry's own validate_document adds to the rules.
_STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)
