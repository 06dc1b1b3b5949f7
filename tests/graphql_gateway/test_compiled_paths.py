"""The paths of a compiled plan's errors, worked out only when an error is reported.

The plan does not build a path for every object it completes (compiled.py, `PathOf`): a
level's paths are worked out from the level above when a field of it fails. These run a
plan over services answered from memory (the resolvers replaced) where lists are empty,
null, long and short, and a batch below them fails: every error names its object as
the stock executor would (`test_compiled_equivalence.py` compares the two over real
services).
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from graphql_gateway.config import Settings
from graphql_gateway.graphql import resolvers
from graphql_gateway.graphql.compiled import compile_operation, run
from graphql_gateway.graphql.schema import build_schema

USERS_ORDERS_USER = "{ users { items { name orders { id user { name } } } total } }"
# Users 0 and 3 have orders, user 1 none, user 2 a null list (a nullable field).
NO_CONTEXT: Any = object()  # the resolvers below read none
ORDERS_OF = {"u0": ["o0", "o1"], "u1": [], "u2": None, "u3": ["o2"], "u4": ["o3", "o4", "o5"]}


def _plan(query: str) -> Any:
    schema = build_schema(Settings())._schema
    plan = compile_operation(schema, parse(query), None)
    assert plan is not None, "the query must compile"
    return plan


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> None:
    async def users(_: Any, **__: Any) -> dict[str, Any]:
        items = [{"id": key, "name": f"Name {key}"} for key in ORDERS_OF]
        return {"items": items, "total": len(items)}

    async def orders_of_users(_: Any, user_ids: list[str], __: Any) -> list[Any]:
        def orders(user_id: str) -> list[dict[str, Any]] | None:
            ids = ORDERS_OF[user_id]
            return None if ids is None else [{"id": i, "user_id": user_id} for i in ids]

        return [orders(user_id) for user_id in user_ids]

    async def users_of_orders(*_: Any) -> list[Any]:
        raise RuntimeError("users service down")

    monkeypatch.setattr(resolvers, "users", users)
    monkeypatch.setattr(resolvers, "orders_of_users", orders_of_users)
    monkeypatch.setattr(resolvers, "users_of_orders", users_of_orders)


async def test_errors_below_nested_lists_name_their_objects(services: None) -> None:
    result = await run(_plan(USERS_ORDERS_USER), NO_CONTEXT, {})
    assert result.errors is not None
    paths = [error.path for error in result.errors]
    expected = [
        ["users", "items", user, "orders", position, "user"]
        for user, key in enumerate(ORDERS_OF)
        for position in range(len(ORDERS_OF[key] or []))
    ]
    assert paths == expected
    assert all(error.message == "users service down" for error in result.errors)
    assert result.data is not None
    items = result.data["users"]["items"]
    assert [item["orders"] for item in items][1:3] == [[], None]
    assert items[4]["orders"] == [{"id": f"o{n}", "user": None} for n in (3, 4, 5)]


async def test_an_error_of_a_single_object_below_a_list(
    services: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `user(id:)` is one object: its orders' level hangs from a path of one key.
    async def user(_: Any, user_id: str) -> dict[str, Any]:
        return {"id": user_id, "name": "One"}

    monkeypatch.setattr(resolvers, "user", user)
    query = '{ user(id: "00000000-0000-0000-0000-000000000001") { orders { user { name } } } }'
    plan = _plan(query)
    plan.root.fields[0].prefetch = []  # the prefetch asks the loader, not the resolver

    async def orders_of_users(_: Any, user_ids: list[str], __: Any) -> list[Any]:
        return [[{"id": "o0", "user_id": u}, {"id": "o1", "user_id": u}] for u in user_ids]

    monkeypatch.setattr(resolvers, "orders_of_users", orders_of_users)
    result = await run(plan, NO_CONTEXT, {})
    assert result.errors is not None
    assert [error.path for error in result.errors] == [
        ["user", "orders", 0, "user"],
        ["user", "orders", 1, "user"],
    ]
