"""How much work graphql-core's OverlappingFieldsCanBeMerged would do, counted cheaply.

Validation is not linear: that rule compares fields with the same response name
pairwise, so 490 copies of `users { total }` (inside the token limit) hold the event
loop for about a second. `overlap_work` counts those comparisons, up to a budget,
before validation runs; graphql_gateway/graphql/limits.py refuses a document over it.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

# Validation compares the fields of one response key pairwise (OverlappingFieldsCanBeMerged):
# a key selected n times in one selection set costs n² comparisons, and each pair compares
# their sub-selections the same way. Queries repeat a key a few times (overlapping
# fragments); 490 copies of `users { total }` took 1.5 s. ~6 µs per comparison.
MAX_OVERLAP_WORK = 2000


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
