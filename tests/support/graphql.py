"""GraphQL requests in tests, and the downstream calls each one cost."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

Gateway = tuple[httpx.AsyncClient, FastAPI]


def counters(app: FastAPI) -> tuple[int, int]:
    return app.state.clients.users.calls, app.state.clients.orders.calls


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    response = await client.post("/graphql", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


async def counted(
    gateway: Gateway, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], int, int]:
    """The response and the (users, orders) HTTP calls this one request cost."""
    client, app = gateway
    users_before, orders_before = counters(app)
    body = await gql(client, query, variables)
    users_after, orders_after = counters(app)
    return body, users_after - users_before, orders_after - orders_before
