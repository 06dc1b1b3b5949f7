"""What a GraphQL document may cost, decided before validation, and the document cache.

Validation is not linear: graphql-core's OverlappingFieldsCanBeMerged compares fields
with the same response name pairwise, so 490 copies of `users { total }` (inside the
token limit) hold the event loop for about a second. The token limit is enforced by
the parser; this module adds, after parsing and before validation:

- the document size (`graphql_max_document_bytes`), checked before parsing;
- the number of field selections, fragments expanded where they are spread
  (`graphql_max_fields`), and the pairs of same-named fields validation would compare
  (`MAX_OVERLAP_WORK`): what validation's cost grows with;
- an estimated cost (`graphql_max_cost`), demand control as Apollo Router and Hive
  Gateway do it: every field of an object type costs 1, scalars 0, and what is under a
  list counts once per item it may return: a page's `items` as many times as the
  page's `limit` (or the number of `ids` asked for), other lists
  `graphql_assumed_list_size` times;
- at most `graphql_max_list_items` items in any list argument, literal or variable;
- one operation named or alone (GraphQL spec, GetOperation).

Both numbers come from one walk over the parsed document, done once per document: the
result is cached with the parsed document and its validation errors, keyed by a
digest of the text (never the text), in a cache bounded in entries and in bytes.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    parse,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from apicore.errors import BAD_REQUEST, QUERY_TOO_COMPLEX, QUERY_TOO_LARGE, VALIDATION_ERROR
from apicore.jsonbody import json_containers
from apicore.params import MAX_LIMIT, MAX_OFFSET

# A page's list field and the arguments that size it (Apollo's @listSize(slicingArguments)):
# an offset page's `items` (`limit`), a connection's `edges` (`first`), costed alike.
PAGE_ITEMS = ("items", "edges")
SLICING_ARGUMENTS = ("limit", "first")
# Every page's bounds, as REST has them (graphql/resolvers.py checks them again per call).
PAGE_BOUNDS = {"limit": MAX_LIMIT, "offset": MAX_OFFSET, "first": MAX_LIMIT}
MAX_REPORTED_COST = 2**53 - 1  # the largest integer every JSON reader keeps exactly
SIZING_LIST_ARGUMENT = "ids"
# Validation compares the fields of one response key pairwise (OverlappingFieldsCanBeMerged):
# a key selected n times in one selection set costs n² comparisons, and each pair compares
# their sub-selections the same way. Queries repeat a key a few times (overlapping
# fragments); 490 copies of `users { total }` took 1.5 s. ~6 µs per comparison.
MAX_OVERLAP_WORK = 2000


@dataclass(frozen=True, slots=True)
class Limits:
    max_document_bytes: int
    max_fields: int
    max_cost: int
    assumed_list_size: int
    max_list_items: int
    cache_entries: int
    cache_bytes: int


def refused(code: str, message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def list_too_long(field: str, limit: int) -> GraphQLError:
    return refused(
        VALIDATION_ERROR,
        "Validation failed",
        details=[{"field": field, "message": f"at most {limit} items"}],
    )


# ---------------------------------------------------------------- the walk


class _Walk:
    """Field selections and estimated cost of one operation, in one pass.

    Fragments are walked where they are spread (a spread costs what its fragment
    costs); a fragment spread inside itself is left to validation (NoFragmentCycles).
    `uses_variables` says whether a variable sized a list: then the cost is worked out
    again with each request's variables; the field count never depends on them.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any] | None,
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables or {}
        self.limits = limits
        self.fields = 0
        self.uses_variables = False
        self.too_long: str | None = None
        self.bad_page: list[dict[str, str]] | None = None
        self._active: set[str] = set()

    def _int_argument(self, node: ValueNode | None) -> int | None:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            self.uses_variables = True
            value = self.variables.get(node.name.value)
            return value if type(value) is int else None
        return None

    def _list_length(self, node: ValueNode | None) -> int | None:
        if isinstance(node, ListValueNode):
            return len(node.values)
        if isinstance(node, VariableNode):
            self.uses_variables = True
            value = self.variables.get(node.name.value)
            return len(value) if isinstance(value, list) else None
        return None

    def _check_literal_lists(self, name: str, node: ValueNode) -> None:
        """Literal lists anywhere in an argument, input objects included (bounded by tokens)."""
        if isinstance(node, ListValueNode):
            if len(node.values) > self.limits.max_list_items and self.too_long is None:
                self.too_long = name
            for value in node.values:
                self._check_literal_lists(name, value)
        elif isinstance(node, ObjectValueNode):
            for each in node.fields:
                self._check_literal_lists(each.name.value, each.value)

    def _page_size(self, field: FieldNode, field_type: Any) -> int | None:
        """For a field with a `limit` (`first`) argument: how many items its page may hold."""
        if field_type is None:
            return None
        slicing = next((name for name in SLICING_ARGUMENTS if name in field_type.args), None)
        if slicing is None:
            return None
        arguments = {argument.name.value: argument.value for argument in field.arguments or ()}
        limit = self._int_argument(arguments.get(slicing))
        if limit is None:
            default = field_type.args[slicing].default_value
            limit = default if type(default) is int else self.limits.assumed_list_size
        length = self._list_length(arguments.get(SIZING_LIST_ARGUMENT))
        if length is not None:
            limit = min(limit, length)
        return max(limit, 0)

    def selection_set(
        self,
        parent: GraphQLNamedType | None,
        node: SelectionSetNode,
        page_size: int | None,
    ) -> int:
        cost = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                cost += self.field(parent, selection, page_size)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                cost += self.selection_set(inner, selection.selection_set, page_size)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self._active:
                    continue  # unknown or cyclic: validation reports it
                self._active.add(name)
                inner = self.schema.get_type(fragment.type_condition.name.value)
                cost += self.selection_set(inner, fragment.selection_set, page_size)
                self._active.discard(name)
            if self.fields > self.limits.max_fields:
                return cost  # refused whatever follows: stop walking
        return cost

    def _check_page_bounds(self, node: FieldNode) -> None:
        """A page's `limit` and `offset` within REST's bounds, wherever the field stands: one
        under a parent that turns out null never runs its resolver, and is refused all the
        same (an argument is checked before any call, not when a call happens to need it)."""
        for argument in node.arguments or ():
            name = argument.name.value
            if name not in PAGE_BOUNDS or self.bad_page is not None:
                continue
            value = self._int_argument(argument.value)
            if value is not None and not 0 <= value <= PAGE_BOUNDS[name]:
                message = f"must be between 0 and {PAGE_BOUNDS[name]}"
                self.bad_page = [{"field": name, "message": message}]

    def field(self, parent: GraphQLNamedType | None, node: FieldNode, page_size: int | None) -> int:
        self.fields += 1
        for argument in node.arguments or ():
            self._check_literal_lists(argument.name.value, argument.value)
        field_def = None
        if isinstance(parent, GraphQLObjectType):
            field_def = parent.fields.get(node.name.value)
        if field_def is not None and node.arguments:
            self._check_page_bounds(node)
        if node.selection_set is None:
            return 0
        # Unknown fields (validation refuses them) and introspection cost nothing more,
        # but their selections are still counted.
        named = get_named_type(field_def.type) if field_def is not None else None
        inner_page = self._page_size(node, field_def)
        children = self.selection_set(named, node.selection_set, inner_page)
        if field_def is None:
            return children
        if isinstance(get_nullable_type(field_def.type), GraphQLList):
            size = self.limits.assumed_list_size
            if node.name.value in PAGE_ITEMS and page_size is not None:
                size = page_size
            return size * (1 + children)
        return 1 + children


@dataclass(slots=True)
class Analysis:
    fields: int
    overlap: int  # comparisons validation would make of same-named fields (capped)
    cost: int
    uses_variables: bool
    too_long: str | None
    bad_page: list[dict[str, str]] | None = None  # a `limit`/`offset` out of bounds


def analyse(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    limits: Limits,
) -> Analysis:
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    walk = _Walk(schema, fragments, variables, limits)
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            walk._check_literal_lists(definition.variable.name.value, definition.default_value)
    cost = walk.selection_set(root, operation.selection_set, None)
    overlap = (
        overlap_work(operation, fragments, MAX_OVERLAP_WORK)
        if walk.fields <= limits.max_fields
        else 0
    )
    return Analysis(walk.fields, overlap, cost, walk.uses_variables, walk.too_long, walk.bad_page)


class _Over(Exception):
    pass


def overlap_work(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    budget: int,
) -> int:
    """How many field pairs OverlappingFieldsCanBeMerged compares, counted up to `budget`.

    The same recursion as the rule's (fields of one response key compared pairwise,
    then their sub-selections against each other), without its type checks, and
    stopped as soon as the budget is spent: it costs at most `budget` steps, the rule
    itself can cost millions (10 copies of 3 levels of repeated fields: 10⁶ pairs).
    """
    work = 0

    def spend(amount: int) -> None:
        nonlocal work
        work += amount
        if work > budget:
            raise _Over

    Grouped = dict[str, list[tuple[FieldNode, frozenset[str]]]]

    def collect(node: SelectionSetNode, grouped: Grouped, active: frozenset[str]) -> Grouped:
        """Fields by response key, each with the fragments it is inside (cycles stop)."""
        for selection in node.selections:
            spend(1)
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                grouped.setdefault(key, []).append((selection, active))
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set, grouped, active)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in active:
                    collect(fragment.selection_set, grouped, active | {name})
        return grouped

    def between(
        first: tuple[FieldNode, frozenset[str]], second: tuple[FieldNode, frozenset[str]]
    ) -> None:
        spend(1)
        (a, a_active), (b, b_active) = first, second
        if a.selection_set is None or b.selection_set is None:
            return
        left = collect(a.selection_set, {}, a_active)
        right = collect(b.selection_set, {}, b_active)
        for key in left.keys() & right.keys():
            for x in left[key]:
                for y in right[key]:
                    between(x, y)

    def within(node: SelectionSetNode, active: frozenset[str]) -> None:
        for fields in collect(node, {}, active).values():
            for i, first in enumerate(fields):
                for second in fields[i + 1 :]:
                    between(first, second)
                field, inside = first
                if field.selection_set is not None:
                    within(field.selection_set, inside)

    try:
        within(operation.selection_set, frozenset())
    except (_Over, RecursionError):  # the parser bounds nesting; this is a safety net
        return budget + 1
    return work


def longest_list(value: Any, limit: int, name: str = "variables") -> str | None:
    """The name under which a list of more than `limit` items sits in JSON input, if any
    (apicore/jsonbody.py walks it)."""
    for key, container, _ in json_containers(value, name):
        if type(container) is list and len(container) > limit:
            return key
    return None


# ---------------------------------------------------------------- the cache


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
