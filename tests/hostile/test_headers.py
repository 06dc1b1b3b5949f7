"""Request headers a hostile or broken client sends, against the three real processes.

If-Match, Idempotency-Key and Authorization that are non-ASCII (raw bytes on the wire),
malformed, or sent on two header lines are 400 VALIDATION_ERROR naming the header, in
our envelope, from the gateway and from each service called directly (apicore/headers.py),
and nothing is written: the resource keeps its version, no row appears, the gateway calls
no service, and a refused user delete leaves the user's order book open (a new order for
them right after is 201). GraphQL refuses a charset other than UTF-8 as REST does.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from apicore.jsonbody import NOT_UTF8
from tests.support.envelope import data_of, error_of
from tests.support.procs import RunningProcess

JSON = "application/json"
ITEMS = [{"product": "Заголовок", "quantity": 2, "price": "10.00"}]
# (process, resource): every route that reads If-Match, by the process that serves it.
CONDITIONAL = [
    ("gateway", "users"),
    ("gateway", "orders"),
    ("users", "users"),
    ("orders", "orders"),
]
CREATES = [("gateway", "users"), ("gateway", "orders"), ("users", "users"), ("orders", "orders")]
# Header values no process may act on: raw bytes, as a client writes them on the wire.
NON_ASCII = b'"\xe9"'
MALFORMED_IF_MATCH = [
    NON_ASCII,
    b"20261201191307123456",  # a version without its quotes
    b"",  # a condition that names nothing
    b'"1" "2"',  # two tags without a comma
    b'*, "1"',  # `*` is alone or not at all
    b'"\xc3\xa9"',  # UTF-8 is not ASCII either
]


@pytest.fixture(scope="module")
async def clients(
    gateway_process: RunningProcess, users_process: RunningProcess, orders_process: RunningProcess
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(base_url=gateway_process.url, timeout=10) as gateway,
        httpx.AsyncClient(base_url=users_process.url, timeout=10) as users,
        httpx.AsyncClient(base_url=orders_process.url, timeout=10) as orders,
    ):
        yield {"gateway": gateway, "users": users, "orders": orders}


async def new_user(clients: dict[str, httpx.AsyncClient]) -> dict[str, Any]:
    email = f"headers-{uuid.uuid4().hex[:12]}@example.com"
    answer = await clients["users"].post("/users", json={"email": email, "name": "Заголовки"})
    return data_of(answer, 201)


async def new_order(clients: dict[str, httpx.AsyncClient], user_id: str) -> dict[str, Any]:
    body = {"user_id": user_id, "items": ITEMS}
    return data_of(await clients["orders"].post("/orders", json=body), 201)


async def stale_and_current(
    clients: dict[str, httpx.AsyncClient], resource: str
) -> tuple[str, str, str]:
    """A resource changed once: (its path, the tag it had, the tag it has)."""
    user = await new_user(clients)
    change: dict[str, Any]
    if resource == "users":
        path, change = f"/users/{user['id']}", {"name": "Изменён"}
    else:
        order = await new_order(clients, user["id"])
        path, change = f"/orders/{order['id']}", {"items": [{**ITEMS[0], "quantity": 5}]}
    service = clients[resource]
    stale = (await service.get(path)).headers["etag"]
    data_of(await service.put(path, json=change))
    current = await service.get(path)
    assert current.headers["etag"] != stale
    return path, stale, current.headers["etag"]


async def totals(clients: dict[str, httpx.AsyncClient]) -> tuple[int, int]:
    users, orders = await asyncio.gather(
        clients["users"].get("/users", params={"limit": 0}),
        clients["orders"].get("/orders", params={"limit": 0}),
    )
    return users.json()["meta"]["total"], orders.json()["meta"]["total"]


async def downstream_calls(clients: dict[str, httpx.AsyncClient]) -> dict[str, int]:
    return data_of(await clients["gateway"].get("/status"))["downstream_calls"]


def assert_header_refused(response: httpx.Response, field: str) -> dict[str, Any]:
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == [field], error
    assert all(detail["message"] for detail in error["details"])
    return error


async def send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: Any = None,
) -> httpx.Response:
    """`headers` go on the wire as they are: raw bytes, repeated names."""
    content = None if body is None else orjson.dumps(body)
    if content is not None:
        headers = [(b"content-type", JSON.encode()), *headers]
    request = client.build_request(method, path, content=content, headers=headers)
    return await client.send(request)


# ----------------------------------------------------------------------------- If-Match


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize(("process", "resource"), CONDITIONAL)
async def test_an_unreadable_if_match_is_400_and_writes_nothing(
    clients: dict[str, httpx.AsyncClient], process: str, resource: str, method: str
) -> None:
    path, stale, current = await stale_and_current(clients, resource)
    body = {"name": "Не записано"} if resource == "users" else {"items": ITEMS}
    cases = [[(b"if-match", value)] for value in MALFORMED_IF_MATCH]
    # Two lines, the stale tag first: read as the first only, this was a 412; as one
    # combined list (RFC 9110), a 200. Neither: 400.
    cases.append([(b"if-match", stale.encode()), (b"if-match", current.encode())])
    cases.append([(b"if-match", current.encode()), (b"if-match", current.encode())])
    for headers in cases:
        calls = await downstream_calls(clients)
        answer = await send(
            clients[process], method, path, headers, body if method == "PUT" else None
        )
        assert_header_refused(answer, "If-Match")
        assert await downstream_calls(clients) == calls, "the gateway called a service"
        kept = await clients[resource].get(path)
        assert kept.status_code == 200, f"{headers!r} deleted it"
        assert kept.headers["etag"] == current, f"{headers!r} changed it"
    # The same current tag on one line is what the write needed all along.
    one_list = f"{stale}, {current}".encode()
    answer = await send(clients[process], method, path, [(b"if-match", one_list)], body)
    data_of(answer)


@pytest.mark.parametrize("process", ["gateway", "users"])
async def test_a_user_delete_with_an_unreadable_if_match_leaves_the_order_book_open(
    clients: dict[str, httpx.AsyncClient], process: str
) -> None:
    user = await new_user(clients)
    path = f"/users/{user['id']}"
    current = (await clients["users"].get(path)).headers["etag"].encode()
    for headers in [
        [(b"if-match", NON_ASCII)],
        [(b"if-match", b"not-a-tag")],
        [(b"if-match", b'"20000101000000000000"'), (b"if-match", current)],
    ]:
        assert_header_refused(await send(clients[process], "DELETE", path, headers), "If-Match")
        assert (await clients["users"].get(path)).status_code == 200
        # Right after, not 15 s later: the book was never closed.
        order = {"user_id": user["id"], "items": ITEMS}
        data_of(await clients["gateway"].post("/orders", json=order), 201)
    book = await clients["orders"].get(f"/internal/users/{user['id']}/order-book")
    assert data_of(book)["closed"] is False


async def test_the_raw_byte_on_the_wire_is_refused_by_every_process(
    gateway_process: RunningProcess, users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    """Byte 0xE9 in If-Match, written by hand on a socket (no client library in between)."""
    for process, resource in [
        (gateway_process, "users"),
        (users_process, "users"),
        (orders_process, "orders"),
    ]:
        port = int(process.url.rsplit(":", 1)[1])
        head = (
            f"DELETE /{resource}/{uuid.uuid4()} HTTP/1.1\r\nHost: x\r\n".encode()
            + b'If-Match: "\xe9"\r\nConnection: close\r\n\r\n'
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        status_line, _, rest = data.partition(b"\r\n")
        assert status_line.split()[1] == b"400", data[:300]
        body = orjson.loads(rest.partition(b"\r\n\r\n")[2])
        assert body["success"] is False
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert body["error"]["details"][0]["field"] == "If-Match"


# ------------------------------------------------------------------------ Idempotency-Key


@pytest.mark.parametrize(("process", "resource"), CREATES)
async def test_an_unreadable_or_repeated_idempotency_key_is_400_and_creates_nothing(
    clients: dict[str, httpx.AsyncClient], process: str, resource: str
) -> None:
    user = await new_user(clients)
    key = uuid.uuid4().hex.encode()
    for headers in [
        [(b"idempotency-key", b"key-\xe9")],
        [(b"idempotency-key", b"two words")],
        [(b"idempotency-key", b"")],
        [(b"idempotency-key", key), (b"idempotency-key", uuid.uuid4().hex.encode())],
        [(b"idempotency-key", key), (b"idempotency-key", key)],
    ]:
        body: dict[str, Any]
        if resource == "users":
            body = {"email": f"key-{uuid.uuid4().hex[:12]}@example.com", "name": "Ключ"}
        else:
            body = {"user_id": user["id"], "items": ITEMS}
        before, calls = await totals(clients), await downstream_calls(clients)
        answer = await send(clients[process], "POST", f"/{resource}", headers, body)
        assert_header_refused(answer, "Idempotency-Key")
        assert await totals(clients) == before, f"{headers!r} created something"
        assert await downstream_calls(clients) == calls
    # The key alone, once: it creates (the key was never taken by the refusals).
    answer = await send(clients[process], "POST", f"/{resource}", [(b"idempotency-key", key)], body)
    data_of(answer, 201)


# ---------------------------------------------------------------------------- Authorization


@pytest.mark.parametrize("process", ["gateway", "users", "orders"])
async def test_an_unreadable_or_repeated_authorization_is_400_with_auth_off_too(
    clients: dict[str, httpx.AsyncClient], process: str
) -> None:
    """With auth off nobody reads it, but a request that names two callers is still refused
    (a service behind a proxy that reads the other one must not see a different caller)."""
    resource = "orders" if process == "orders" else "users"
    for headers in [
        [(b"authorization", b"Bearer \xe9")],
        [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
    ]:
        answer = await send(clients[process], "GET", f"/{resource}", headers)
        assert_header_refused(answer, "Authorization")


# ------------------------------------------------------------------- several problems at once


async def test_every_bad_header_is_named_once(clients: dict[str, httpx.AsyncClient]) -> None:
    user = await new_user(clients)
    headers = [
        (b"if-match", b"a"),
        (b"if-match", b"b"),
        (b"if-match", b"c"),
        (b"authorization", b"x"),
        (b"authorization", b"y"),
    ]
    answer = await send(clients["gateway"], "DELETE", f"/users/{user['id']}", headers)
    error = error_of(answer, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["If-Match", "Authorization"]


# ------------------------------------------------------------------------------ X-Request-ID


@pytest.mark.parametrize("process", ["gateway", "users", "orders"])
async def test_two_request_ids_are_replaced_by_a_fresh_one_not_refused(
    clients: dict[str, httpx.AsyncClient], process: str
) -> None:
    headers = [(b"x-request-id", b"first-id"), (b"x-request-id", b"second-id")]
    answer = await send(clients[process], "GET", "/health", headers)
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] not in {"first-id", "second-id"}
    alone = await send(clients[process], "GET", "/health", [(b"x-request-id", b"first-id")])
    assert alone.headers["x-request-id"] == "first-id"


# ----------------------------------------------------------------------- GraphQL as REST does


async def test_graphql_refuses_a_charset_other_than_utf8_as_rest_does(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    email = f"gql-{uuid.uuid4().hex[:12]}@example.com"
    mutation = f'mutation {{ createUser(input: {{email: "{email}", name: "X"}}) {{ id }} }}'
    latin = "application/json; charset=latin-1"
    before = await totals(clients)
    graphql = await clients["gateway"].post(
        "/graphql", content=orjson.dumps({"query": mutation}), headers={"content-type": latin}
    )
    rest = await clients["gateway"].post(
        "/users",
        content=orjson.dumps({"email": email, "name": "X"}),
        headers={"content-type": latin},
    )
    rest_error = error_of(rest, 400, "BAD_REQUEST")
    assert graphql.status_code == rest.status_code == 400, graphql.text
    (error,) = graphql.json()["errors"]
    assert error["extensions"]["code"] == rest_error["code"] == "BAD_REQUEST"
    assert error["message"] == rest_error["message"] == NOT_UTF8
    assert await totals(clients) == before
    # Two Content-Type lines: 415, as REST answers them.
    two = await send(
        clients["gateway"],
        "POST",
        "/graphql",
        [(b"content-type", b"application/json")],
        {"query": "{ __typename }"},
    )
    assert two.status_code == 415, two.text
    # UTF-8, said or not: served.
    for content_type in ["application/json; charset=utf-8", "application/json"]:
        served = await clients["gateway"].post(
            "/graphql",
            content=orjson.dumps({"query": "{ __typename }"}),
            headers={"content-type": content_type},
        )
        assert served.json() == {"data": {"__typename": "Query"}}


async def test_graphql_expected_version_that_is_no_tag_is_400_and_writes_nothing(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    """`expectedVersion` becomes the If-Match the gateway sends: one no service could
    read is refused before any call (it used to reach the HTTP client and fail there)."""
    user = await new_user(clients)
    path = f"/users/{user['id']}"
    tag = (await clients["users"].get(path)).headers["etag"]
    mutation = (
        "mutation($id: UUID!, $v: String) {"
        ' updateUser(id: $id, input: {name: "Не записано"}, expectedVersion: $v) { id } }'
    )
    for version in ["é", 'x", "y', "with space"]:
        calls = await downstream_calls(clients)
        answer = await clients["gateway"].post(
            "/graphql", json={"query": mutation, "variables": {"id": user["id"], "v": version}}
        )
        (error,) = answer.json()["errors"]
        assert error["extensions"]["code"] == "VALIDATION_ERROR", error
        assert error["extensions"]["details"][0]["field"] == "expectedVersion"
        assert await downstream_calls(clients) == calls
        assert (await clients["users"].get(path)).headers["etag"] == tag
    # A version as read is what the mutation needs: it writes.
    answer = await clients["gateway"].post(
        "/graphql",
        json={"query": mutation, "variables": {"id": user["id"], "v": tag.strip('"')}},
    )
    assert answer.json() == {"data": {"updateUser": {"id": user["id"]}}}
