"""GraphiQL (GET /graphql from a browser) tells how to authenticate, in its default query text.

The hint replaces Strawberry's welcome comment: log in with the `login` mutation, then put
`{"Authorization": "Bearer <accessToken>"}` in the Headers tab. The operations it shows
are valid against the schema, and the page opens without a token when auth is on.
"""

from __future__ import annotations

import json
import re

import graphql
import pytest

from graphql_gateway.config import Settings
from graphql_gateway.graphql.router import GRAPHIQL_DEFAULT_QUERY
from graphql_gateway.graphql.schema import build_schema
from tests.conftest import gateway_for

UNUSED = "http://127.0.0.1:9"  # the page calls no service
HEADER = '{"Authorization": "Bearer <accessToken>"}'
AUTH_ON = {"auth": "on", "jwt_secret": "graphiql-hint-test-secret-" + "x" * 32}


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


@pytest.mark.parametrize("overrides", [{}, AUTH_ON], ids=["auth-off", "auth-on"])
async def test_graphiql_page_shows_how_to_send_the_token(overrides: dict[str, str]) -> None:
    async with gateway_for(UNUSED, UNUSED, **overrides) as (client, _):
        response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text  # open without a token
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "graphiql" in page.lower()
    match = re.search(r"const EXAMPLE_QUERY = `([^`]*)`;", page)
    assert match, "GraphiQL's default query is gone from the page"
    assert match[1] == GRAPHIQL_DEFAULT_QUERY
    assert "Welcome to GraphiQL" not in page
    assert HEADER in page
    assert "login(email:" in page
    assert "Headers tab" in page


def test_the_hint_fits_in_a_javascript_template_literal() -> None:
    assert "`" not in GRAPHIQL_DEFAULT_QUERY
    assert "${" not in GRAPHIQL_DEFAULT_QUERY
    assert "\\" not in GRAPHIQL_DEFAULT_QUERY
    assert "</script" not in GRAPHIQL_DEFAULT_QUERY.lower()
    # Comments only: the editor opens on a document that runs nothing by accident.
    assert all(line.startswith("#") for line in GRAPHIQL_DEFAULT_QUERY.strip().splitlines())


def test_the_hints_examples_are_valid_operations_and_headers() -> None:
    schema = build_schema(Settings(**AUTH_ON))._schema
    found = examples(GRAPHIQL_DEFAULT_QUERY)
    headers = [block for block in found if block.startswith('{"')]
    operations = [block for block in found if block not in headers]
    assert [json.loads(block) for block in headers] == [json.loads(HEADER)]
    assert any("login(" in op for op in operations), operations
    assert any("me" in op for op in operations), operations
    for operation in operations:
        errors = graphql.validate(schema, graphql.parse(operation))
        assert not errors, f"{operation}\n{errors}"
