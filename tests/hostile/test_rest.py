"""A hostile REST client against the three real processes (issue items 6, 11, 12).

The users and orders services run as real processes (tests/conftest.py); the gateway
runs as a real process over them (tests/hostile/conftest.py). Every refusal is checked
for our envelope, its status and code, that nothing was written, and, at the gateway,
that nothing was forwarded (its own `/status` counts downstream calls).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.envelope import data_of, error_of
from tests.support.procs import RunningProcess

JSON = "application/json"
PROCESSES = ("gateway", "users", "orders")
# (process, method, route template): every write that takes a body.
WRITES = [
    ("gateway", "POST", "/users"),
    ("gateway", "PUT", "/users/{user}"),
    ("gateway", "POST", "/orders"),
    ("gateway", "PUT", "/orders/{order}"),
    ("users", "POST", "/users"),
    ("users", "PUT", "/users/{user}"),
    ("orders", "POST", "/orders"),
    ("orders", "PUT", "/orders/{order}"),
]
# Every route of each process (GET/DELETE/POST/PUT), for the query-string rules.
ROUTES = {
    "gateway": [
        ("GET", "/health"),
        ("GET", "/status"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/{user}"),
        ("PUT", "/users/{user}"),
        ("DELETE", "/users/{user}"),
        ("GET", "/users/{user}/details"),
        ("GET", "/orders"),
        ("POST", "/orders"),
        ("GET", "/orders/{order}"),
        ("PUT", "/orders/{order}"),
        ("DELETE", "/orders/{order}"),
    ],
    "users": [
        ("GET", "/health"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/{user}"),
        ("PUT", "/users/{user}"),
        ("DELETE", "/users/{user}"),
    ],
    "orders": [
        ("GET", "/health"),
        ("GET", "/orders"),
        ("POST", "/orders"),
        ("GET", "/orders/{order}"),
        ("PUT", "/orders/{order}"),
        ("DELETE", "/orders/{order}"),
    ],
}
ALL_ROUTES = [(process, method, path) for process in PROCESSES for method, path in ROUTES[process]]


@pytest.fixture(scope="module")
async def clients(
    gateway_process: RunningProcess, users_process: RunningProcess, orders_process: RunningProcess
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    urls = {
        "gateway": gateway_process.url,
        "users": users_process.url,
        "orders": orders_process.url,
    }
    async with (
        httpx.AsyncClient(base_url=urls["gateway"], timeout=10) as gateway,
        httpx.AsyncClient(base_url=urls["users"], timeout=10) as users,
        httpx.AsyncClient(base_url=urls["orders"], timeout=10) as orders,
    ):
        yield {"gateway": gateway, "users": users, "orders": orders}


async def new_user_and_order(clients: dict[str, httpx.AsyncClient]) -> dict[str, str]:
    """A user and an order (created on the services directly)."""
    email = f"hostile-{uuid.uuid4().hex[:12]}@example.com"
    user = data_of(await clients["users"].post("/users", json={"email": email, "name": "H"}), 201)
    order_body = {"user_id": user["id"], "items": [item()]}
    order = data_of(await clients["orders"].post("/orders", json=order_body), 201)
    return {"user": user["id"], "order": order["id"]}


@pytest.fixture(scope="module")
async def ids(clients: dict[str, httpx.AsyncClient]) -> dict[str, str]:
    """A user and an order for this module's tests to aim at.

    Tests compare them before and after a refused request; accepted writes may change
    them, which no test relies on.
    """
    return await new_user_and_order(clients)


def item(product: str = "Чокопай", quantity: Any = 10, price: Any = "52.00") -> dict[str, Any]:
    return {"product": product, "quantity": quantity, "price": price}


def valid_body(method: str, path: str, ids: dict[str, str]) -> dict[str, Any]:
    """A body the route would accept: only what the test changes is wrong."""
    if path.startswith("/users"):
        if method == "POST":
            return {"email": f"hostile-{uuid.uuid4().hex[:12]}@example.com", "name": "Новый"}
        return {"name": "Переименован"}
    if method == "POST":
        return {"user_id": ids["user"], "items": [item(quantity=3)]}
    return {"items": [item(quantity=7)]}


async def snapshot(clients: dict[str, httpx.AsyncClient], ids: dict[str, str]) -> tuple[Any, ...]:
    """Row counts and this test's two rows: equal before and after means nothing written."""
    users, orders, user, order = await asyncio.gather(
        clients["users"].get("/users", params={"limit": 0}),
        clients["orders"].get("/orders", params={"limit": 0}),
        clients["users"].get(f"/users/{ids['user']}"),
        clients["orders"].get(f"/orders/{ids['order']}"),
    )
    return (
        data_of(users) == [] and users.json()["meta"]["total"],
        data_of(orders) == [] and orders.json()["meta"]["total"],
        data_of(user),
        data_of(order),
    )


async def downstream_calls(clients: dict[str, httpx.AsyncClient]) -> dict[str, int]:
    return data_of(await clients["gateway"].get("/status"))["downstream_calls"]


async def send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    content: bytes | None = None,
    content_type: str | None = None,
    params: Any = None,
) -> httpx.Response:
    request = client.build_request(method, path, content=content, params=params)
    request.headers.pop("content-type", None)
    if content_type is not None:
        request.headers["content-type"] = content_type
    return await client.send(request)


async def assert_refused_without_effect(
    clients: dict[str, httpx.AsyncClient],
    ids: dict[str, str],
    process: str,
    method: str,
    path: str,
    status: int,
    code: str,
    **request: Any,
) -> dict[str, Any]:
    before, calls_before = await asyncio.gather(snapshot(clients, ids), downstream_calls(clients))
    response = await send(clients[process], method, path.format(**ids), **request)
    error = error_of(response, status, code)
    assert await snapshot(clients, ids) == before, "something was written"
    # /status itself is the only request the gateway answered in between: no call forwarded.
    assert await downstream_calls(clients) == calls_before
    return error


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


# ----------------------------------------------------------- item 6: writes are JSON only

NOT_JSON_TYPES = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    None,  # no Content-Type at all
    "application/merge-patch+json",  # a +json type is another format: refused too
    "text/json",
    "application/jsonp",
    "application json",
]


@pytest.mark.parametrize("content_type", NOT_JSON_TYPES)
@pytest.mark.parametrize(("process", "method", "path"), WRITES)
async def test_write_that_is_not_json_is_415_and_writes_nothing(
    clients, ids, process, method, path, content_type
):
    body = encoded(valid_body(method, path, ids))
    await assert_refused_without_effect(
        clients,
        ids,
        process,
        method,
        path,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        content=body,
        content_type=content_type,
    )


async def test_two_content_types_are_415(clients, ids):
    body = encoded(valid_body("POST", "/users", ids))
    headers = [("content-type", JSON), ("content-type", "text/plain")]
    response = await clients["gateway"].post("/users", content=body, headers=headers)
    error_of(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    "content_type",
    [
        JSON,
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        'application/json; charset="utf-8"',
    ],
)
@pytest.mark.parametrize(("process", "method", "path"), WRITES)
async def test_json_content_types_are_accepted(clients, ids, process, method, path, content_type):
    body = encoded(valid_body(method, path, ids))
    response = await send(
        clients[process], method, path.format(**ids), content=body, content_type=content_type
    )
    data_of(response, 201 if method == "POST" else 200)


async def test_write_without_body_or_type_says_the_body_is_required(clients, ids):
    for process, method, path in WRITES:
        response = await send(clients[process], method, path.format(**ids))
        assert "JSON" in error_of(response, 400, "BAD_REQUEST")["message"]


# --------------------------------------------- item 12: bodies are UTF-8, as RFC 8259 says

ENCODINGS = {
    "utf-16": lambda text: text.encode("utf-16"),  # with its BOM
    "utf-16-le": lambda text: text.encode("utf-16-le"),
    "utf-16-be": lambda text: text.encode("utf-16-be"),
    "utf-32": lambda text: text.encode("utf-32"),
    "utf-8 with BOM": lambda text: text.encode("utf-8-sig"),
    "windows-1251": lambda text: text.encode("cp1251"),
    "trailing 0xff": lambda text: text.encode("utf-8") + b"\xff",
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize(("process", "method", "path"), WRITES)
async def test_body_not_in_utf8_is_400_everywhere(clients, ids, process, method, path, encoding):
    text = encoded(valid_body(method, path, ids)).decode()  # each has Cyrillic in it
    assert not text.isascii()
    error = await assert_refused_without_effect(
        clients,
        ids,
        process,
        method,
        path,
        400,
        "BAD_REQUEST",
        content=ENCODINGS[encoding](text),
        content_type=JSON,
    )
    assert "UTF-8" in error["message"] or "JSON" in error["message"]


@pytest.mark.parametrize("charset", ["utf-16", "latin-1", "iso-8859-1", "utf-32"])
@pytest.mark.parametrize(("process", "method", "path"), WRITES)
async def test_charset_other_than_utf8_is_400(clients, ids, process, method, path, charset):
    body = encoded(valid_body(method, path, ids))
    await assert_refused_without_effect(
        clients,
        ids,
        process,
        method,
        path,
        400,
        "BAD_REQUEST",
        content=body,
        content_type=f"application/json; charset={charset}",
    )


# ------------------------------------------ item 11: unknown query parameters are refused


@pytest.mark.parametrize(("process", "method", "path"), ALL_ROUTES)
async def test_unknown_query_parameter_is_a_validation_error(clients, ids, process, method, path):
    content = encoded(valid_body(method, path, ids)) if method in {"POST", "PUT"} else None
    error = await assert_refused_without_effect(
        clients,
        ids,
        process,
        method,
        path,
        400,
        "VALIDATION_ERROR",
        content=content,
        content_type=JSON if content else None,
        params={"foo": "bar"},
    )
    assert error["details"] == [{"field": "foo", "message": "Unknown query parameter"}]


@pytest.mark.parametrize("process", ["gateway", "orders"])
async def test_snake_case_user_id_filter_does_not_list_every_order(clients, ids, process):
    error = await assert_refused_without_effect(
        clients,
        ids,
        process,
        "GET",
        "/orders",
        400,
        "VALIDATION_ERROR",
        params={"user_id": ids["user"]},
    )
    assert [detail["field"] for detail in error["details"]] == ["user_id"]


@pytest.mark.parametrize(
    ("process", "path", "params"),
    [
        ("gateway", "/users", [("limit", "1"), ("limit", "2")]),
        ("users", "/users", [("offset", "0"), ("offset", "1")]),
        ("gateway", "/orders", [("userId", "{user}"), ("userId", "{user}")]),
        ("orders", "/orders", [("status", "created"), ("status", "completed")]),
        ("users", "/users", [("ids", "{user}"), ("ids", "{user}")]),
        ("gateway", "/orders", [("total", "true"), ("total", "true")]),
        ("orders", "/orders", [("total", "true"), ("total", "false")]),
        ("users", "/users", [("total", "false"), ("total", "false")]),
    ],
)
async def test_repeated_query_parameter_is_a_validation_error(clients, ids, process, path, params):
    params = [(name, value.format(**ids)) for name, value in params]
    error = await assert_refused_without_effect(
        clients, ids, process, "GET", path, 400, "VALIDATION_ERROR", params=params
    )
    assert error["details"] == [{"field": params[0][0], "message": "Given more than once"}]


@pytest.mark.parametrize("process", PROCESSES)
async def test_known_filters_and_projection_still_work(clients, process):
    fresh = await new_user_and_order(clients)  # of this test alone
    client = clients[process]
    if process != "orders":
        params: dict[str, str | int] = {"ids": fresh["user"], "fields": "name"}
        assert data_of(await client.get("/users", params=params)) == [
            {"id": fresh["user"], "name": "H"}
        ]
    if process != "users":
        params = {"userIds": fresh["user"], "fields": "status", "limit": 5, "offset": 0}
        assert data_of(await client.get("/orders", params=params)) == [
            {"id": fresh["order"], "status": "created"}
        ]
        params = {"userId": fresh["user"], "status": "created"}
        listed = data_of(await client.get("/orders", params=params))
        assert [order["id"] for order in listed] == [fresh["order"]]


# ------------------------------------------------ item 12: numbers as strict as the contract

BAD_PRICES = [
    "1e-400",  # underflows to 0.00 as a float
    "1e2",
    "5E-1",
    "0.5e1",
    "52.000",  # three decimals as written
    "52.001",
    '"1_000"',
    '" 5 "',
    '"5 "',
    '"+5"',
    '"-5"',
    '"5."',
    '".5"',
    '"1e2"',
    '"٥"',  # an Arabic-Indic digit five: Decimal() reads it
    '"0x10"',
    '"NaN"',
    "true",
    "-1",
]
BAD_QUANTITIES = ['"5"', "5.0", "5e0", "true", "0", "1.5"]


def order_text(user_id: str, *, price: str = '"52.00"', quantity: str = "10") -> bytes:
    return (
        f'{{"user_id": "{user_id}", "items": '
        f'[{{"product": "p", "quantity": {quantity}, "price": {price}}}]}}'
    ).encode()


@pytest.mark.parametrize("price", BAD_PRICES)
@pytest.mark.parametrize("process", ["gateway", "orders"])
async def test_price_is_strict(clients, ids, process, price):
    error = await assert_refused_without_effect(
        clients,
        ids,
        process,
        "POST",
        "/orders",
        400,
        "VALIDATION_ERROR",
        content=order_text(ids["user"], price=price),
        content_type=JSON,
    )
    assert [detail["field"] for detail in error["details"]] == ["items.0.price"]


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
@pytest.mark.parametrize("process", ["gateway", "orders"])
async def test_quantity_is_a_json_integer(clients, ids, process, quantity):
    error = await assert_refused_without_effect(
        clients,
        ids,
        process,
        "POST",
        "/orders",
        400,
        "VALIDATION_ERROR",
        content=order_text(ids["user"], quantity=quantity),
        content_type=JSON,
    )
    assert [detail["field"] for detail in error["details"]] == ["items.0.quantity"]


@pytest.mark.parametrize(
    ("price", "served"),
    [("52", "52.00"), ("52.5", "52.50"), ("52.50", "52.50"), ('"0.10"', "0.10"), ("0", "0.00")],
)
@pytest.mark.parametrize("process", ["gateway", "orders"])
async def test_good_prices_are_exact(clients, ids, process, price, served):
    response = await send(
        clients[process],
        "POST",
        "/orders",
        content=order_text(ids["user"], price=price, quantity="3"),
        content_type=JSON,
    )
    order = data_of(response, 201)
    assert order["items"][0]["price"] == served


# ----------------------------------------- item 12: an order's body before its user (422)


async def test_invalid_order_for_a_missing_user_is_400_and_never_asks_for_the_user(clients, ids):
    missing = str(uuid.uuid4())
    for text in (
        order_text(missing, price="1e-400"),
        order_text(missing, quantity='"5"'),
        b'{"user_id": "%s", "items": []}' % missing.encode(),
        b'{"user_id": "%s", "items": [], "extra": 1}' % missing.encode(),
    ):
        await assert_refused_without_effect(
            clients,
            ids,
            "gateway",
            "POST",
            "/orders",
            400,
            "VALIDATION_ERROR",
            content=text,
            content_type=JSON,
        )


async def test_valid_order_for_a_missing_user_is_422(clients, ids):
    before = await downstream_calls(clients)
    response = await send(
        clients["gateway"],
        "POST",
        "/orders",
        content=order_text(str(uuid.uuid4())),
        content_type=JSON,
    )
    error_of(response, 422, "USER_NOT_FOUND")
    after = await downstream_calls(clients)
    assert after["users_service"] == before["users_service"] + 1
    assert after["orders_service"] == before["orders_service"]
