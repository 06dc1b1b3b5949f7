"""`gateway_graphql_operations_total` counts every operation a client sends, refusals too.

A document that does not parse, is over a limit, or names an operation it does not hold
is refused while Strawberry parses it: the refusal is raised through the operation's
hooks rather than returned as its result. Each is still counted, once, as `refused`,
labelled with the name the client sent. Run with Strawberry's own hook lookups and with
the cached ones (graphql_gateway/graphql/hooks.py). In process: nothing here reaches a
service.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest

from graphql_gateway.app import create_app
from graphql_gateway.clients import Clients
from graphql_gateway.config import Settings
from tests.support.metrics import sample

NOWHERE = "http://127.0.0.1:9"  # never called


@pytest.fixture(params=[True, False], ids=["cached-hooks", "strawberry-hooks"])
async def gateway(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        users_url=NOWHERE,
        orders_url=NOWHERE,
        graphql_cached_hooks=request.param,
        graphql_max_document_bytes=2048,
        graphql_max_list_items=3,
    )
    app = create_app(settings)
    app.state.clients = Clients.from_settings(settings)  # as the lifespan does
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http
    finally:
        await app.state.clients.aclose()


def counted(operation: str, kind: str, outcome: str) -> float:
    labels = {"operation": operation, "type": kind, "outcome": outcome}
    return sample(generate_latest().decode(), "gateway_graphql_operations_total", **labels)


def name() -> str:
    return "Op" + uuid.uuid4().hex[:12]  # a label no other test counts under


async def _counts_once(
    http: httpx.AsyncClient, body: dict[str, Any], label: str, kind: str, outcome: str
) -> dict[str, Any]:
    before = counted(label, kind, outcome)
    response = await http.post("/graphql", json=body)
    assert response.status_code in (200, 400), response.text
    assert counted(label, kind, outcome) == before + 1
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_document_that_does_not_parse_is_counted_as_refused(
    gateway: httpx.AsyncClient,
) -> None:
    op = name()
    body = {"query": f"query {op} {{ users(", "operationName": op}
    answer = await _counts_once(gateway, body, op, "unknown", "refused")
    assert "Syntax Error" in answer["errors"][0]["message"]


async def test_an_operation_name_the_document_lacks_is_counted_as_refused(
    gateway: httpx.AsyncClient,
) -> None:
    op = name()
    body = {"query": "query Here { __typename }", "operationName": op}
    answer = await _counts_once(gateway, body, op, "unknown", "refused")
    assert answer["errors"][0]["message"] == f"Unknown operation named '{op}'"


async def test_several_operations_and_no_name_is_counted_as_refused_and_anonymous(
    gateway: httpx.AsyncClient,
) -> None:
    body = {"query": "query A { __typename } mutation B { __typename }"}
    answer = await _counts_once(gateway, body, "anonymous", "unknown", "refused")
    assert "operationName is required" in answer["errors"][0]["message"]


async def test_refusals_over_a_limit_are_counted_with_their_operation_type(
    gateway: httpx.AsyncClient,
) -> None:
    op = name()
    padded = {"query": f"query {op} {{ __typename }}" + " " * 4096, "operationName": op}
    answer = await _counts_once(gateway, padded, op, "unknown", "refused")
    assert answer["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    op = name()
    too_many = {
        "query": f"query {op}($ids: [ID!]) {{ __typename }}",
        "operationName": op,
        "variables": {"ids": ["1", "2", "3", "4"]},
    }
    await _counts_once(gateway, too_many, op, "unknown", "refused")


async def test_a_validation_failure_and_a_good_operation_are_counted_as_before(
    gateway: httpx.AsyncClient,
) -> None:
    op = name()
    await _counts_once(gateway, {"query": f"query {op} {{ nope }}"}, op, "query", "refused")
    op = name()
    good = {"query": f"query {op} {{ __typename }}"}
    answer = await _counts_once(gateway, good, op, "query", "ok")
    assert answer == {"data": {"__typename": "Query"}}
