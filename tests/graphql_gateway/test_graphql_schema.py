"""The GraphQL schema as a contract: the exported SDL, and the core it was built on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import graphql
import pytest
from graphql import GraphQLArgument, GraphQLInputField, GraphQLSchema
from graphql.utilities import get_default_value_ast

from graphql_gateway.config import Settings
from graphql_gateway.graphql.schema import build_schema, export_sdl
from tests.conftest import gateway_for
from tools import export_schemas

ROOT = Path(__file__).resolve().parents[2]
SDL_FILE = ROOT / "schema" / "schema.graphql"

# The schema's first agreed core, verbatim; SCALARS declares its scalars to parse it alone.
CORE_SDL = """
enum OrderStatus { CREATED IN_PROGRESS COMPLETED CANCELLED }
type User { id: UUID! email: String! name: String! roles: [String!]!
  createdAt: DateTime! updatedAt: DateTime!
  orders(status: OrderStatus): [Order!] }        # null + error when orders are unavailable
type OrderItem { product: String! quantity: Int! price: Decimal! }
type Order { id: UUID! userId: UUID! user: User items: [OrderItem!]! status: OrderStatus!
  totalAmount: Decimal! createdAt: DateTime! updatedAt: DateTime! }
type UserPage { items: [User!]! total: Int! }
type OrderPage { items: [Order!]! total: Int! }
type Query {
  user(id: UUID!): User
  users(limit: Int! = 100, offset: Int! = 0, ids: [UUID!]): UserPage!
  order(id: UUID!): Order
  orders(userId: UUID, status: OrderStatus, limit: Int! = 100, offset: Int! = 0): OrderPage! }
input UserCreateInput { email: String! name: String! password: String roles: [String!] }
input UserUpdateInput { email: String name: String password: String roles: [String!] }
input OrderItemInput { product: String! quantity: Int! price: Decimal! }
input OrderCreateInput { userId: UUID! items: [OrderItemInput!]! status: OrderStatus }
input OrderUpdateInput { items: [OrderItemInput!] status: OrderStatus }
type Mutation {
  createUser(input: UserCreateInput!): User!
  updateUser(id: UUID!, input: UserUpdateInput!): User!
  deleteUser(id: UUID!): UUID!
  createOrder(input: OrderCreateInput!): Order!
  updateOrder(id: UUID!, input: OrderUpdateInput!): Order!
  deleteOrder(id: UUID!): UUID! }
"""
SCALARS = "scalar UUID\nscalar DateTime\nscalar Decimal\n"


def core_schema() -> GraphQLSchema:
    return graphql.build_schema(SCALARS + CORE_SDL)


def default_of(value: GraphQLArgument | GraphQLInputField) -> str | None:
    """A default as GraphQL prints it (`100`), None without one.

    graphql-core 3.3 keeps a default either as a coerced value (strawberry) or as
    a literal (build_schema from SDL); printing both compares like with like.
    """
    literal = get_default_value_ast(value)
    return None if literal is None else graphql.print_ast(literal)


def kind_of(named: graphql.GraphQLNamedType) -> str:
    for kind in ("scalar", "object", "interface", "union", "enum", "input_object"):
        if getattr(graphql, f"is_{kind}_type")(named):
            return kind
    raise AssertionError(named)


def contract_violations(core: GraphQLSchema, ours: GraphQLSchema) -> list[str]:
    """Everything of `core` that `ours` lacks or types differently (empty when it conforms)."""
    problems: list[str] = []
    for name, core_type in core.type_map.items():
        if name.startswith("__"):
            continue
        our_type = ours.type_map.get(name)
        if our_type is None:
            problems.append(f"type {name} is missing")
            continue
        if kind_of(our_type) != kind_of(core_type):
            problems.append(f"{name} is a {kind_of(our_type)}, not a {kind_of(core_type)}")
            continue
        if graphql.is_enum_type(core_type):
            assert isinstance(our_type, graphql.GraphQLEnumType)
            assert isinstance(core_type, graphql.GraphQLEnumType)
            for value in core_type.values:
                if value not in our_type.values:
                    problems.append(f"enum value {name}.{value} is missing")
        if graphql.is_object_type(core_type) or graphql.is_interface_type(core_type):
            assert isinstance(core_type, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType)
            assert isinstance(our_type, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType)
            for field_name, field in core_type.fields.items():
                our_field = our_type.fields.get(field_name)
                where = f"{name}.{field_name}"
                if our_field is None:
                    problems.append(f"field {where} is missing")
                    continue
                if str(our_field.type) != str(field.type):
                    problems.append(f"field {where} is {our_field.type}, not {field.type}")
                for arg_name, arg in field.args.items():
                    our_arg = our_field.args.get(arg_name)
                    if our_arg is None:
                        problems.append(f"argument {where}({arg_name}) is missing")
                        continue
                    if str(our_arg.type) != str(arg.type):
                        problems.append(f"argument {where}({arg_name}) is {our_arg.type}")
                    if default_of(our_arg) != default_of(arg):
                        problems.append(
                            f"argument {where}({arg_name}) defaults to {default_of(our_arg)},"
                            f" not {default_of(arg)}"
                        )
                for arg_name, our_arg in our_field.args.items():
                    if arg_name not in field.args and graphql.is_required_argument(our_arg):
                        problems.append(f"argument {where}({arg_name}) is new and required")
        if graphql.is_input_object_type(core_type):
            assert isinstance(core_type, graphql.GraphQLInputObjectType)
            assert isinstance(our_type, graphql.GraphQLInputObjectType)
            for field_name, field in core_type.fields.items():
                our_field = our_type.fields.get(field_name)
                where = f"{name}.{field_name}"
                if our_field is None:
                    problems.append(f"input field {where} is missing")
                    continue
                if str(our_field.type) != str(field.type):
                    problems.append(f"input field {where} is {our_field.type}, not {field.type}")
                if default_of(our_field) != default_of(field):
                    problems.append(f"input field {where} defaults to {default_of(our_field)}")
            for field_name, our_field in our_type.fields.items():
                if field_name not in core_type.fields and graphql.is_required_input_field(
                    our_field
                ):
                    problems.append(f"input field {name}.{field_name} is new and required")
    for root in ("query_type", "mutation_type"):
        core_root, our_root = getattr(core, root), getattr(ours, root)
        if our_root is None or our_root.name != core_root.name:
            problems.append(f"the {root} is not {core_root.name}")
    return problems


def test_core_sdl_parses_and_is_complete() -> None:
    core = core_schema()
    names = {name for name in core.type_map if not name.startswith("__")}
    assert {
        "OrderStatus",
        "User",
        "OrderItem",
        "Order",
        "UserPage",
        "OrderPage",
        "Query",
        "UserCreateInput",
        "UserUpdateInput",
        "OrderItemInput",
        "OrderCreateInput",
        "OrderUpdateInput",
        "Mutation",
    } <= names
    assert contract_violations(core, core) == []


def test_comparison_catches_a_changed_contract() -> None:
    """The checker itself: each kind of drift from the core is reported."""
    drifted = graphql.build_schema(
        SCALARS
        + CORE_SDL.replace("CANCELLED }", "CANCELED }")
        .replace("name: String! roles", "name: String roles")
        .replace(
            "limit: Int! = 100, offset: Int! = 0, ids", "limit: Int! = 50, offset: Int! = 0, ids"
        )
        .replace("orders(status: OrderStatus): [Order!]", "orders(state: OrderStatus): [Order!]")
        .replace(
            "input OrderItemInput { product: String!", "input OrderItemInput { product: String"
        )
        .replace("deleteOrder(id: UUID!): UUID!", "deleteOrder(id: UUID!): UUID")
    )

    problems = "\n".join(contract_violations(core_schema(), drifted))

    assert "OrderStatus.CANCELLED is missing" in problems
    assert "User.name is String, not String!" in problems
    assert "Query.users(limit) defaults to 50, not 100" in problems
    assert "User.orders(status) is missing" in problems
    assert "OrderItemInput.product is String, not String!" in problems
    assert "Mutation.deleteOrder is UUID, not UUID!" in problems


def test_exported_sdl_contains_the_core_unchanged() -> None:
    ours = graphql.build_schema(SDL_FILE.read_text())

    assert contract_violations(core_schema(), ours) == []


@pytest.mark.parametrize(
    "settings",
    [Settings(), Settings(graphql_introspection=False, graphql_max_depth=3)],
    ids=["default", "restricted"],
)
def test_served_schema_contains_the_core_unchanged(settings: Settings) -> None:
    """The schema the gateway serves, whatever its limits, not only the exported file."""
    served = build_schema(settings)._schema

    assert contract_violations(core_schema(), served) == []


def test_exported_sdl_matches_the_code() -> None:
    """schema/schema.graphql is regenerated by `make schema`; it must not drift."""
    assert SDL_FILE.read_text() == export_sdl(), "schema/schema.graphql drifted: run make schema"


async def test_exported_sdl_is_what_the_server_introspects() -> None:
    """The file describes exactly the schema a client of /graphql discovers."""
    nowhere = "http://127.0.0.1:9"  # introspection never calls a service
    async with gateway_for(nowhere, nowhere) as (client, app):
        response = await client.post(
            "/graphql", json={"query": graphql.get_introspection_query(descriptions=True)}
        )
        assert (app.state.clients.users.calls, app.state.clients.orders.calls) == (0, 0)
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    served = graphql.build_client_schema(body["data"])

    def printed(schema: GraphQLSchema) -> str:
        return graphql.print_schema(graphql.lexicographic_sort_schema(schema))

    assert printed(served) == printed(graphql.build_schema(SDL_FILE.read_text()))


def test_drift_check_detects_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in export_schemas.documents().items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(export_schemas, "SCHEMA_DIR", tmp_path)
    assert export_schemas.stale() == []

    (tmp_path / "schema.graphql").write_text(SDL_FILE.read_text().replace("  total: Int!\n", ""))

    assert export_schemas.stale() == ["schema.graphql"]
    assert export_schemas.main(["--check"]) == 1


@pytest.mark.slow
def test_export_schemas_check_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.export_schemas", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
