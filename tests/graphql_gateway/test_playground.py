"""The playground (GET /graphql from a browser): GraphiQL from our own files, its tabs, its hint.

The page opens with the example operations (graphql/examples.py), one tab each, and a
new tab tells how to authenticate: log in with the `login` mutation (the Login tab), whose
token every tab then sends (a client of its own sends
`{"Authorization": "Bearer <accessToken>"}`). Every operation it
shows is valid against the schema, and the page and its files open without a token
when auth is on. (tests/browser runs it in Chromium.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import graphql
import pytest
from graphql.execution.values import get_variable_values

from graphql_gateway.config import Settings
from graphql_gateway.graphql.examples import EXAMPLES
from graphql_gateway.graphql.playground import GRAPHIQL_DEFAULT_QUERY, json_in_html
from graphql_gateway.graphql.schema import build_schema
from tests.conftest import gateway_for
from tests.support.procs import ROOT

NUMBERS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
UNUSED = "http://127.0.0.1:9"  # the page calls no service
HEADER = '{"Authorization": "Bearer <accessToken>"}'
# Settings as the environment gives them (text); Settings validates and converts each.
AUTH_ON: dict[str, Any] = {"auth": "on", "jwt_secret": "graphiql-hint-test-secret-" + "x" * 32}
SETTINGS = re.compile(r'<script type="application/json" id="playground-settings">(.*?)</script>')


def examples(hint: str) -> list[str]:
    """The hint's indented examples: each operation, and the headers' JSON."""
    blocks: list[list[str]] = []
    for line in hint.splitlines():
        body = line.removeprefix("#")
        if not body.startswith(" " * 6):
            continue
        code = body[6:]
        starts = code[:1] not in {" ", "}"}  # at the margin and not a closing brace
        if starts or not blocks:
            blocks.append([code])
        else:
            blocks[-1].append(code)
    return ["\n".join(block) for block in blocks]


def settings_of(page: str) -> dict[str, Any]:
    match = SETTINGS.search(page)
    assert match, "the playground's settings are gone from the page"
    return json.loads(match[1])


@pytest.fixture(scope="module")
def schema() -> graphql.GraphQLSchema:
    return build_schema(Settings(**AUTH_ON))._schema


@pytest.mark.parametrize("overrides", [{}, AUTH_ON], ids=["auth-off", "auth-on"])
async def test_the_playground_opens_on_the_examples_and_the_hint(
    overrides: dict[str, str],
) -> None:
    async with gateway_for(UNUSED, UNUSED, **overrides) as (client, _):
        response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text  # open without a token
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Welcome to GraphiQL" not in page
    settings = settings_of(page)
    assert settings["url"] == "/graphql"
    assert settings["defaultQuery"] == GRAPHIQL_DEFAULT_QUERY
    assert settings["tabs"] == [
        {"query": e.query, **({"variables": e.variables} if e.variables else {})} for e in EXAMPLES
    ]
    for text in (HEADER, "login(email:", "every tab sends it"):
        assert text in settings["defaultQuery"]
    # The page shows the sign-in bar, and keeps the Login tab's token for every tab,
    # only when authentication is on (pages/playground.js; tests/browser runs it).
    assert settings["auth"] is (overrides.get("auth") == "on")


def test_the_settings_cannot_end_their_script_element() -> None:
    text = json_in_html({"query": "</script><script>alert(1)</script> <!-- & -->"})
    assert not set("<>&") & set(text)
    assert json.loads(text) == {"query": "</script><script>alert(1)</script> <!-- & -->"}


def test_the_hint_runs_nothing_by_accident() -> None:
    # Comments only: a new tab opens on a document that runs nothing.
    assert all(line.startswith("#") for line in GRAPHIQL_DEFAULT_QUERY.strip().splitlines())


def test_the_hints_examples_are_valid_operations_and_headers(
    schema: graphql.GraphQLSchema,
) -> None:
    found = examples(GRAPHIQL_DEFAULT_QUERY)
    headers = [block for block in found if block.startswith('{"')]
    operations = [block for block in found if block not in headers]
    assert [json.loads(block) for block in headers] == [json.loads(HEADER)]
    assert any("login(" in op for op in operations), operations
    assert any("me" in op for op in operations), operations
    for operation in operations:
        errors = graphql.validate(schema, graphql.parse(operation))
        assert not errors, f"{operation}\n{errors}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_each_example_is_a_valid_operation_named_as_its_tab(
    example: Any, schema: graphql.GraphQLSchema
) -> None:
    document = graphql.parse(example.query)
    assert not graphql.validate(schema, document)
    (operation,) = document.definitions
    assert isinstance(operation, graphql.OperationDefinitionNode)
    assert operation.name is not None
    assert operation.name.value == example.name
    definitions = operation.variable_definitions or ()
    declared = {v.variable.name.value for v in definitions}
    given = json.loads(example.variables) if example.variables else {}
    assert set(given) == declared, "the Variables editor fills every variable, no more"
    coerced = get_variable_values(schema, definitions, given)
    assert not isinstance(coerced, list), coerced  # a list of errors
    if example.name == "Login":
        assert HEADER in example.query


def test_the_examples_start_with_the_dashboard() -> None:
    names = [example.name for example in EXAMPLES]
    assert names == [
        "Dashboard",
        "UserWithOrders",
        "OverdueWork",
        "FindWork",
        "AssignWork",
        "EngineerWork",
        "Progress",
        "Login",
    ]
    assert len(set(names)) == len(names)


def test_the_docs_name_every_tab() -> None:
    """docs/graphql.md's playground section names each tab, and says how many there are."""
    page = (Path(ROOT) / "docs" / "graphql.md").read_text(encoding="utf-8")
    section = page.split("## The playground", 1)[1].split("\n## ", 1)[0]
    for example in EXAMPLES:
        assert f"**{example.name}**" in section
    assert f"{NUMBERS[len(EXAMPLES)]} of them" in " ".join(section.split())
