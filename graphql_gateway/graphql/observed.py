"""Every GraphQL operation counted by name, type and outcome (graphql_gateway/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.execution import PreExecutionError

from graphql_gateway import metrics
from graphql_gateway.graphql.documents import operation_of


def outcome_of(result: object) -> str:
    if result is None or isinstance(result, PreExecutionError):
        return "refused"
    errors, data = getattr(result, "errors", None), getattr(result, "data", None)
    if not errors:
        return "ok"
    if data is not None:
        return "partial"
    # Refused before any field ran (variables that do not coerce, auth): no path anywhere.
    return "error" if any(error.path for error in errors) else "refused"


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except Exception:
            # Raised through the operation: a document that does not parse or is over a
            # limit (graphql_gateway/graphql/limits.py raises in the parsing hook), an
            # operation name that names none. Strawberry answers each with errors and no
            # data, as a refusal; its result is set only after this hook is left. Labelled
            # with what the client named, and the type of that operation if there is one.
            execution = self.execution_context
            name = execution._provided_operation_name
            document = execution.graphql_document
            operation = None if document is None else operation_of(document, name)
            kind = "unknown" if operation is None else operation.operation.value
            metrics.GRAPHQL_OPERATIONS(metrics.operation_label(name), kind, "refused").inc()
            raise
        execution = self.execution_context
        try:
            kind = execution.operation_type.value
        except Exception:  # no document, or no such operation in it
            kind = "unknown"
        name = metrics.operation_label(execution.operation_name)
        metrics.GRAPHQL_OPERATIONS(name, kind, outcome_of(execution.result)).inc()
