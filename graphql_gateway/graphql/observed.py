"""Every GraphQL operation counted by name, type and outcome (graphql_gateway/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.execution import PreExecutionError

from graphql_gateway import metrics


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
        yield
        execution = self.execution_context
        try:
            kind = execution.operation_type.value
        except Exception:  # no document, or no such operation in it
            kind = "unknown"
        name = metrics.operation_label(execution.operation_name)
        metrics.GRAPHQL_OPERATIONS(name, kind, outcome_of(execution.result)).inc()
