"""Compiled execution plans: the same answers as the stock executor, without its per-field cost.

The stock executor spends ~10-15 µs on every resolved field: a dashboard page of 100
users with 5 orders each is ~2,000 fields, ~30 ms of CPU before any I/O. Each validated
query operation is compiled once (the plan kept on its document's entry in the document
cache, documents.py) into a plan: plain fields become
dict copies done level by level for all objects of that level at once, fields that need
a service become one batched call per level (the same DataLoaders as the stock path),
the services are asked for only the fields the operation reads, and errors and nulls
land where GraphQL puts them. Anything the compiler does not cover
(mutations, introspection, directives, resolvers it does not know) runs on the stock
executor, unchanged. tests/graphql_gateway/test_compiled_equivalence.py runs every query
both ways and compares data and errors.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    located_error,
)
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from apicore.versions import version_of_timestamp
from graphql_gateway.graphql import resolvers
from graphql_gateway.graphql.context import Context
from graphql_gateway.graphql.documents import (
    NOT_COMPILED,
    DocumentCache,
    chosen_operation,
    operation_of,
)

if TYPE_CHECKING:
    from graphql_gateway.graphql.schema import GatewaySchema


class FieldKind(Enum):
    """How a plan completes one field of an object."""

    LEAF = "leaf"  # copied from the source object (serialized, or derived from another key)
    TYPENAME = "typename"  # the object's type name
    NESTED = "nested"  # an object (or list of them) inside the source, completed in turn
    RESOLVED = "resolved"  # fetched by a batch resolver for every object of the level


STRAWBERRY_FIELD = "strawberry-definition"


class Unsupported(Exception):
    """The compiler does not cover this document: the stock executor runs it."""


class Bailout(Exception):
    """Data the plan did not expect (a null where none may be): rerun on the stock executor."""


@dataclass(slots=True)
class ExecutionPaths:
    """How many operations each executor answered: the tests read it to know which one ran."""

    compiled: int = 0
    fallback: int = 0  # no plan, variables the stock path must report, or a bailout


Args = dict[str, Any]
RootResolver = Callable[[Context, Args], Awaitable[Any]]
BatchResolver = Callable[[Context, Sequence[dict], Args], Awaitable[list[Any]]]


def _status(args: Args) -> str | None:
    status = args.get("status")
    return status.value if status is not None else None


def _optional_id(args: Args, name: str) -> str | None:
    value = args.get(name)
    return str(value) if value is not None else None


def _ids(args: Args) -> list[str] | None:
    ids = args.get("ids")
    return None if ids is None else [str(i) for i in ids]


# A page whose `total` (a connection: `totalCount`) the operation reads: its resolver asks
# the service to count (the stock executor: queries.py `selects`). A key no GraphQL
# argument can have (`__` names are reserved), set on the arguments of a root field whose
# plan reads it. By root field: the total's field, as the plan names it.
WANTS_TOTAL = "__total"
TOTAL_FIELDS = {
    "users": "total",
    "orders": "total",
    "usersConnection": "total_count",
    "ordersConnection": "total_count",
}


def _period(args: Args) -> dict[str, Any]:
    return {"first": args.get("from"), "last": args.get("to")}


def _finding(args: Args) -> Any:
    return resolvers.finding_of(
        sort=args.get("sort"),
        statuses=None if args.get("statuses") is None else [s.value for s in args["statuses"]],
        created_from=args.get("createdFrom"),
        created_to=args.get("createdTo"),
        due_from=args.get("dueFrom"),
        due_to=args.get("dueTo"),
        q=args.get("q"),
    )


ROOT_RESOLVERS: dict[str, RootResolver] = {
    "me": lambda ctx, a: resolvers.me(ctx),
    "user": lambda ctx, a: resolvers.user(ctx, str(a["id"])),
    "users": lambda ctx, a: resolvers.users(
        ctx,
        limit=a["limit"],
        offset=a["offset"],
        ids=_ids(a),
        want_total=a.get(WANTS_TOTAL, False),
    ),
    "order": lambda ctx, a: resolvers.order(ctx, str(a["id"])),
    "orders": lambda ctx, a: resolvers.orders(
        ctx,
        user_id=_optional_id(a, "userId"),
        status=_status(a),
        limit=a["limit"],
        offset=a["offset"],
        overdue=a.get("overdue"),
        assignee_id=_optional_id(a, "assigneeId"),
        finding=_finding(a),
        want_total=a.get(WANTS_TOTAL, False),
    ),
    "usersConnection": lambda ctx, a: resolvers.users_connection(
        ctx, first=a["first"], after=a.get("after"), ids=_ids(a), total=a.get(WANTS_TOTAL, False)
    ),
    "ordersConnection": lambda ctx, a: resolvers.orders_connection(
        ctx,
        first=a["first"],
        after=a.get("after"),
        user_id=_optional_id(a, "userId"),
        status=_status(a),
        overdue=a.get("overdue"),
        assignee_id=_optional_id(a, "assigneeId"),
        finding=_finding(a),
        total=a.get(WANTS_TOTAL, False),
    ),
    "orderStats": lambda ctx, a: resolvers.order_stats(
        ctx, user_id=_optional_id(a, "userId"), **_period(a)
    ),
    "ordersByDay": lambda ctx, a: resolvers.orders_by_day(
        ctx, user_id=_optional_id(a, "userId"), **_period(a)
    ),
}
BATCH_RESOLVERS: dict[str, BatchResolver] = {
    "User.orders": lambda ctx, sources, a: resolvers.orders_of_users(
        ctx, [s["id"] for s in sources], _status(a)
    ),
    "Order.user": lambda ctx, sources, a: resolvers.users_of_orders(
        ctx, [s["user_id"] for s in sources]
    ),
    "User.orderStats": lambda ctx, sources, a: resolvers.order_stats_of_users(
        ctx, [s["id"] for s in sources], a.get("from"), a.get("to")
    ),
    "Order.assignee": lambda ctx, sources, a: resolvers.assignees_of_orders(
        ctx, [s.get("assignee_id") for s in sources]
    ),
    "User.assignedOrders": lambda ctx, sources, a: resolvers.assigned_orders_of_users(
        ctx, [s["id"] for s in sources], _status(a)
    ),
}


# Fields of `user(id:)` whose keys are its argument: the plan starts them together with the
# user instead of after it (one round trip instead of two). Their DataLoaders keep what
# they loaded, so the level below finds it there. A user that turns out not to exist (or
# to be outside the caller's scope) has had its orders asked for all the same: one call
# more than the stock executor makes for a user that is not there, counted as any call.
PREFETCH: dict[str, Callable[[Context, str, Args], Awaitable[Any]]] = {
    "User.orders": lambda ctx, user_id, a: resolvers.orders_of_users(ctx, [user_id], _status(a)),
    "User.orderStats": lambda ctx, user_id, a: resolvers.order_stats_of_users(
        ctx, [user_id], a.get("from"), a.get("to")
    ),
}


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A prefetch nobody awaited (no such user) must not log "exception never retrieved"."""
    if not task.cancelled():
        task.exception()


# Leaves computed from another field of the same object: (that field, how).
DERIVED_LEAVES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "User.version": ("updated_at", version_of_timestamp),
    "Order.version": ("updated_at", version_of_timestamp),
}


@dataclass(slots=True)
class FieldPlan:
    key: str
    kind: FieldKind
    nodes: list[FieldNode]
    field_def: GraphQLField | None = None
    source_key: str = ""
    serialize: Callable[[Any], Any] | None = None
    nullable: bool = True
    is_list: bool = False
    resolver: str = ""
    sub: ObjectPlan | None = None
    prefetch: list[FieldPlan] = field(default_factory=list)  # see PREFETCH
    wants_total: bool = False  # see WANTS_TOTAL


@dataclass(slots=True)
class ObjectPlan:
    type_name: str
    fields: list[FieldPlan] = field(default_factory=list)


@dataclass(slots=True)
class OperationPlan:
    operation: OperationDefinitionNode
    root: ObjectPlan
    projection: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- compiling

# What loaders (keys), batch resolvers (keys) and the in-memory `orders(status:)` filter
# need of an object besides what the query reads.
KEYS_ALWAYS_FETCHED = {
    "User": ("id",),
    "Order": ("id", "user_id", "status"),
}
# Keys only some resolvers read: fetched when the operation has one of them. An order's
# assignee is most often null, and a page of orders that never reads it parsed it all the
# same (docs/performance.md, "The plan asks for an order's assignee only to read it").
KEYS_FETCHED_FOR = {
    "Order.assignee": ("Order", "assignee_id"),  # its batch resolver's keys
    "User.assignedOrders": ("Order", "assignee_id"),  # orders grouped by assignee
}


def _projection(root: ObjectPlan) -> dict[str, str]:
    """Per service-backed type, every field this operation reads of it, anywhere in it.

    The services then send only those: smaller answers to build, send and parse. It is
    the union over the whole operation, so an object cached by a loader for one branch
    has what every other branch reads of it too.
    """
    needs: dict[str, set[str]] = {}

    def walk(plan: ObjectPlan) -> None:
        if plan.type_name in KEYS_ALWAYS_FETCHED:
            keys = needs.setdefault(plan.type_name, set(KEYS_ALWAYS_FETCHED[plan.type_name]))
            keys.update(
                f.source_key for f in plan.fields if f.kind in (FieldKind.LEAF, FieldKind.NESTED)
            )
        for each in plan.fields:
            if (wanted := KEYS_FETCHED_FOR.get(each.resolver)) is not None:
                type_name, key = wanted
                needs.setdefault(type_name, set(KEYS_ALWAYS_FETCHED[type_name])).add(key)
            if each.sub is not None:
                walk(each.sub)

    walk(root)
    return {type_name: ",".join(sorted(keys)) for type_name, keys in needs.items()}


def _collect(
    type_name: str,
    selection_sets: Sequence[SelectionSetNode],
    fragments: dict[str, FragmentDefinitionNode],
    grouped: dict[str, list[FieldNode]],
    visited: set[str],
) -> dict[str, list[FieldNode]]:
    """Fields by response key, in order, through fragments (our types are all concrete)."""
    for selection_set in selection_sets:
        for selection in selection_set.selections:
            if selection.directives:
                raise Unsupported("directives")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, inner = selection.type_condition, selection.selection_set
            else:
                assert isinstance(selection, FragmentSpreadNode)
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = fragments[name]
                condition, inner = fragment.type_condition, fragment.selection_set
            if condition is not None and condition.name.value != type_name:
                raise Unsupported("fragment on another type")
            _collect(type_name, [inner], fragments, grouped, visited)
    return grouped


def _serializer(leaf: Any) -> Callable[[Any], Any] | None:
    """Service JSON is already the wire form for every scalar; enums map value -> name."""
    if isinstance(leaf, GraphQLEnumType):
        names = {value.value: name for name, value in leaf.values.items()}
        return names.__getitem__
    return None


def _field_plan(
    parent: GraphQLObjectType,
    key: str,
    nodes: list[FieldNode],
    fragments: dict[str, FragmentDefinitionNode],
) -> FieldPlan:
    name = nodes[0].name.value
    if name == "__typename":
        return FieldPlan(key, FieldKind.TYPENAME, nodes)
    if name.startswith("__"):
        raise Unsupported("introspection")
    field_def = parent.fields[name]
    definition = field_def.extensions.get(STRAWBERRY_FIELD)
    if definition is None:
        raise Unsupported(f"{parent.name}.{name} is not a Strawberry field")
    nullable = not is_non_null_type(field_def.type)
    inner = get_nullable_type(field_def.type)
    is_list = is_list_type(inner)
    if is_list:
        inner = get_nullable_type(inner.of_type)
    plan = FieldPlan(
        key, FieldKind.LEAF, nodes, field_def, definition.python_name, None, nullable, is_list
    )
    derived = DERIVED_LEAVES.get(f"{parent.name}.{name}")
    if derived is not None:
        plan.source_key, plan.serialize = derived
        return plan
    if definition.base_resolver is not None:
        plan.kind = FieldKind.RESOLVED
        plan.resolver = name if parent.name == "Query" else f"{parent.name}.{name}"
        if plan.resolver not in ROOT_RESOLVERS and plan.resolver not in BATCH_RESOLVERS:
            raise Unsupported(f"no compiled resolver for {plan.resolver}")
    elif is_leaf_type(inner):
        plan.serialize = _serializer(inner)
        if is_list and plan.serialize is not None:
            raise Unsupported("list of enums")
        return plan
    else:
        plan.kind = FieldKind.NESTED
    if is_leaf_type(inner):
        raise Unsupported("resolved leaf")
    assert isinstance(inner, GraphQLObjectType)
    selections = [node.selection_set for node in nodes if node.selection_set]
    plan.sub = _object_plan(inner, selections, fragments)
    if (total := TOTAL_FIELDS.get(plan.resolver)) is not None:
        plan.wants_total = any(
            f.kind == FieldKind.LEAF and f.source_key == total for f in plan.sub.fields
        )
    if plan.resolver == "user":
        plan.prefetch = [
            f for f in plan.sub.fields if f.kind == FieldKind.RESOLVED and f.resolver in PREFETCH
        ]
    return plan


def _object_plan(
    type_: GraphQLObjectType,
    selection_sets: Sequence[SelectionSetNode],
    fragments: dict[str, FragmentDefinitionNode],
) -> ObjectPlan:
    grouped = _collect(type_.name, selection_sets, fragments, {}, set())
    plans = [_field_plan(type_, key, nodes, fragments) for key, nodes in grouped.items()]
    return ObjectPlan(type_.name, plans)


def compile_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: str | OperationDefinitionNode | GraphQLError | None,
) -> OperationPlan | None:
    """The plan of one operation (chosen already, or by its name), None if not covered."""
    if operation is None or isinstance(operation, str):
        operation = operation_of(document, operation)
    if (
        operation is None
        or isinstance(operation, GraphQLError)
        or operation.operation != OperationType.QUERY
    ):
        return None
    if operation.directives or schema.query_type is None:
        return None
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    try:
        root = _object_plan(schema.query_type, [operation.selection_set], fragments)
    except Unsupported:
        return None
    if any(plan.kind == FieldKind.NESTED for plan in root.fields):
        return None
    return OperationPlan(operation, root, _projection(root))


# ---------------------------------------------------------------- running


Path = tuple[str | int, ...]
# The path of the i-th object of a level, worked out only for an error: building a tuple
# per object of every level was about a tenth of the request's CPU on a page of 100 users
# with their orders (docs/performance.md).
PathOf = Callable[[int], Path]


class _Run:
    def __init__(self, context: Context, variables: Any) -> None:
        self.context = context
        self.variables = variables
        self.errors: list[GraphQLError] = []
        self.prefetches: list[asyncio.Future[Any]] = []  # referenced until the run ends

    def _error(self, exc: Exception, plan: FieldPlan, path: Path) -> None:
        self.errors.append(located_error(exc, plan.nodes, list(path)))

    def _args(self, plan: FieldPlan) -> Args:
        assert plan.field_def is not None
        return get_argument_values(plan.field_def, plan.nodes[0], self.variables)

    async def operation(self, plan: OperationPlan) -> dict[str, Any] | None:
        fields = plan.root.fields
        outcomes = await asyncio.gather(*(self._root_field(f) for f in fields))
        data: dict[str, Any] = {}
        for root_field, (ok, value) in zip(fields, outcomes, strict=True):
            if not ok and not root_field.nullable:
                return None  # a non-null root field failed: the null reaches `data`
            data[root_field.key] = value
        return data

    async def _root_field(self, plan: FieldPlan) -> tuple[bool, Any]:
        if plan.kind == FieldKind.TYPENAME:
            return True, "Query"
        try:
            args = self._args(plan)
            if plan.wants_total:
                args[WANTS_TOTAL] = True
            for each in plan.prefetch:
                fetch = PREFETCH[each.resolver](self.context, str(args["id"]), self._args(each))
                task = asyncio.ensure_future(fetch)
                task.add_done_callback(_retrieved)
                self.prefetches.append(task)
            value = await ROOT_RESOLVERS[plan.resolver](self.context, args)
        except Exception as exc:
            self._error(exc, plan, (plan.key,))
            return False, None
        if value is None:
            if not plan.nullable:
                raise Bailout(plan.key)
            return True, None
        assert plan.sub is not None
        key = plan.key
        if plan.is_list:
            return True, await self.objects(value, plan.sub, lambda i: (key, i))
        (completed,) = await self.objects([value], plan.sub, lambda i: (key,))
        return True, completed

    async def objects(
        self, sources: Sequence[Any], plan: ObjectPlan, path_of: PathOf
    ) -> list[dict[str, Any]]:
        """Complete one level: every object of it, field by field, each field for all at once.

        The level's resolved fields start together, as the stock executor starts them: two
        fields served by one DataLoader (`Order.user`, `Order.assignee`) make one call.
        """
        outs: list[dict[str, Any]] = [{} for _ in sources]
        started: dict[int, asyncio.Future[Any]] = {}
        for index, each in enumerate(plan.fields):
            if each.kind == FieldKind.RESOLVED:
                task = asyncio.ensure_future(self._resolve(each, sources))
                task.add_done_callback(_retrieved)
                started[index] = task
        try:
            for index, each in enumerate(plan.fields):
                key, kind = each.key, each.kind
                if kind == FieldKind.LEAF:
                    source_key, serialize = each.source_key, each.serialize
                    if serialize is None:
                        for out, source in zip(outs, sources, strict=True):
                            out[key] = source[source_key]
                    else:
                        for out, source in zip(outs, sources, strict=True):
                            out[key] = serialize(source[source_key])
                elif kind == FieldKind.TYPENAME:
                    for out in outs:
                        out[key] = plan.type_name
                elif kind == FieldKind.NESTED:
                    values = [source[each.source_key] for source in sources]
                    await self._complete(each, outs, values, path_of)
                else:
                    try:
                        values = await started[index]
                    except Exception as exc:
                        for i, out in enumerate(outs):
                            out[key] = None
                            self._error(exc, each, (*path_of(i), key))
                        continue
                    await self._complete(each, outs, values, path_of)
        finally:
            for pending in started.values():
                pending.cancel()  # only those a bailout left running
        return outs

    async def _resolve(self, plan: FieldPlan, sources: Sequence[Any]) -> list[Any]:
        return await BATCH_RESOLVERS[plan.resolver](self.context, sources, self._args(plan))

    async def _complete(
        self,
        plan: FieldPlan,
        outs: list[dict[str, Any]],
        values: Sequence[Any],
        path_of: PathOf,
    ) -> None:
        key, sub = plan.key, plan.sub
        assert sub is not None
        if plan.is_list:
            flat: list[Any] = []
            spans: list[tuple[int, int] | None] = []
            # Where each non-empty list starts in `flat`, and whose it is (for paths).
            starts: list[int] = []
            owners: list[int] = []
            for i, value in enumerate(values):
                if value is None:
                    if not plan.nullable:
                        raise Bailout(key)
                    spans.append(None)
                    continue
                start = len(flat)
                flat.extend(value)
                spans.append((start, len(flat)))
                if value:
                    starts.append(start)
                    owners.append(i)

            def flat_path_of(j: int) -> Path:
                k = bisect.bisect_right(starts, j) - 1
                return (*path_of(owners[k]), key, j - starts[k])

            done = await self.objects(flat, sub, flat_path_of) if flat else []
            for out, span in zip(outs, spans, strict=True):
                out[key] = None if span is None else done[span[0] : span[1]]
            return
        present = [i for i, value in enumerate(values) if value is not None]
        if len(present) != len(values) and not plan.nullable:
            raise Bailout(key)
        done = await self.objects(
            [values[i] for i in present], sub, lambda j: (*path_of(present[j]), key)
        )
        for out in outs:
            out[key] = None
        for i, completed in zip(present, done, strict=True):
            outs[i][key] = completed


async def run(plan: OperationPlan, context: Context, variables: Any) -> ExecutionResult:
    execution = _Run(context, variables)
    data = await execution.operation(plan)
    return ExecutionResult(data, execution.errors or None)


# ---------------------------------------------------------------- hooking in


class CompiledExecution(SchemaExtension):
    """Supplies the result of `execute` from a compiled plan when there is one.

    Plans are kept on the document cache's entries (documents.py `Chosen.plan`), built the
    first time an operation executes; a request whose document is not in the cache (too
    big for it, or evicted since it was parsed) has its plan built and not kept.
    """

    def __init__(self, *, cache: DocumentCache) -> None:
        self.cache = cache

    def _plan(self) -> OperationPlan | None:
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            return None
        schema = context.schema._schema
        chosen = chosen_operation(self.cache, context)
        if chosen is None:
            return compile_operation(schema, document, context.operation_name)
        if chosen.plan is NOT_COMPILED:
            chosen.plan = compile_operation(schema, document, chosen.operation)
        plan: OperationPlan | None = chosen.plan
        return plan

    async def on_execute(self) -> AsyncIterator[None]:
        plan = self._plan()
        context = self.execution_context
        compiled = False
        if plan is not None:
            schema = context.schema._schema
            variables = get_variable_values(
                schema, plan.operation.variable_definitions or (), context.variables or {}
            )
            if not isinstance(variables, list):  # coercion errors: the stock path reports them
                context.context.loaders.projection.update(plan.projection)
                with contextlib.suppress(Bailout):
                    context.result = await run(plan, context.context, variables)
                    compiled = True
        # Strawberry types the schema as its own base class; ours is a GatewaySchema.
        paths = cast("GatewaySchema", context.schema).execution_paths
        if compiled:
            paths.compiled += 1
        else:
            paths.fallback += 1
        yield
