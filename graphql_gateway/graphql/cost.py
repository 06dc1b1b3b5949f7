"""What one operation of a GraphQL document selects and may cost, in one walk.

Demand control as Apollo Router and Hive Gateway do it: every field of an object type
costs 1, scalars 0, and what is under a list counts once per item it may return: a
page's `items` as many times as the page's `limit` (or the number of `ids` asked
for), other lists `graphql_assumed_list_size` times. The same walk counts the field
selections (fragments expanded where they are spread), finds literal lists over
`graphql_max_list_items` and pages whose `limit`/`offset` are out of bounds; `analyse`
adds the overlap estimate (graphql_gateway/graphql/overlap.py). What is refused, and
when, is graphql_gateway/graphql/limits.py's to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
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
)

from apicore.params import MAX_LIMIT, MAX_OFFSET
from graphql_gateway.graphql.overlap import MAX_OVERLAP_WORK, overlap_work

# A page's list field and the arguments that size it (Apollo's @listSize(slicingArguments)):
# an offset page's `items` (`limit`), a connection's `edges` (`first`), costed alike.
PAGE_ITEMS = ("items", "edges")
SLICING_ARGUMENTS = ("limit", "first")
# Every page's bounds, as REST has them (graphql/resolvers.py checks them again per call).
PAGE_BOUNDS = {"limit": MAX_LIMIT, "offset": MAX_OFFSET, "first": MAX_LIMIT}
SIZING_LIST_ARGUMENT = "ids"


@dataclass(frozen=True, slots=True)
class Limits:
    max_document_bytes: int
    max_fields: int
    max_cost: int
    assumed_list_size: int
    max_list_items: int
    cache_entries: int
    cache_bytes: int


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

    def _variable(self, node: VariableNode) -> Any:
        """A variable's value (None if not given); the analysis then depends on variables."""
        self.uses_variables = True
        return self.variables.get(node.name.value)

    def _int_argument(self, node: ValueNode | None) -> int | None:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            value = self._variable(node)
            return value if type(value) is int else None
        return None

    def _list_length(self, node: ValueNode | None) -> int | None:
        if isinstance(node, ListValueNode):
            return len(node.values)
        if isinstance(node, VariableNode):
            value = self._variable(node)
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
