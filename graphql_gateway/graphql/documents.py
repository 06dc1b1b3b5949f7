"""The gateway's one document cache, and the choice of an operation in a document.

Each entry is a parsed document, its validation errors, and per operation the client
names: the operation chosen (or the error choosing it), its cost analysis
(graphql_gateway/graphql/cost.py) and its compiled plan (graphql_gateway/graphql/
compiled.py), the plan built the first time the operation executes. Filled by
graphql_gateway/graphql/limits.py (`GuardedDocument`), read by compiled.py.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
)
from strawberry.types import ExecutionContext

from apicore.errors import BAD_REQUEST
from graphql_gateway.graphql.cost import Analysis, Limits
from graphql_gateway.graphql.errors import refused

# A plan not built yet (None is a plan too: "the compiler does not cover this operation").
NOT_COMPILED: Any = object()


@dataclass(slots=True)
class Chosen:
    """One operation of a cached document, as requests name it, and what is known of it.

    `plan` is its compiled execution plan (graphql_gateway/graphql/compiled.py), built
    the first time a request of it executes: documents that are refused, or only
    validated, never pay for it.
    """

    operation: OperationDefinitionNode | GraphQLError  # or the error choosing it
    analysis: Analysis | None  # None when no operation was chosen
    plan: Any = NOT_COMPILED


@dataclass(slots=True)
class Entry:
    document: DocumentNode
    size: int
    # By the operation name the client sent (None: none sent).
    operations: dict[str | None, Chosen]
    validation_errors: list[GraphQLError] | None = None


def select_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | GraphQLError:
    """GetOperation from the GraphQL spec: a name is required when there are several."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) == 1:
            return operations[0]
        if not operations:
            return refused(BAD_REQUEST, "The document contains no operation")
        return refused(
            BAD_REQUEST, "The document contains several operations: operationName is required"
        )
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    return refused(BAD_REQUEST, f"Unknown operation named '{operation_name}'")


def operation_of(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """`select_operation` for a reader that only needs the operation (None: no such one)."""
    operation = select_operation(document, operation_name)
    return None if isinstance(operation, GraphQLError) else operation


class DocumentCache:
    """Parsed documents and what is known of them, LRU, bounded in entries and bytes.

    The gateway's one document cache: the parsed document, its validation errors, and
    per operation its cost analysis and its compiled plan (`Chosen`). LRU rather than
    emptying itself when full (as the plan cache of compiled.py once did): a burst of
    one-off documents then evicts the least recently used entries only, and the few
    documents that make most of the traffic keep their parse, validation and plan.
    Keyed by a BLAKE2 digest of the text: the key is 16 bytes whatever the document,
    and a parsed document keeps its text (locations point into it), so the text is
    what `size` counts; a plan keeps the same document's nodes, so it adds no text.
    Shared by every request of one schema.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def get(self, key: bytes) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: Entry) -> None:
        if entry.size > self.limits.cache_bytes:
            return
        self._entries[key] = entry
        self.bytes += entry.size
        while (
            len(self._entries) > self.limits.cache_entries or self.bytes > self.limits.cache_bytes
        ):
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.size


def chosen_operation(cache: DocumentCache, context: ExecutionContext) -> Chosen | None:
    """What the cache knows of this request's operation, if its document is still there.

    Looked up again by the text's digest: the entry may have been evicted since the
    request was parsed (then None: the caller works without the cache), and an entry
    parsed again since holds another document than the request's.
    """
    if context.query is None:
        return None
    entry = cache.get(document_key(context.query))
    if entry is None or entry.document is not context.graphql_document:
        return None
    return entry.operations.get(context._provided_operation_name)


def document_key(query: str) -> bytes:
    return hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def document_size(query: str, limit: int) -> int:
    """UTF-8 size, without encoding texts that cannot be over the limit anyway."""
    if len(query) * 4 <= limit:
        return len(query)
    return len(query.encode("utf-8", "surrogatepass"))
