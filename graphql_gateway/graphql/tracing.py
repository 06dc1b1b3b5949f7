"""GraphQL spans, when tracing is on (apicore.tracing): parse, validate, execute.

The request's server span is renamed `graphql <operation name>` (`anonymous` for an
operation without one) and gets `graphql.operation.name` and `graphql.operation.type`;
under it, `graphql.parse`, `graphql.validate` and `graphql.execute`, and under the last
one every downstream call the operation makes (the compiled executor's included: this
extension comes first in the schema's list, so its hooks wrap the others').

Not Strawberry's OpenTelemetryExtension: that one makes a span for every resolver
called, hundreds for a page of users with their orders, and runs a wrapper around
every field even when there is nothing to record; what a trace needs here are the
stages and the downstream calls.

Imported only when tracing is on (graphql_gateway/graphql/schema.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry import trace
from strawberry.extensions import SchemaExtension

from graphql_gateway.graphql.documents import operation_of

_tracer = trace.get_tracer("graphql_gateway.graphql")


class GraphQLSpans(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        server_span = trace.get_current_span()  # the HTTP request's span
        try:
            yield
        finally:
            self._name(server_span)

    def _name(self, span: trace.Span) -> None:
        context = self.execution_context
        document = context.graphql_document
        # The operation the document holds under that name: a client's operationName
        # that names nothing in the document does not name the span.
        operation = None
        if document is not None:
            operation = operation_of(document, context._provided_operation_name)
        name = operation.name.value if operation is not None and operation.name else None
        span.update_name(f"graphql {name or 'anonymous'}")
        if name:
            span.set_attribute("graphql.operation.name", name)
        if operation is not None:
            span.set_attribute("graphql.operation.type", operation.operation.value)

    def on_parse(self) -> Iterator[None]:
        with _tracer.start_as_current_span("graphql.parse"):
            yield

    def on_validate(self) -> Iterator[None]:
        with _tracer.start_as_current_span("graphql.validate"):
            yield

    def on_execute(self) -> Iterator[None]:
        with _tracer.start_as_current_span("graphql.execute"):
            yield
