"""What is measured: one request shape per scenario and gateway."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from bench.environment import Environment

DASHBOARD_OURS = "{ users(limit: 100) { items { id name orders { id status totalAmount } } } }"
DASHBOARD_PEER = "{ users(limit: 100) { id name orders { id total_amount status } } }"
# The dashboard with each user's figures (docs/graphql.md): still one call per service.
DASHBOARD_STATS_OURS = (
    "{ users(limit: 100) { items { id name orders { id status totalAmount dueDate overdue } "
    "orderStats { count totalAmount overdue byStatus { status count totalAmount } } } } }"
)
FRONT_OURS = '{ user(id: "%s") { id name email orders { id status totalAmount } } }'
FRONT_PEER = '{ user(id: "%s") { id name email orders { id total_amount status } } }'


@dataclass(frozen=True)
class Request:
    url: str
    method: str = "GET"
    body: str | None = None
    status: int = 200
    expect: str = '"success":true'
    reject: str = ""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    targets: dict[str, Request]  # gateway (or "direct") -> what to send it


def _graphql(
    base: str, query: str, expect: str, headers: tuple[tuple[str, str], ...] = ()
) -> Request:
    body = json.dumps({"query": query})
    return Request(f"{base}/graphql", "POST", body, 200, expect, '"errors"', headers)


def scenarios(env: Environment) -> list[Scenario]:
    ours = env.gateways["ours"].url
    peers = {name: proc.url for name, proc in env.gateways.items() if name != "ours"}
    assert env.users is not None
    assert env.orders is not None
    assert env.open_circuit_gateway is not None
    user_id = random.Random(7).choice(env.user_ids)

    s1 = {"ours": _graphql(ours, DASHBOARD_OURS, '"orders"')}
    s2 = {"ours": _graphql(ours, FRONT_OURS % user_id, '"orders"')}
    s3 = {
        "ours": Request(f"{ours}/users/{user_id}"),
        "direct": Request(f"{env.users.url}/users/{user_id}"),
    }
    if env.auth_gateway is not None:
        # The same requests with GATEWAY_AUTH=on and a manager's token (reads everything).
        auth, bearer = env.auth_gateway.url, (("Authorization", f"Bearer {env.auth_token}"),)
        s1["ours+auth"] = _graphql(auth, DASHBOARD_OURS, '"orders"', bearer)
        s2["ours+auth"] = _graphql(auth, FRONT_OURS % user_id, '"orders"', bearer)
        s3["ours+auth"] = Request(f"{auth}/users/{user_id}", headers=bearer)
    if env.bare_gateway is not None:
        # The same requests to ours without metrics.
        bare = env.bare_gateway.url
        s1["ours-metrics"] = _graphql(bare, DASHBOARD_OURS, '"orders"')
        s2["ours-metrics"] = _graphql(bare, FRONT_OURS % user_id, '"orders"')
        s3["ours-metrics"] = Request(f"{bare}/users/{user_id}")
    for name, url in peers.items():
        s1[name] = _graphql(url, DASHBOARD_PEER, '"orders"')
        s2[name] = _graphql(url, FRONT_PEER % user_id, '"orders"')
    order_body = json.dumps(
        {"user_id": user_id, "items": [{"product": "Чокопай", "quantity": 10, "price": 52.00}]}
    )
    return [
        Scenario("S1", "dashboard: 100 users with their orders", s1),
        Scenario("S2", "front end: one user with its orders", s2),
        Scenario("S3", "REST passthrough GET /users/{id}", s3),
        Scenario(
            "S4", "GET /users/{id}/details", {"ours": Request(f"{ours}/users/{user_id}/details")}
        ),
        Scenario(
            "S5",
            "writes: POST /orders",
            {"ours": Request(f"{ours}/orders", "POST", order_body, 201)},
        ),
        Scenario(
            "S6",
            "orders circuit open: GET /orders",
            {
                "ours": Request(
                    f"{env.open_circuit_gateway.url}/orders",
                    status=503,
                    expect="SERVICE_UNAVAILABLE",
                )
            },
        ),
        Scenario(
            "S7",
            "dashboard with stats: 100 users, their orders and order stats",
            {"ours": _graphql(ours, DASHBOARD_STATS_OURS, '"orderStats"')},
        ),
        Scenario(
            "S8",
            "report: GET /orders/stats over every order",
            {
                "ours": Request(f"{ours}/orders/stats"),
                "direct": Request(f"{env.orders.url}/orders/stats"),
            },
        ),
    ]
