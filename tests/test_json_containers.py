"""The one walk over parsed JSON input (apicore/jsonbody.py `json_containers`).

GraphQL's body depth limit (graphql_gateway/graphql/router.py `json_depth_exceeds`)
and its list limit on variables (graphql_gateway/graphql/limits.py `longest_list`)
both read it: what each reports is checked here on the shapes clients can send.
"""

from __future__ import annotations

from typing import Any

import pytest

from apicore.jsonbody import json_containers
from graphql_gateway.graphql.limits import longest_list
from graphql_gateway.graphql.router import json_depth_exceeds


def _nested(depth: int) -> Any:
    value: Any = 0
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_every_container_with_its_key_and_depth() -> None:
    value = {"a": [1, {"b": []}], "c": "text", "d": {}}
    found = sorted((key, depth, repr(c)) for key, c, depth in json_containers(value, "v"))
    assert found == [
        ("a", 1, "[1, {'b': []}]"),
        ("a", 2, "{'b': []}"),  # an array's items sit under the array's key
        ("b", 3, "[]"),
        ("d", 1, "{}"),
        ("v", 0, repr(value)),
    ]


@pytest.mark.parametrize("value", [None, 0, -(2**63), 1e308, "", "\x00", "é" * 1000, True])
def test_a_scalar_has_no_containers(value: Any) -> None:
    assert list(json_containers(value)) == []
    assert json_depth_exceeds(value, 0) is False
    assert longest_list(value, 0) is None


def test_depth_limit_counts_containers_only() -> None:
    assert json_depth_exceeds(_nested(32), 32) is False
    assert json_depth_exceeds(_nested(33), 32) is True
    assert json_depth_exceeds({"a": {}}, 1) is True  # an empty object still nests
    assert json_depth_exceeds({"a": "x" * 10_000}, 1) is False


def test_deep_input_does_not_recurse() -> None:
    """Nested far past the interpreter's recursion limit: answered, no RecursionError."""
    deep = _nested(200_000)
    assert json_depth_exceeds(deep, 32) is True
    assert longest_list(deep, 1) is None
    assert sum(1 for _ in json_containers(deep)) == 200_000


@pytest.mark.parametrize(
    ("variables", "name"),
    [
        ({"ids": list(range(501))}, "ids"),
        ({"ids": list(range(500))}, None),
        ({"input": {"items": [{"tags": ["t"] * 501}]}}, "tags"),
        ({"matrix": [[0] * 501]}, "matrix"),  # items of a list sit under its key
        ({"\x00é\U0001f600": [None] * 501}, "\x00é\U0001f600"),
        ([[0] * 501], "variables"),
    ],
)
def test_the_long_list_is_named_by_its_key(variables: Any, name: str | None) -> None:
    assert longest_list(variables, 500) == name
