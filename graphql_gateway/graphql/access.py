"""An anonymous caller (auth on, no token) may run two things: the `login` and `refresh`
mutations.

Anything else is refused before execution with UNAUTHENTICATED, answered 401 with
`WWW-Authenticate: Bearer` under either media type (graphql/router.py), as REST is.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from graphql_gateway.auth.identity import unauthenticated
from graphql_gateway.graphql.documents import operation_of

ANONYMOUS_FIELDS = frozenset({"login", "refresh", "__typename"})


def _only_anonymous_fields(operation: OperationDefinitionNode | None) -> bool:
    if operation is None:
        return False
    return all(
        isinstance(selection, FieldNode)
        and not selection.directives
        and selection.name.value in ANONYMOUS_FIELDS
        for selection in operation.selection_set.selections
    )


class RequireIdentity(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        if execution.context.identity is None:
            document = execution.graphql_document
            operation = None
            if document is not None:
                operation = operation_of(document, execution.operation_name)
            if not _only_anonymous_fields(operation):
                raise unauthenticated(
                    "Authentication required: send `Authorization: Bearer <token>`"
                    " (the `login` mutation gives one)"
                )
        yield
