"""Every JSON body of the three processes is compact, and every timestamp has one format.

Real processes: both services and the gateway (`python -m graphql_gateway`), over one
user and its orders made for this test. The bytes of each body must equal
`orjson.dumps(orjson.loads(body))`: no `{"id" : …}` from PostgreSQL's JSON builders,
no `", "` from `jsonb`. Every timestamp is `2026-11-27T05:28:52.123456+00:00`: six
fractional digits, UTC, even for a time on a whole second (PostgreSQL prints that one
without a fraction).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import orjson
import psycopg

from apicore.db import libpq_url
from tests.support.procs import RunningProcess

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00")
LOOKS_LIKE_A_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
TIMESTAMP_KEYS = {"created_at", "updated_at", "timestamp", "createdAt", "updatedAt"}


def timestamps(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(key, value) of every value that is, or looks like, a timestamp."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from timestamps(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from timestamps(item, key)
    elif key in TIMESTAMP_KEYS or (isinstance(value, str) and LOOKS_LIKE_A_TIME.match(value)):
        yield key, value


def check_body(response: httpx.Response) -> int:
    """The body is compact JSON and its timestamps are in our one format; how many there are."""
    label = f"{response.request.method} {response.request.url}"
    assert response.headers["content-type"].startswith("application/json"), label
    body = response.content
    assert body == orjson.dumps(orjson.loads(body)), f"{label}: not compact:\n{body[:400]!r}"
    found = list(timestamps(orjson.loads(body)))
    for key, value in found:
        assert isinstance(value, str), f"{label}: {key}={value!r}"
        assert TIMESTAMP.fullmatch(value), f"{label}: {key}={value!r} is not {TIMESTAMP.pattern}"
    return len(found)


def user_on_a_whole_second(users_db_url: str) -> str:
    """A user whose timestamps fall on a whole second and on a tenth: PostgreSQL prints
    those as `…:52+00:00` and `…:52.1+00:00`. Written straight into the service's table."""
    user_id = str(uuid.uuid4())
    with psycopg.connect(libpq_url(users_db_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, email, name, roles, created_at, updated_at)"
            " VALUES (%s, %s, 'Whole Second', ARRAY['engineer','manager'],"
            " '2026-11-27 05:28:52+00', '2026-11-27 08:28:52.1+03')",
            (user_id, f"whole-{user_id}@example.com"),
        )
    return user_id


def test_every_rest_body_is_compact_with_one_timestamp_format(
    users_process: RunningProcess,
    orders_process: RunningProcess,
    gateway_process: RunningProcess,
    users_db_url: str,
) -> None:
    user_id = user_on_a_whole_second(users_db_url)
    # Product names with what a naive compaction would break: `": "`, `", "`, quotes.
    items = [
        {"product": 'Бетон М300: "марка", класс B22.5', "quantity": 2, "price": "5400.00"},
        {"product": "a, b", "quantity": 1, "price": 0.5},
    ]
    users, orders, gateway = users_process.url, orders_process.url, gateway_process.url
    with httpx.Client(timeout=10) as http:
        created = http.post(f"{gateway}/orders", json={"user_id": user_id, "items": items})
        assert created.status_code == 201, created.text
        order_id = created.json()["data"]["id"]
        stepped = http.put(f"{orders}/orders/{order_id}", json={"status": "in_progress"})
        responses = [
            created,
            stepped,
            http.post(f"{orders}/orders", json={"user_id": user_id, "items": items}),
            http.post(f"{users}/users", json={"email": f"c-{user_id}@example.com", "name": "C"}),
            http.put(f"{users}/users/{user_id}", json={"name": "Whole Second"}),
        ]
        for base in (users, gateway):
            responses += [
                http.get(f"{base}/users/{user_id}"),
                http.get(f"{base}/users", params={"ids": user_id}),
                http.get(f"{base}/users", params={"ids": user_id, "fields": "id,created_at"}),
                http.get(f"{base}/users", params={"limit": 5}),
                http.get(f"{base}/users/{uuid.uuid4()}"),  # the error envelope
            ]
        for base in (orders, gateway):
            responses += [
                http.get(f"{base}/orders/{order_id}"),
                http.get(f"{base}/orders", params={"userId": user_id}),
                http.get(f"{base}/orders", params={"userIds": user_id, "fields": "id,items"}),
                http.get(f"{base}/orders", params={"limit": 5, "offset": 0}),
            ]
        responses += [
            http.get(f"{gateway}/users/{user_id}/details"),
            http.get(f"{gateway}/health"),
            http.get(f"{users}/health"),
            http.get(f"{gateway}/status"),
        ]
    assert all(response.status_code < 500 for response in responses)
    assert sum(check_body(response) for response in responses) >= 30
    # The whole-second user: the first `GET /users/{id}` (users service) shows both.
    user = responses[5].json()["data"]
    assert user["created_at"] == "2026-11-27T05:28:52.000000+00:00"
    # Moved by the PUT above, to whenever this runs (the same format either way).
    assert datetime.fromisoformat(user["updated_at"]) > datetime.fromisoformat(user["created_at"])
    assert [item["product"] for item in responses[0].json()["data"]["items"]] == [
        'Бетон М300: "марка", класс B22.5',
        "a, b",
    ]
    assert responses[0].json()["data"]["items"][1] == {
        "product": "a, b",
        "quantity": 1,
        "price": "0.50",
    }


def test_graphql_passes_the_services_timestamps_through(
    gateway_process: RunningProcess, users_db_url: str
) -> None:
    user_id = user_on_a_whole_second(users_db_url)
    query = "query($id: UUID!) { user(id: $id) { createdAt updatedAt orders { createdAt } } }"
    response = httpx.post(
        f"{gateway_process.url}/graphql",
        json={"query": query, "variables": {"id": user_id}},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    assert check_body(response) == 2
    user = response.json()["data"]["user"]
    assert user == {
        "createdAt": "2026-11-27T05:28:52.000000+00:00",
        "updatedAt": "2026-11-27T05:28:52.100000+00:00",
        "orders": [],
    }
