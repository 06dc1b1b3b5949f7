"""Abuse limits on /graphql, each enforced before any downstream call; GraphiQL.

Defaults (GATEWAY_ settings): depth 10, 30 aliases, 2,000 tokens, 1 MiB bodies,
introspection on (development). Documents over 64 KiB, field counts and costs:
tests/hostile/test_graphql.py. Depth is counted as strawberry's QueryDepthLimiter counts it
(graphql-depth-limit): a root field is at depth 0, so `{ user { orders { id } } }`
is 2 deep.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import _truncate, gateway_for
from tests.support.graphql import counters
from tests.support.procs import RunningProcess

Gateway = tuple[httpx.AsyncClient, FastAPI]


async def post(gateway: Gateway, query: str) -> tuple[dict[str, Any], tuple[int, int]]:
    """The response to one query, and the (users, orders) calls it cost."""
    client, app = gateway
    before = counters(app)
    response = await client.post("/graphql", json={"query": query})
    after = counters(app)
    assert response.status_code == 200, response.text
    return response.json(), (after[0] - before[0], after[1] - before[1])


def assert_refused(body: dict[str, Any], calls: tuple[int, int], fragment: str) -> None:
    assert calls == (0, 0), "a refused query reached a service"
    assert body.get("data") is None
    assert body["errors"], body
    assert any(fragment in error["message"] for error in body["errors"]), body
    for error in body["errors"]:
        assert error.get("extensions", {}).get("code") == "BAD_REQUEST", body


def nested(depth: int) -> str:
    """`user { orders { user { orders ... { id } } } }` with its leaf `id` at `depth`."""
    opening = " ".join("orders {" if level % 2 else "user {" for level in range(1, depth))
    return f'{{ user(id: "{uuid.uuid4()}") {{ {opening} id {"}" * (depth - 1)} }} }}'


# --- depth ------------------------------------------------------------------------------------


async def test_depth_ten_is_allowed(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    # Five nested lists of orders are over the default cost (10⁵ with 10 assumed per
    # list): the cost limit is tested in tests/hostile, depth alone here.
    async with gateway_for(users_process.url, orders_process.url, graphql_max_cost=10**9) as gw:
        body, calls = await post(gw, nested(10))

    # No such user: one users call, and the one for its orders, asked for at the same time
    # (compiled plans start `user(id:) { orders }` together: compiled.PREFETCH).
    assert body == {"data": {"user": None}}
    assert calls == (1, 1)


@pytest.mark.parametrize("depth", [11, 12, 30])
async def test_deeper_than_ten_is_refused(gateway_app: Gateway, depth: int) -> None:
    body, calls = await post(gateway_app, nested(depth))

    assert_refused(body, calls, "exceeds maximum operation depth of 10")


async def test_depth_through_fragments_is_counted(gateway_app: Gateway) -> None:
    query = (
        "query { users { items { ...U } } }"
        " fragment U on User { orders { user { orders { user { orders { user { orders {"
        " user { orders { id } } } } } } } } } }"
    )

    body, calls = await post(gateway_app, query)

    assert_refused(body, calls, "exceeds maximum operation depth")


async def test_depth_limit_follows_the_setting(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with gateway_for(users_process.url, orders_process.url, graphql_max_depth=3) as gateway:
        allowed, calls = await post(gateway, nested(3))
        assert allowed == {"data": {"user": None}}
        assert calls == (1, 1)  # the user's orders were asked for with it (compiled.PREFETCH)

        refused, calls = await post(gateway, nested(4))
        assert_refused(refused, calls, "exceeds maximum operation depth of 3")


# --- aliases ----------------------------------------------------------------------------------


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: users(limit: 1) {{ total }}" for i in range(count)) + " }"


async def test_thirty_aliases_are_allowed(gateway_app: Gateway) -> None:
    body, calls = await post(gateway_app, aliased(30))

    assert "errors" not in body, body
    assert body["data"] == {f"a{i}": {"total": 0} for i in range(30)}
    assert calls == (30, 0)


async def test_thirty_one_aliases_are_refused(gateway_app: Gateway) -> None:
    body, calls = await post(gateway_app, aliased(31))

    assert_refused(body, calls, "31 aliases found. Allowed: 30")


async def test_aliases_are_counted_across_nested_fields(gateway_app: Gateway) -> None:
    inner = " ".join(f"o{i}: orders {{ id }}" for i in range(20))
    outer = " ".join(f"n{i}: name" for i in range(11))
    body, calls = await post(gateway_app, f"{{ users {{ items {{ {outer} {inner} }} }} }}")

    assert_refused(body, calls, "31 aliases found")


# --- tokens -----------------------------------------------------------------------------------


def with_ids(count: int) -> str:
    """4 aliased `uN: users(ids: [...]) { total }`: 50 tokens around `count` strings.

    At most 500 ids a list; 1,950 UUIDs are ~78 KB, over the 64 KiB document limit,
    which the token tests lift (commas are not tokens).
    """
    ids = [f'"{uuid.uuid4()}"' for _ in range(count)]
    quarter = -(-count // 4)
    fields = " ".join(
        f"u{i}: users(ids: [{', '.join(ids[i * quarter : (i + 1) * quarter])}]) {{ total }}"
        for i in range(4)
    )
    return f"{{ {fields} }}"


@pytest.fixture
async def large_documents(
    users_process: RunningProcess, orders_process: RunningProcess, users_app: FastAPI
) -> AsyncIterator[Gateway]:
    """A gateway taking documents up to 1 MiB, over an emptied users table (its tests count
    users: whatever another module left there is not theirs)."""
    await _truncate(users_app, "users")
    async with gateway_for(
        users_process.url, orders_process.url, graphql_max_document_bytes=1024 * 1024
    ) as gateway:
        yield gateway


async def test_two_thousand_tokens_are_allowed(large_documents: Gateway) -> None:
    body, calls = await post(large_documents, with_ids(1950))

    assert "errors" not in body, body
    assert body["data"] == {f"u{i}": {"total": 0} for i in range(4)}
    assert calls == (4, 0)  # 1,950 ids: 4 batches of at most 500


async def test_over_two_thousand_tokens_are_refused(large_documents: Gateway) -> None:
    body, calls = await post(large_documents, with_ids(1951))

    assert_refused(body, calls, "more than 2000 tokens")


async def test_many_small_tokens_are_refused(gateway_app: Gateway) -> None:
    fields = " ".join(["__typename"] * 2100)
    body, calls = await post(gateway_app, f"{{ users {{ total {fields} }} }}")

    assert_refused(body, calls, "more than 2000 tokens")


# --- body size --------------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A valid GraphQL request of exactly `size` bytes (a comment fills the query)."""
    head, tail = b'{"query": "{ users { total } } #', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def test_body_of_one_mib_is_accepted(large_documents: Gateway) -> None:
    client, _ = large_documents
    # A comment is not a token: the body limit, not the token limit, is what is tested
    # here (the 64 KiB document limit is lifted; tests/hostile tests that one).
    response = await client.post(
        "/graphql",
        content=padded(1024 * 1024),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"users": {"total": 0}}}


async def test_body_over_one_mib_is_413(gateway_app: Gateway) -> None:
    client, app = gateway_app
    before = counters(app)

    response = await client.post(
        "/graphql",
        content=padded(1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )

    assert counters(app) == before
    assert response.status_code == 413
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_streamed_body_over_one_mib_is_413(gateway_app: Gateway) -> None:
    """No Content-Length: the body is counted as it arrives."""
    client, app = gateway_app
    before = counters(app)
    body = padded(2 * 1024 * 1024)

    async def chunks() -> Any:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )

    assert counters(app) == before
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


# --- introspection ----------------------------------------------------------------------------

INTROSPECTION = "{ __schema { types { name } } }"


async def test_introspection_works_by_default(gateway_app: Gateway) -> None:
    body, calls = await post(gateway_app, INTROSPECTION)

    assert "errors" not in body, body
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"User", "Order", "OrderItem", "UserPage", "OrderPage", "OrderStatus"} <= names
    assert calls == (0, 0)


async def test_introspection_can_be_disabled(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with gateway_for(
        users_process.url, orders_process.url, graphql_introspection=False
    ) as gateway:
        body, calls = await post(gateway, INTROSPECTION)
        assert_refused(body, calls, "introspection")

        type_query, calls = await post(gateway, '{ __type(name: "User") { name } }')
        assert_refused(type_query, calls, "introspection")

        # Ordinary queries still work (__typename is not introspection of the schema).
        ordinary, calls = await post(gateway, "{ users(limit: 1) { __typename total } }")
        assert "errors" not in ordinary, ordinary
        assert ordinary["data"]["users"]["__typename"] == "UserPage"
        assert calls == (1, 0)


# --- GraphiQL -----------------------------------------------------------------------------------


async def test_graphiql_is_served_to_a_browser(gateway_app: Gateway) -> None:
    client, app = gateway_app
    before = counters(app)

    response = await client.get(
        "/graphql", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
    assert counters(app) == before


async def test_get_query_is_answered_as_json(gateway_app: Gateway) -> None:
    client, _ = gateway_app

    response = await client.get(
        "/graphql", params={"query": "{ users { total } }"}, headers={"accept": "application/json"}
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"users": {"total": 0}}}
