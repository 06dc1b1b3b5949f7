"""Optimistic concurrency: ETag on every single resource, If-Match on writes, 412 when stale.

Through the gateway (REST and GraphQL) over real service processes, and on the services.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from apicore.versions import version_of_timestamp
from tests.support.procs import RunningProcess
from tests.support.services import own_gateway

ITEMS = [{"product": "Кирпич", "quantity": 3, "price": "12.00"}]


@pytest.fixture(scope="module")
def gateway_process(pg_server: str, logs_dir: Path) -> Iterator[RunningProcess]:
    """A gateway over services of this module's own: the data it writes stays here."""
    with own_gateway(pg_server, logs_dir, "versions") as (gateway, _, _):
        yield gateway


@pytest.fixture
async def http(gateway_process: RunningProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_process.url, timeout=10) as client:
        yield client


async def new_user(http: httpx.AsyncClient) -> httpx.Response:
    email = f"v-{uuid.uuid4().hex[:10]}@versions.example"
    response = await http.post("/users", json={"email": email, "name": "Версия"})
    assert response.status_code == 201
    return response


def assert_precondition_failed(response: httpx.Response) -> None:
    assert response.status_code == 412, response.text
    assert response.json()["error"]["code"] == "PRECONDITION_FAILED"


async def test_every_single_user_answer_has_its_version_and_it_moves_on_real_changes(
    http: httpx.AsyncClient,
) -> None:
    created = await new_user(http)
    user = created.json()["data"]
    tag = created.headers["etag"]
    assert tag == f'"{version_of_timestamp(user["updated_at"])}"'
    assert (await http.get(f"/users/{user['id']}")).headers["etag"] == tag
    same = await http.put(f"/users/{user['id']}", json={"name": user["name"]})
    assert same.headers["etag"] == tag  # nothing changed: no new version
    assert same.json()["data"]["updated_at"] == user["updated_at"]
    renamed = await http.put(
        f"/users/{user['id']}", json={"name": "Другое имя"}, headers={"if-match": tag}
    )
    assert renamed.status_code == 200
    assert renamed.headers["etag"] != tag
    stale = await http.put(
        f"/users/{user['id']}", json={"name": "Третье"}, headers={"if-match": tag}
    )
    assert_precondition_failed(stale)
    assert (await http.get(f"/users/{user['id']}")).json()["data"]["name"] == "Другое имя"


@pytest.mark.parametrize(
    ("if_match", "outcome"),
    [
        ("*", 200),
        ('W/"{v}"', 412),
        ('"{v}"', 200),
        ('"1", "{v}"', 200),
        ('"garbage"', 412),
        # Empty list elements are ignored (RFC 9110 lists); what is no tag list is 400.
        (',"1",, "{v}",', 200),
        ("{v}", 400),
        ('"1" "{v}"', 400),
        ('*, "{v}"', 400),
        ("", 400),
    ],
)
async def test_if_match_forms(http: httpx.AsyncClient, if_match: str, outcome: int) -> None:
    created = await new_user(http)
    version = created.headers["etag"].strip('"')
    user_id = created.json()["data"]["id"]
    response = await http.put(
        f"/users/{user_id}",
        json={"name": "Новое"},
        headers={"if-match": if_match.format(v=version)},
    )
    assert response.status_code == outcome, response.text


async def test_a_stale_delete_is_412_and_leaves_the_user_and_its_order_book_as_they_were(
    http: httpx.AsyncClient,
) -> None:
    created = await new_user(http)
    user_id, tag = created.json()["data"]["id"], created.headers["etag"]
    await http.put(f"/users/{user_id}", json={"name": "Изменён"})
    assert_precondition_failed(await http.delete(f"/users/{user_id}", headers={"if-match": tag}))
    assert (await http.get(f"/users/{user_id}")).status_code == 200
    order = await http.post("/orders", json={"user_id": user_id, "items": ITEMS})
    assert order.status_code == 201  # the saga reopened the book
    await http.put(f"/orders/{order.json()['data']['id']}", json={"status": "cancelled"})
    current = (await http.get(f"/users/{user_id}")).headers["etag"]
    deleted = await http.delete(f"/users/{user_id}", headers={"if-match": current})
    assert deleted.status_code == 200


async def test_two_managers_editing_one_order_cannot_both_win(http: httpx.AsyncClient) -> None:
    user_id = (await new_user(http)).json()["data"]["id"]
    order = await http.post("/orders", json={"user_id": user_id, "items": ITEMS})
    assert order.status_code == 201
    order_id, tag = order.json()["data"]["id"], order.headers["etag"]
    assert (await http.get(f"/orders/{order_id}")).headers["etag"] == tag
    edits = [
        http.put(
            f"/orders/{order_id}",
            json={"items": [{**ITEMS[0], "quantity": n}]},
            headers={"if-match": tag},
        )
        for n in (4, 5)
    ]
    results = await asyncio.gather(*edits)
    assert sorted(r.status_code for r in results) == [200, 412]
    winner = next(r for r in results if r.status_code == 200)
    final = await http.get(f"/orders/{order_id}")
    assert final.json()["data"]["items"] == winner.json()["data"]["items"]
    assert final.headers["etag"] == winner.headers["etag"]
    assert_precondition_failed(await http.delete(f"/orders/{order_id}", headers={"if-match": tag}))
    gone = await http.delete(f"/orders/{order_id}", headers={"if-match": final.headers["etag"]})
    assert gone.status_code == 200


async def test_racing_no_op_updates_do_not_move_anything(http: httpx.AsyncClient) -> None:
    user_id = (await new_user(http)).json()["data"]["id"]
    order = (await http.post("/orders", json={"user_id": user_id, "items": ITEMS})).json()["data"]
    answers = await asyncio.gather(
        *(http.put(f"/orders/{order['id']}", json={"status": "created"}) for _ in range(20))
    )
    assert {a.json()["data"]["updated_at"] for a in answers} == {order["updated_at"]}
    assert len({a.headers["etag"] for a in answers}) == 1


async def test_graphql_version_and_expected_version(
    http: httpx.AsyncClient, gateway_process: RunningProcess
) -> None:
    user_id = (await new_user(http)).json()["data"]["id"]
    order = await http.post("/orders", json={"user_id": user_id, "items": ITEMS})
    order_id, tag = order.json()["data"]["id"], order.headers["etag"].strip('"')
    read = await http.post(
        "/graphql",
        json={"query": f'{{ order(id: "{order_id}") {{ version user {{ version }} }} }}'},
    )
    assert read.json()["data"]["order"]["version"] == tag
    mutation = (
        "mutation($id: UUID!, $v: String) { updateOrder(id: $id, input: {status: IN_PROGRESS},"
        " expectedVersion: $v) { status version } }"
    )
    stale = await http.post(
        "/graphql",
        json={"query": mutation, "variables": {"id": order_id, "v": "20000101000000000000"}},
    )
    body = stale.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "PRECONDITION_FAILED"
    assert body["errors"][0]["path"] == ["updateOrder"]
    # It names what a GraphQL client sent, not the header REST clients send.
    assert "(expectedVersion)" in body["errors"][0]["message"]
    assert "If-Match" not in body["errors"][0]["message"]
    fresh = await http.post(
        "/graphql", json={"query": mutation, "variables": {"id": order_id, "v": tag}}
    )
    updated = fresh.json()["data"]["updateOrder"]
    assert updated["status"] == "IN_PROGRESS"
    assert updated["version"] != tag
