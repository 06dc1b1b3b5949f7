"""POST /graphql is answered by `GraphQLPost` (graphql/router.py), below FastAPI's request
handling; GET and the other methods by Strawberry's routes, as before. What a client
sees of either is the same: the rest of the GraphQL suite runs on it."""

from __future__ import annotations

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

from tests.support.metrics import requests_counted

QUERY = "{ users(limit: 1) { items { id } } }"


async def test_a_post_skips_fastapis_request_handling_and_a_get_does_not(
    gateway_app: tuple[httpx.AsyncClient, FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    solved = 0
    solve = fastapi.routing.solve_dependencies

    async def counted(*args, **kwargs):
        nonlocal solved
        solved += 1
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    gateway, _ = gateway_app
    before = requests_counted((await gateway.get("/metrics")).text, "/graphql", "POST", "200")
    response = await gateway.post("/graphql", json={"query": QUERY})
    assert response.status_code == 200
    assert response.json() == {"data": {"users": {"items": []}}}
    assert solved == 0
    # Counted under its route, as any route's requests are.
    assert (
        requests_counted((await gateway.get("/metrics")).text, "/graphql", "POST", "200")
        == before + 1
    )

    response = await gateway.get("/graphql", params={"query": QUERY})
    assert response.json() == {"data": {"users": {"items": []}}}
    assert solved == 1  # Strawberry's GET route, through FastAPI
    response = await gateway.put("/graphql", json={"query": QUERY})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
