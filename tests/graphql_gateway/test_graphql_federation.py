"""GraphQL federation over the two services: downstream call counts, values, mutations.

Every call count here is the number of HTTP requests the gateway actually sent
(`ServiceClient.calls`), taken before and after one GraphQL request. The data
is seeded straight into the services (users_process / orders_process), so
seeding never moves the gateway's counters.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from graphql_gateway.clients.orders import OrdersClient
from graphql_gateway.clients.users import UsersClient
from tests.support.graphql import Gateway, counted, gql
from tests.support.procs import RunningProcess

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$")
STATUS_NAMES = {
    "created": "CREATED",
    "in_progress": "IN_PROGRESS",
    "completed": "COMPLETED",
    "cancelled": "CANCELLED",
}
STATUS_CYCLE = ("created", "in_progress", "completed", "cancelled", "completed")


# --- helpers ---------------------------------------------------------------------------


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    return body["data"]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


async def _gather_limited(coros: Sequence[Any], limit: int = 25) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(coro) for coro in coros))


async def seed_users(users_url: str, count: int, *, tag: str = "u") -> list[dict[str, Any]]:
    """`count` users created concurrently on the users service; returned in index order."""
    async with httpx.AsyncClient(base_url=users_url, timeout=30) as http:

        async def create(i: int) -> dict[str, Any]:
            response = await http.post(
                "/users",
                json={"email": f"{tag}{i}@example.com", "name": f"Инженер {tag}{i}"},
            )
            assert response.status_code == 201, response.text
            return response.json()["data"]

        return await _gather_limited([create(i) for i in range(count)])


async def seed_orders(
    orders_url: str, user_ids: Sequence[str], per_user: int
) -> dict[str, list[dict[str, Any]]]:
    """`per_user` orders for each user, statuses cycling; each user's orders oldest first."""
    async with httpx.AsyncClient(base_url=orders_url, timeout=30) as http:

        async def create_for(user_id: str) -> list[dict[str, Any]]:
            made = []
            for j in range(per_user):  # one user's orders in sequence: a known order
                response = await http.post(
                    "/orders",
                    json={
                        "user_id": user_id,
                        "items": [
                            {"product": f"Чокопай {j}", "quantity": 10, "price": 52.00},
                            {"product": "Цемент", "quantity": j + 1, "price": "0.50"},
                        ],
                        "status": STATUS_CYCLE[j % len(STATUS_CYCLE)],
                    },
                )
                assert response.status_code == 201, response.text
                made.append(response.json()["data"])
            return made

        results = await _gather_limited([create_for(user_id) for user_id in user_ids])
    return dict(zip(user_ids, results, strict=True))


# --- a page of N users (or orders) costs two calls whatever N is ------------------------


@pytest.mark.parametrize("n", [1, 10, pytest.param(100, marks=pytest.mark.slow)])
async def test_users_page_with_orders_costs_two_calls(
    gateway_app: Gateway,
    users_process: RunningProcess,
    orders_process: RunningProcess,
    n: int,
) -> None:
    users = await seed_users(users_process.url, n)
    orders = await seed_orders(orders_process.url, [u["id"] for u in users], 5 if n == 100 else 3)

    body, users_calls, orders_calls = await counted(
        gateway_app,
        f"{{ users(limit: {n}) {{ total items {{ id name"
        " orders { id status totalAmount } } } }",
    )

    assert (users_calls, orders_calls) == (1, 1)
    page = data_of(body)["users"]
    assert page["total"] == n
    assert len(page["items"]) == n
    assert {item["id"] for item in page["items"]} == {u["id"] for u in users}
    names = {u["id"]: u["name"] for u in users}
    for item in page["items"]:
        assert item["name"] == names[item["id"]]
        expected = orders[item["id"]]
        assert [o["id"] for o in item["orders"]] == [o["id"] for o in expected]
        assert [o["status"] for o in item["orders"]] == [
            STATUS_NAMES[o["status"]] for o in expected
        ]
        assert [o["totalAmount"] for o in item["orders"]] == [o["total_amount"] for o in expected]


@pytest.mark.parametrize("n", [1, 10, 100])
async def test_orders_page_with_users_costs_two_calls(
    gateway_app: Gateway,
    users_process: RunningProcess,
    orders_process: RunningProcess,
    n: int,
) -> None:
    # Orders spread over many users: the user batch holds up to 20 distinct ids.
    users = await seed_users(users_process.url, min(n, 20))
    per_user = -(-n // len(users))
    orders = await seed_orders(orders_process.url, [u["id"] for u in users], per_user)
    owner_of = {o["id"]: uid for uid, made in orders.items() for o in made}
    names = {u["id"]: u["name"] for u in users}

    body, users_calls, orders_calls = await counted(
        gateway_app,
        f"{{ orders(limit: {n}) {{ total items {{ id userId user {{ id name }} }} }} }}",
    )

    assert (users_calls, orders_calls) == (1, 1)
    page = data_of(body)["orders"]
    assert page["total"] == len(owner_of)
    assert len(page["items"]) == n
    for item in page["items"]:
        owner = owner_of[item["id"]]
        assert item["userId"] == owner
        assert item["user"] == {"id": owner, "name": names[owner]}


async def test_round_trip_user_orders_user_orders_costs_two_calls(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    (user,) = await seed_users(users_process.url, 1)
    orders = (await seed_orders(orders_process.url, [user["id"]], 3))[user["id"]]
    order_ids = [o["id"] for o in orders]

    body, users_calls, orders_calls = await counted(
        gateway_app,
        "query($id: UUID!) { user(id: $id) { id orders { id user { id orders { id } } } } }",
        {"id": user["id"]},
    )

    assert (users_calls, orders_calls) == (1, 1)
    loaded = data_of(body)["user"]
    assert loaded["id"] == user["id"]
    assert [o["id"] for o in loaded["orders"]] == order_ids
    for order in loaded["orders"]:
        assert order["user"]["id"] == user["id"]
        assert [o["id"] for o in order["user"]["orders"]] == order_ids


async def test_user_loaded_by_the_page_is_not_fetched_again(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    users = await seed_users(users_process.url, 5)
    await seed_orders(orders_process.url, [u["id"] for u in users], 2)
    names = {u["id"]: u["name"] for u in users}

    body, users_calls, orders_calls = await counted(
        gateway_app, "{ users { items { id orders { id user { id name } } } } }"
    )

    # The page's users prime the loader: Order.user costs nothing more (2 calls, not 3).
    assert (users_calls, orders_calls) == (1, 1)
    for item in data_of(body)["users"]["items"]:
        assert len(item["orders"]) == 2
        for order in item["orders"]:
            assert order["user"] == {"id": item["id"], "name": names[item["id"]]}


async def test_same_user_asked_twice_in_a_request_is_fetched_once(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    a, b = await seed_users(users_process.url, 2)

    body, users_calls, orders_calls = await counted(
        gateway_app,
        "query($a: UUID!, $b: UUID!) { x: user(id: $a) { name } y: user(id: $a) { email }"
        " z: user(id: $b) { name } }",
        {"a": a["id"], "b": b["id"]},
    )

    assert (users_calls, orders_calls) == (1, 0)
    assert data_of(body) == {
        "x": {"name": a["name"]},
        "y": {"email": a["email"]},
        "z": {"name": b["name"]},
    }


async def test_orders_status_argument_filters_in_memory(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    users = await seed_users(users_process.url, 4)
    orders = await seed_orders(orders_process.url, [u["id"] for u in users], 5)

    body, users_calls, orders_calls = await counted(
        gateway_app,
        "{ users { items { id"
        " done: orders(status: COMPLETED) { id status }"
        " working: orders(status: IN_PROGRESS) { id status }"
        " created: orders(status: CREATED) { id }"
        " all: orders { id } } } }",
    )

    assert (users_calls, orders_calls) == (1, 1)
    items = data_of(body)["users"]["items"]
    assert len(items) == 4
    for item in items:
        mine = orders[item["id"]]

        def having(status: str, mine: list[dict[str, Any]] = mine) -> list[str]:
            return [o["id"] for o in mine if o["status"] == status]

        assert [o["id"] for o in item["done"]] == having("completed")
        assert len(item["done"]) == 2  # statuses cycle: two of five completed
        assert {o["status"] for o in item["done"]} == {"COMPLETED"}
        assert [o["id"] for o in item["working"]] == having("in_progress")
        assert {o["status"] for o in item["working"]} == {"IN_PROGRESS"}
        assert [o["id"] for o in item["created"]] == having("created")
        assert [o["id"] for o in item["all"]] == [o["id"] for o in mine]


async def test_user_with_no_orders_has_an_empty_list(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    (user,) = await seed_users(users_process.url, 1)

    body, users_calls, orders_calls = await counted(
        gateway_app,
        "query($id: UUID!) { user(id: $id) { orders { id } done: orders(status: COMPLETED)"
        " { id } } }",
        {"id": user["id"]},
    )

    assert (users_calls, orders_calls) == (1, 1)
    assert data_of(body) == {"user": {"orders": [], "done": []}}


# --- batches above the services' 500-id limit are split ---------------------------------


async def test_users_by_500_ids_costs_one_users_call(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    # 500 is the most a list argument takes (as on REST); more: tests/hostile.
    real = await seed_users(users_process.url, 3)
    real_ids = [u["id"] for u in real]
    orders = await seed_orders(orders_process.url, real_ids, 2)
    ids = [str(uuid.uuid4()) for _ in range(497)]
    for position, user_id in zip((0, 250, 499), real_ids, strict=True):
        ids.insert(position, user_id)  # first, in the middle, last
    assert len(ids) == 500

    body, users_calls, orders_calls = await counted(
        gateway_app,
        "query($ids: [UUID!]) { users(ids: $ids) { total items { id name orders { id } } } }",
        {"ids": ids},
    )

    assert (users_calls, orders_calls) == (1, 1)
    page = data_of(body)["users"]
    assert page["total"] == 3
    assert sorted(item["id"] for item in page["items"]) == sorted(real_ids)
    for item in page["items"]:
        assert [o["id"] for o in item["orders"]] == [o["id"] for o in orders[item["id"]]]


async def test_users_by_ids_pages_and_counts_what_was_found(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    real = await seed_users(users_process.url, 3)
    ids = [u["id"] for u in real] + [str(uuid.uuid4()) for _ in range(4)]

    body, users_calls, orders_calls = await counted(
        gateway_app,
        "query($ids: [UUID!]) { first: users(ids: $ids, limit: 2) { total items { id } }"
        " rest: users(ids: $ids, limit: 2, offset: 2) { total items { id } }"
        " none: users(ids: []) { total items { id } } }",
        {"ids": ids},
    )

    assert (users_calls, orders_calls) == (1, 0)  # both pages from one loader batch
    result = data_of(body)
    assert result["first"]["total"] == result["rest"]["total"] == 3
    assert len(result["first"]["items"]) == 2
    assert len(result["rest"]["items"]) == 1
    seen = [item["id"] for page in ("first", "rest") for item in result[page]["items"]]
    assert sorted(seen) == sorted(u["id"] for u in real)
    assert result["none"] == {"total": 0, "items": []}


async def test_orders_of_600_users_cost_two_orders_calls(
    gateway_app: Gateway, users_app: FastAPI, orders_process: RunningProcess
) -> None:
    # 600 users in one INSERT into the users service's database: quicker than 600 POSTs.
    async with users_app.state.engine.begin() as conn:
        result = await conn.exec_driver_sql(
            "INSERT INTO users (email, name) SELECT 'bulk' || g || '@example.com', 'Bulk ' || g"
            " FROM generate_series(1, 600) AS g"
        )
        # In the page's order (the users service's), so the first and the last user of
        # the page, which are the first and last keys of the loader's chunks, have orders.
        result = await conn.exec_driver_sql("SELECT id::text FROM users ORDER BY created_at, id")
        user_ids = [row[0] for row in result]
    picked = [user_ids[0], user_ids[450], user_ids[500], user_ids[599]]
    orders = await seed_orders(orders_process.url, picked, 1)

    body, users_calls, orders_calls = await counted(
        gateway_app, "{ users(limit: 600) { total items { id orders { id } } } }"
    )

    assert (users_calls, orders_calls) == (1, 2)  # 600 user ids: chunks of 500 and 100
    page = data_of(body)["users"]
    assert page["total"] == 600
    assert len(page["items"]) == 600
    for item in page["items"]:
        expected = [o["id"] for o in orders.get(item["id"], [])]
        assert [o["id"] for o in item["orders"]] == expected


async def batch_sizes(client: httpx.AsyncClient) -> dict[str, tuple[float, float]]:
    """gateway_dataloader_batch_size from the gateway's /metrics: loader -> (batches, keys)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    sizes: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name in (
                "gateway_dataloader_batch_size_count",
                "gateway_dataloader_batch_size_sum",
            ):
                slot = 0 if sample.name.endswith("_count") else 1
                sizes.setdefault(sample.labels["loader"], [0.0, 0.0])[slot] = sample.value
    return {loader: (count, total) for loader, (count, total) in sizes.items()}


async def test_each_loader_reports_its_batches_under_its_name(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    """The dashboard's batch-size panels read these series by loader name."""
    client, _ = gateway_app
    users = await seed_users(users_process.url, 3, tag="batch")
    await seed_orders(orders_process.url, [u["id"] for u in users], 2)
    before = await batch_sizes(client)

    data_of(await gql(client, "{ orders(limit: 6) { items { id user { id } } } }"))
    data_of(await gql(client, "{ users(limit: 3) { items { id orders { id } } } }"))

    after = await batch_sizes(client)
    assert {"user_by_id", "orders_by_user"} <= set(after)  # (other tests' loaders too)
    for loader in ("user_by_id", "orders_by_user"):  # one batch of the 3 users each
        batches, keys = before.get(loader, (0.0, 0.0))
        assert after[loader] == (batches + 1, keys + 3), loader


async def test_the_stats_loader_reports_its_batches_under_its_name(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    client, _ = gateway_app
    await seed_users(users_process.url, 3, tag="stats-batch")
    before = (await batch_sizes(client)).get("order_stats_by_user", (0.0, 0.0))
    data_of(await gql(client, "{ users(limit: 3) { items { id orderStats { count } } } }"))
    after = (await batch_sizes(client)).get("order_stats_by_user")
    assert after == (before[0] + 1, before[1] + 3)  # one batch of the 3 users


async def test_the_loaders_ask_the_services_only_for_the_fields_the_query_reads(
    gateway_app: Gateway,
    users_process: RunningProcess,
    orders_process: RunningProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A compiled plan tells each loader what its operation reads of the type (smaller
    answers to build, send and parse), keys and what filters need included."""
    asked: dict[str, list[str | None]] = {"users": [], "orders": []}
    users_by_ids, orders_by_user_ids = (
        UsersClient.get_users_by_ids,
        OrdersClient.get_orders_by_user_ids,
    )

    async def users_spy(self: UsersClient, ids: Any, *, fields: str | None = None) -> Any:
        asked["users"].append(fields)
        return await users_by_ids(self, ids, fields=fields)

    async def orders_spy(self: OrdersClient, ids: Any, *, fields: str | None = None) -> Any:
        asked["orders"].append(fields)
        return await orders_by_user_ids(self, ids, fields=fields)

    monkeypatch.setattr(UsersClient, "get_users_by_ids", users_spy)
    monkeypatch.setattr(OrdersClient, "get_orders_by_user_ids", orders_spy)
    client, _ = gateway_app
    users = await seed_users(users_process.url, 2, tag="projection")
    await seed_orders(orders_process.url, [u["id"] for u in users], 1)

    page = data_of(await gql(client, "{ orders(limit: 2) { items { id user { name } } } }"))
    names = sorted(order["user"]["name"] for order in page["orders"]["items"])
    assert names == sorted(u["name"] for u in users)
    page = data_of(await gql(client, "{ users(limit: 2) { items { id orders { totalAmount } } } }"))
    assert all(len(user["orders"]) == 1 for user in page["users"]["items"])
    # An order's assignee only when a resolver reads it (compiled.py, KEYS_FETCHED_FOR).
    query = "{ users(limit: 2) { items { orders { id assignee { name } } } } }"
    page = data_of(await gql(client, query))
    assert all(len(user["orders"]) == 1 for user in page["users"]["items"])
    assert asked == {
        "users": ["id,name"],
        "orders": ["id,status,total_amount,user_id", "assignee_id,id,status,user_id"],
    }


async def test_each_period_of_user_stats_in_one_query_is_its_own(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    """One loader per period (loaders/order_stats_by_user.py): the figures of a page of
    users over today, over a past fortnight and over all time, side by side."""
    client, _ = gateway_app
    users = await seed_users(users_process.url, 2, tag="periods")
    await seed_orders(orders_process.url, [u["id"] for u in users], 3)
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    query = (
        "{ users(limit: 2) { items { id"
        f' now: orderStats(from: "{today}", to: "{today}") {{ count }}'
        ' past: orderStats(from: "2020-01-01", to: "2020-01-14") { count }'
        f' later: orderStats(from: "{tomorrow}") {{ count }}'
        " ever: orderStats { count } } } }"
    )
    page = data_of(await gql(client, query))["users"]["items"]
    assert sorted(user["id"] for user in page) == sorted(u["id"] for u in users)
    for user in page:
        periods = ("now", "past", "later", "ever")
        assert [user[period]["count"] for period in periods] == [3, 0, 0, 3], user


# --- values -----------------------------------------------------------------------------


async def test_field_values_match_the_services(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with httpx.AsyncClient(base_url=users_process.url) as http:
        response = await http.post(
            "/users",
            json={
                "email": "belov@example.com",
                "name": "Белов Ярослав",
                "roles": ["engineer", "manager"],
            },
        )
        user = response.json()["data"]
    async with httpx.AsyncClient(base_url=orders_process.url) as http:
        response = await http.post(
            "/orders",
            json={
                "user_id": user["id"],
                "items": [
                    {"product": "Чокопай", "quantity": 10, "price": 52.00},
                    {"product": "Гвозди", "quantity": 3, "price": "0.33"},
                ],
                "status": "in_progress",
            },
        )
        assert response.status_code == 201, response.text
        order = response.json()["data"]

    body = await gql(
        gateway_app[0],
        """query($u: UUID!, $o: UUID!) {
          user(id: $u) { id email name roles createdAt updatedAt
            orders { id userId status totalAmount createdAt updatedAt
                     items { product quantity price } } }
          order(id: $o) { id userId status totalAmount createdAt updatedAt
                          items { product quantity price } user { id email } }
        }""",
        {"u": user["id"], "o": order["id"]},
    )

    result = data_of(body)
    expected_order = {
        "id": order["id"],
        "userId": user["id"],
        "status": "IN_PROGRESS",
        "totalAmount": "520.99",  # 10 × 52.00 + 3 × 0.33
        "createdAt": order["created_at"],
        "updatedAt": order["updated_at"],
        "items": [
            {"product": "Чокопай", "quantity": 10, "price": "52.00"},
            {"product": "Гвозди", "quantity": 3, "price": "0.33"},
        ],
    }
    assert result["user"] == {
        "id": user["id"],
        "email": "belov@example.com",
        "name": "Белов Ярослав",
        "roles": ["engineer", "manager"],
        "createdAt": user["created_at"],
        "updatedAt": user["updated_at"],
        "orders": [expected_order],
    }
    assert result["order"] == {**expected_order, "user": {"id": user["id"], "email": user["email"]}}
    for stamp in (result["user"]["createdAt"], result["order"]["updatedAt"]):
        assert ISO_UTC.match(stamp), stamp
        offset = datetime.fromisoformat(stamp).utcoffset()
        assert offset is not None
        assert offset.total_seconds() == 0


async def test_pagination_and_filters_report_totals(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    users = []
    for i in range(3):  # one at a time: creation order is list order
        users += await seed_users(users_process.url, 1, tag=f"p{i}-")
    orders = await seed_orders(orders_process.url, [users[0]["id"]], 5)
    await seed_orders(orders_process.url, [users[1]["id"]], 2)
    mine = orders[users[0]["id"]]

    body, users_calls, orders_calls = await counted(
        gateway_app,
        """query($u: UUID!) {
          page: users(limit: 2, offset: 1) { total items { id } }
          beyond: users(limit: 5, offset: 3) { total items { id } }
          empty: users(limit: 0) { total items { id } }
          orders(limit: 2, offset: 1) { total items { id } }
          mine: orders(userId: $u) { total items { id } }
          mineDone: orders(userId: $u, status: COMPLETED) { total items { id status } }
          done: orders(status: COMPLETED, limit: 1) { total items { id } }
        }""",
        {"u": users[0]["id"]},
    )

    assert users_calls == 3
    assert orders_calls == 4
    result = data_of(body)
    assert result["page"] == {"total": 3, "items": [{"id": users[1]["id"]}, {"id": users[2]["id"]}]}
    assert result["beyond"] == {"total": 3, "items": []}
    assert result["empty"] == {"total": 3, "items": []}
    assert result["orders"]["total"] == 7
    assert result["orders"]["items"] == [{"id": mine[1]["id"]}, {"id": mine[2]["id"]}]
    assert result["mine"] == {"total": 5, "items": [{"id": o["id"]} for o in mine]}
    done = [o for o in mine if o["status"] == "completed"]
    assert result["mineDone"] == {
        "total": 2,
        "items": [{"id": o["id"], "status": "COMPLETED"} for o in done],
    }
    assert result["done"]["total"] == 2  # the second user's two are created and in progress
    assert len(result["done"]["items"]) == 1


# --- mutations mirror every REST write ----------------------------------------------------

USER_FIELDS = "id email name roles createdAt updatedAt"
ORDER_FIELDS = "id userId status totalAmount items { product quantity price } createdAt updatedAt"


async def test_user_mutations_create_update_delete(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    client, _ = gateway_app

    created = await gql(
        client,
        f"mutation($input: UserCreateInput!) {{ createUser(input: $input) {{ {USER_FIELDS} }} }}",
        {
            "input": {
                "email": "new@example.com",
                "name": "  Новикова Анна  ",
                "password": "correct horse battery",
                "roles": ["manager"],
            }
        },
    )
    user = data_of(created)["createUser"]
    assert user["email"] == "new@example.com"
    assert user["name"] == "Новикова Анна"
    assert user["roles"] == ["manager"]
    assert ISO_UTC.match(user["createdAt"])
    assert "password" not in str(created)  # neither the password nor its hash

    default_roles = await gql(
        client,
        'mutation { createUser(input: {email: "plain@example.com", name: "Plain"}) { roles } }',
    )
    assert data_of(default_roles)["createUser"]["roles"] == ["user"]

    async with httpx.AsyncClient(base_url=users_process.url) as http:
        stored = (await http.get(f"/users/{user['id']}")).json()["data"]
    assert stored["name"] == "Новикова Анна"

    updated = await gql(
        client,
        f"mutation($id: UUID!, $input: UserUpdateInput!) {{"
        f" updateUser(id: $id, input: $input) {{ {USER_FIELDS} }} }}",
        {"id": user["id"], "input": {"name": "Новикова А.", "roles": ["manager", "director"]}},
    )
    after = data_of(updated)["updateUser"]
    assert after["id"] == user["id"]
    assert after["email"] == "new@example.com"  # untouched
    assert after["name"] == "Новикова А."
    assert after["roles"] == ["manager", "director"]
    assert after["createdAt"] == user["createdAt"]
    assert datetime.fromisoformat(after["updatedAt"]) > datetime.fromisoformat(user["updatedAt"])

    deleted = await gql(client, "mutation($id: UUID!) { deleteUser(id: $id) }", {"id": user["id"]})
    assert data_of(deleted) == {"deleteUser": user["id"]}
    async with httpx.AsyncClient(base_url=users_process.url) as http:
        assert (await http.get(f"/users/{user['id']}")).status_code == 404
    gone = await gql(client, "query($id: UUID!) { user(id: $id) { id } }", {"id": user["id"]})
    assert data_of(gone) == {"user": None}


async def test_delete_user_answers_the_deleted_id(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    client, _ = gateway_app
    (user,) = await seed_users(users_process.url, 1)

    deleted = await gql(client, "mutation($id: UUID!) { deleteUser(id: $id) }", {"id": user["id"]})

    async with httpx.AsyncClient(base_url=users_process.url) as http:
        assert (await http.get(f"/users/{user['id']}")).status_code == 404  # it is gone...
    assert data_of(deleted) == {"deleteUser": user["id"]}  # ...and the answer says so
    gone = await gql(client, "query($id: UUID!) { user(id: $id) { id } }", {"id": user["id"]})
    assert data_of(gone) == {"user": None}


async def test_delete_user_in_a_request_that_loaded_it(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    """A user written earlier in the same request is in the loader's cache: cleared on delete.

    A field after the delete reads the user through the loader (an order's `user`): null.
    """
    client, _ = gateway_app

    body = await gql(
        client,
        'mutation { made: createUser(input: {email: "once@example.com", name: "Once"}) { id } }',
    )
    user_id = data_of(body)["made"]["id"]
    # A finished order: it does not stop the delete, and its `user` can be read after it.
    async with httpx.AsyncClient(base_url=orders_process.url) as http:
        order_body = {"user_id": user_id, "items": [{"product": "x", "quantity": 1, "price": 1}]}
        order_id = (await http.post("/orders", json=order_body)).json()["data"]["id"]
        cancelled = await http.put(f"/orders/{order_id}", json={"status": "cancelled"})
        assert cancelled.status_code == 200
    # Mutation fields run in order: update primes the cache, delete must clear it.
    answer = await gql(
        client,
        'mutation($id: UUID!, $order: UUID!) { updateUser(id: $id, input: {name: "Twice"}) { name }'
        " deleteUser(id: $id)"
        " after: updateOrder(id: $order, input: {status: CANCELLED}) { id user { name } } }",
        {"id": user_id, "order": order_id},
    )
    assert data_of(answer) == {
        "updateUser": {"name": "Twice"},
        "deleteUser": user_id,
        "after": {"id": order_id, "user": None},
    }


async def test_mutation_result_can_be_followed_into_relations(gateway_app: Gateway) -> None:
    body, users_calls, orders_calls = await counted(
        gateway_app,
        'mutation { createUser(input: {email: "rel@example.com", name: "Rel"})'
        " { id name orders { id } } }",
    )

    user = data_of(body)["createUser"]
    assert user["name"] == "Rel"
    assert user["orders"] == []
    assert (users_calls, orders_calls) == (1, 1)


async def test_order_mutations_create_update_delete(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    client, _ = gateway_app
    (user,) = await seed_users(users_process.url, 1)

    created = await gql(
        client,
        f"mutation($input: OrderCreateInput!) {{ createOrder(input: $input)"
        f" {{ {ORDER_FIELDS} user {{ id name }} }} }}",
        {
            "input": {
                "userId": user["id"],
                "items": [
                    {"product": "Чокопай", "quantity": 10, "price": 52},
                    {"product": "Цемент", "quantity": 1, "price": "0.10"},
                    {"product": "Песок", "quantity": 2, "price": 1.25},
                ],
            }
        },
    )
    order = data_of(created)["createOrder"]
    assert order["userId"] == user["id"]
    assert order["user"] == {"id": user["id"], "name": user["name"]}
    assert order["status"] == "CREATED"
    assert order["totalAmount"] == "522.60"
    assert order["items"] == [
        {"product": "Чокопай", "quantity": 10, "price": "52.00"},
        {"product": "Цемент", "quantity": 1, "price": "0.10"},
        {"product": "Песок", "quantity": 2, "price": "1.25"},
    ]
    assert ISO_UTC.match(order["createdAt"])

    literal = await gql(
        client,
        f'mutation {{ createOrder(input: {{userId: "{user["id"]}", status: IN_PROGRESS,'
        f' items: [{{product: "Кирпич", quantity: 4, price: 12.5}}]}}) {{ status totalAmount }} }}',
    )
    assert data_of(literal)["createOrder"] == {"status": "IN_PROGRESS", "totalAmount": "50.00"}

    update = (
        f"mutation($id: UUID!, $input: OrderUpdateInput!) {{"
        f" updateOrder(id: $id, input: $input) {{ {ORDER_FIELDS} }} }}"
    )
    new_items = await gql(
        client,
        update,
        {
            "id": order["id"],
            "input": {"items": [{"product": "Б", "quantity": 2, "price": "1.005"}]},
        },
    )
    # 1.005 has three decimals: the orders service refuses it
    assert error_codes(new_items) == ["VALIDATION_ERROR"]

    new_items = await gql(
        client,
        update,
        {"id": order["id"], "input": {"items": [{"product": "Б", "quantity": 2, "price": "1.50"}]}},
    )
    changed = data_of(new_items)["updateOrder"]
    assert changed["items"] == [{"product": "Б", "quantity": 2, "price": "1.50"}]
    assert changed["totalAmount"] == "3.00"
    assert changed["status"] == "CREATED"

    for status in ("IN_PROGRESS", "COMPLETED"):
        moved = await gql(client, update, {"id": order["id"], "input": {"status": status}})
        assert data_of(moved)["updateOrder"]["status"] == status
        assert data_of(moved)["updateOrder"]["totalAmount"] == "3.00"

    deleted = await gql(
        client, "mutation($id: UUID!) { deleteOrder(id: $id) }", {"id": order["id"]}
    )
    assert data_of(deleted) == {"deleteOrder": order["id"]}
    gone = await gql(client, "query($id: UUID!) { order(id: $id) { id } }", {"id": order["id"]})
    assert data_of(gone) == {"order": None}


# --- integrity rules through the same layer as REST ----------------------------------------


def only_error(body: dict[str, Any], path: list[Any]) -> dict[str, Any]:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["path"] == path
    assert error["message"]
    return error


async def test_create_order_reuses_the_user_it_checked(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    (user,) = await seed_users(users_process.url, 1)
    body, users_calls, orders_calls = await counted(
        gateway_app,
        "mutation($input: OrderCreateInput!) { createOrder(input: $input) { id user { name } } }",
        {
            "input": {
                "userId": user["id"],
                "items": [{"product": "Чокопай", "quantity": 1, "price": "1.00"}],
            }
        },
    )
    assert data_of(body)["createOrder"]["user"] == {"name": user["name"]}
    assert (users_calls, orders_calls) == (1, 1)  # the existence check is the only users call


async def test_create_order_for_unknown_user_is_user_not_found(gateway_app: Gateway) -> None:
    body, users_calls, orders_calls = await counted(
        gateway_app,
        "mutation($input: OrderCreateInput!) { createOrder(input: $input) { id } }",
        {
            "input": {
                "userId": str(uuid.uuid4()),
                "items": [{"product": "Чокопай", "quantity": 1, "price": "1.00"}],
            }
        },
    )

    error = only_error(body, ["createOrder"])
    assert error["extensions"]["code"] == "USER_NOT_FOUND"
    assert (users_calls, orders_calls) == (1, 0)  # nothing was written
    listed = await gql(gateway_app[0], "{ orders { total } }")
    assert data_of(listed) == {"orders": {"total": 0}}


async def test_delete_user_with_active_order_is_refused(
    gateway_app: Gateway, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    client, _ = gateway_app
    (user,) = await seed_users(users_process.url, 1)
    async with httpx.AsyncClient(base_url=orders_process.url) as http:
        response = await http.post(
            "/orders",
            json={
                "user_id": user["id"],
                "items": [{"product": "x", "quantity": 1, "price": 1}],
                "status": "in_progress",
            },
        )
        order_id = response.json()["data"]["id"]

    delete = "mutation($id: UUID!) { deleteUser(id: $id) }"
    refused = await gql(client, delete, {"id": user["id"]})
    error = only_error(refused, ["deleteUser"])
    assert error["extensions"]["code"] == "USER_HAS_ACTIVE_ORDERS"
    still = await gql(client, "query($id: UUID!) { user(id: $id) { id } }", {"id": user["id"]})
    assert data_of(still) == {"user": {"id": user["id"]}}

    done = await gql(
        client,
        "mutation($id: UUID!) { updateOrder(id: $id, input: {status: COMPLETED}) { status } }",
        {"id": order_id},
    )
    assert data_of(done) == {"updateOrder": {"status": "COMPLETED"}}
    allowed = await gql(client, delete, {"id": user["id"]})
    assert "USER_HAS_ACTIVE_ORDERS" not in error_codes(allowed)
    async with httpx.AsyncClient(base_url=users_process.url) as http:
        assert (await http.get(f"/users/{user['id']}")).status_code == 404

    # The finished order stays, as history; its user is gone (null, no error).
    history = await gql(
        client, "query($id: UUID!) { order(id: $id) { id userId user { id } } }", {"id": order_id}
    )
    assert data_of(history) == {"order": {"id": order_id, "userId": user["id"], "user": None}}


async def test_invalid_status_transition_and_locked_items(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    client, _ = gateway_app
    (user,) = await seed_users(users_process.url, 1)
    created = await gql(
        client,
        'mutation($u: UUID!) { createOrder(input: {userId: $u, items: [{product: "x",'
        " quantity: 1, price: 2}]}) { id status } }",
        {"u": user["id"]},
    )
    order_id = data_of(created)["createOrder"]["id"]
    update = (
        "mutation($id: UUID!, $input: OrderUpdateInput!) {"
        " updateOrder(id: $id, input: $input) { id status items { product } } }"
    )

    skipped = await gql(client, update, {"id": order_id, "input": {"status": "COMPLETED"}})
    assert only_error(skipped, ["updateOrder"])["extensions"]["code"] == (
        "INVALID_STATUS_TRANSITION"
    )

    started = await gql(client, update, {"id": order_id, "input": {"status": "IN_PROGRESS"}})
    assert data_of(started)["updateOrder"]["status"] == "IN_PROGRESS"

    locked = await gql(
        client,
        update,
        {"id": order_id, "input": {"items": [{"product": "y", "quantity": 1, "price": 1}]}},
    )
    assert only_error(locked, ["updateOrder"])["extensions"]["code"] == "ORDER_LOCKED"

    backwards = await gql(client, update, {"id": order_id, "input": {"status": "CREATED"}})
    assert only_error(backwards, ["updateOrder"])["extensions"]["code"] == (
        "INVALID_STATUS_TRANSITION"
    )

    unchanged = await gql(
        client,
        "query($id: UUID!) { order(id: $id) { status items { product } } }",
        {"id": order_id},
    )
    assert data_of(unchanged) == {"order": {"status": "IN_PROGRESS", "items": [{"product": "x"}]}}


async def test_create_user_with_duplicate_email_is_email_exists(
    gateway_app: Gateway, users_process: RunningProcess
) -> None:
    client, _ = gateway_app
    (user,) = await seed_users(users_process.url, 1, tag="dup")
    create = "mutation($input: UserCreateInput!) { createUser(input: $input) { id } }"

    for email in (user["email"], user["email"].upper()):
        body = await gql(client, create, {"input": {"email": email, "name": "Twin"}})
        assert only_error(body, ["createUser"])["extensions"]["code"] == "EMAIL_EXISTS"

    (other,) = await seed_users(users_process.url, 1, tag="other")
    taken = await gql(
        client,
        "mutation($id: UUID!, $input: UserUpdateInput!) { updateUser(id: $id, input: $input)"
        " { id } }",
        {"id": other["id"], "input": {"email": user["email"]}},
    )
    assert only_error(taken, ["updateUser"])["extensions"]["code"] == "EMAIL_EXISTS"


async def test_create_user_validation_error_lists_fields(gateway_app: Gateway) -> None:
    body, users_calls, _ = await counted(
        gateway_app,
        "mutation($input: UserCreateInput!) { createUser(input: $input) { id } }",
        {"input": {"email": "not-an-email", "name": "   "}},
    )

    error = only_error(body, ["createUser"])
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    details = error["extensions"]["details"]
    assert {detail["field"] for detail in details} == {"email", "name"}
    assert all(detail["message"] for detail in details)
    assert users_calls == 1
    listed = await gql(gateway_app[0], "{ users { total } }")
    assert data_of(listed) == {"users": {"total": 0}}


async def test_writes_to_unknown_ids_are_not_found(gateway_app: Gateway) -> None:
    client, _ = gateway_app
    missing = str(uuid.uuid4())

    cases = {
        "updateUser": 'mutation($id: UUID!) { updateUser(id: $id, input: {name: "x"}) { id } }',
        "deleteUser": "mutation($id: UUID!) { deleteUser(id: $id) }",
        "updateOrder": (
            "mutation($id: UUID!) { updateOrder(id: $id, input: {status: CANCELLED}) { id } }"
        ),
        "deleteOrder": "mutation($id: UUID!) { deleteOrder(id: $id) }",
    }
    for field, mutation in cases.items():
        body = await gql(client, mutation, {"id": missing})
        assert only_error(body, [field])["extensions"]["code"] == "NOT_FOUND", field
