"""The orders service's REST contract (docs/contract.md), in process and over a real socket."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.envelope import data_of, error_of

ORDER_FIELDS = {
    "id",
    "user_id",
    "assignee_id",
    "items",
    "status",
    "total_amount",
    "due_date",
    "overdue",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
}
STATUSES = ("created", "in_progress", "completed", "cancelled")
# How to reach each status from a fresh order through allowed transitions only.
PATH_TO = {
    "created": [],
    "in_progress": ["in_progress"],
    "completed": ["in_progress", "completed"],
    "cancelled": ["cancelled"],
}
SPEC_EXAMPLE = (
    '{"user_id": "%s", "items": [{"product": "Чокопай", "quantity": 10, "price": 52.00}]}'
)


# --------------------------------------------------------------------------- helpers


def item(product: str = "Чокопай", quantity: Any = 10, price: Any = "52.00") -> dict[str, Any]:
    return {"product": product, "quantity": quantity, "price": price}


def order_body(user_id: uuid.UUID | str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": str(user_id or uuid.uuid4()), "items": [item()]}
    body.update(fields)
    return body


def assert_validation(response: httpx.Response, field: str, message: str | None = None) -> None:
    """400 VALIDATION_ERROR whose details name `field` (and say `message`, when given)."""
    error = error_of(response, 400, "VALIDATION_ERROR")
    details = error["details"]
    assert all(set(d) == {"field", "message"} for d in details), details
    fields = {d["field"]: d["message"] for d in details}
    assert field in fields, details
    if message is not None:
        assert fields[field] == message, details


def assert_utc_timestamp(value: str) -> datetime:
    assert value.endswith("+00:00"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    return data_of(await client.post("/orders", json=order_body(**fields)), 201)


async def put(client: httpx.AsyncClient, order_id: str, **fields: Any) -> httpx.Response:
    return await client.put(f"/orders/{order_id}", json=fields)


async def order_in(client: httpx.AsyncClient, status: str, **fields: Any) -> dict[str, Any]:
    """A fresh order brought to `status` through allowed transitions."""
    order = await create(client, **fields)
    for step in PATH_TO[status]:
        order = data_of(await put(client, order["id"], status=step))
    assert order["status"] == status
    return order


async def fetch(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    return data_of(await client.get(f"/orders/{order_id}"))


async def create_for(client: httpx.AsyncClient, user_id: uuid.UUID, count: int) -> list[str]:
    return [(await create(client, user_id=user_id))["id"] for _ in range(count)]


# --------------------------------------------------------------------------- create


async def test_create_spec_example_verbatim(orders_client: httpx.AsyncClient) -> None:
    user_id = uuid.uuid4()
    response = await orders_client.post(
        "/orders",
        content=(SPEC_EXAMPLE % user_id).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "data"}
    assert body["success"] is True
    order = body["data"]
    assert set(order) == ORDER_FIELDS
    assert uuid.UUID(order["id"])
    assert order["user_id"] == str(user_id)
    assert order["items"] == [{"product": "Чокопай", "quantity": 10, "price": "52.00"}]
    assert order["total_amount"] == "520.00"
    assert order["status"] == "created"
    created_at = assert_utc_timestamp(order["created_at"])
    updated_at = assert_utc_timestamp(order["updated_at"])
    assert created_at <= updated_at
    assert abs(datetime.now(created_at.tzinfo) - created_at) < timedelta(minutes=5)

    assert await fetch(orders_client, order["id"]) == order


@pytest.mark.parametrize(("price", "served"), [("52.00", "52.00"), ("52", "52.00"), (52, "52.00")])
async def test_create_price_as_string_or_number(
    orders_client: httpx.AsyncClient, price: Any, served: str
) -> None:
    order = await create(orders_client, items=[item(quantity=2, price=price)])
    assert order["items"][0]["price"] == served
    assert order["total_amount"] == "104.00"


async def test_create_with_status(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client, status="in_progress")
    assert order["status"] == "in_progress"
    assert (await fetch(orders_client, order["id"]))["status"] == "in_progress"


async def test_create_with_unknown_status(orders_client: httpx.AsyncClient) -> None:
    assert_validation(await orders_client.post("/orders", json=order_body(status="new")), "status")


async def test_create_trims_product(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client, items=[item(product="  Цемент М500  ")])
    assert order["items"][0]["product"] == "Цемент М500"


# --------------------------------------------------------------------------- money


@pytest.mark.parametrize("price", ["0.10", 0.1])
async def test_total_is_exact_decimal(orders_client: httpx.AsyncClient, price: Any) -> None:
    order = await create(orders_client, items=[item(quantity=3, price=price)])
    assert order["items"][0]["price"] == "0.10"
    assert order["total_amount"] == "0.30"


async def test_total_sums_every_item(orders_client: httpx.AsyncClient) -> None:
    items = [item("Доска", 2, "19.99"), item("Гвозди", 3, 0.01), item("Саморезы", 1, "0")]
    order = await create(orders_client, items=items)
    assert order["total_amount"] == "40.01"
    assert [i["price"] for i in order["items"]] == ["19.99", "0.01", "0.00"]


@pytest.mark.parametrize("price", ["1.005", 1.005, "0.001"])
async def test_price_with_three_decimals_is_refused(
    orders_client: httpx.AsyncClient, price: Any
) -> None:
    response = await orders_client.post("/orders", json=order_body(items=[item(price=price)]))
    assert_validation(response, "items.0.price")


async def test_price_error_names_the_item(orders_client: httpx.AsyncClient) -> None:
    body = order_body(items=[item(), item(price="1.005")])
    assert_validation(await orders_client.post("/orders", json=body), "items.1.price")


@pytest.mark.parametrize(
    "items",
    [
        [item(quantity=1_000_000, price=1000)],
        [item(quantity=1, price="99999999.99"), item(quantity=1, price="0.01")],
        [item(quantity=1_000_000, price="100.00")],
    ],
    ids=["one-item", "sum-of-items", "just-over"],
)
async def test_total_overflow_is_a_validation_error(
    orders_client: httpx.AsyncClient, items: list[dict[str, Any]]
) -> None:
    response = await orders_client.post("/orders", json=order_body(items=items))
    assert_validation(response, "items")


@pytest.mark.parametrize(
    "items",
    [[item(quantity=1, price="99999999.99")], [item(quantity=1_000_000, price="99.99")]],
)
async def test_largest_total_is_accepted(
    orders_client: httpx.AsyncClient, items: list[dict[str, Any]]
) -> None:
    order = await create(orders_client, items=items)
    expected = "99999999.99" if items[0]["quantity"] == 1 else "99990000.00"
    assert order["total_amount"] == expected
    assert (await fetch(orders_client, order["id"]))["total_amount"] == expected


@pytest.mark.parametrize(
    "price",
    ["-1", -0.01, "NaN", "nan", "Infinity", "-Infinity", "abc", "", None, True, [], "100000000"],
)
async def test_bad_price_is_refused(orders_client: httpx.AsyncClient, price: Any) -> None:
    response = await orders_client.post("/orders", json=order_body(items=[item(price=price)]))
    assert_validation(response, "items.0.price")


@pytest.mark.parametrize("price", ["-0", "-0.00", -0.0])
async def test_negative_zero_price_is_never_served_as_negative(
    orders_client: httpx.AsyncClient, price: Any
) -> None:
    """Money leaves the API as a plain two-decimal string: "-0.00" is not one."""
    response = await orders_client.post("/orders", json=order_body(items=[item(price=price)]))
    if response.status_code == 400:
        assert_validation(response, "items.0.price")
        return
    order = data_of(response, 201)
    assert order["items"][0]["price"] == "0.00"
    assert order["total_amount"] == "0.00"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_non_finite_json_number_price_is_refused(
    orders_client: httpx.AsyncClient, literal: bytes
) -> None:
    """Python's JSON parser lets NaN/Infinity literals (and overflowing numbers) through."""
    body = b'{"user_id": "%s", "items": [{"product": "x", "quantity": 1, "price": %s}]}' % (
        str(uuid.uuid4()).encode(),
        literal,
    )
    response = await orders_client.post(
        "/orders", content=body, headers={"Content-Type": "application/json"}
    )
    assert_validation(response, "items.0.price")


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, 1.5, "10", True, None])
async def test_bad_quantity_is_refused(orders_client: httpx.AsyncClient, quantity: Any) -> None:
    response = await orders_client.post(
        "/orders", json=order_body(items=[item(quantity=quantity, price="1.00")])
    )
    assert_validation(response, "items.0.quantity")


async def test_quantity_bounds_are_accepted(orders_client: httpx.AsyncClient) -> None:
    items = [item(quantity=1, price="1.00"), item(quantity=1_000_000, price="0.01")]
    order = await create(orders_client, items=items)
    assert [i["quantity"] for i in order["items"]] == [1, 1_000_000]
    assert order["total_amount"] == "10001.00"


@pytest.mark.parametrize("product", ["", "   ", "x" * 201, None, 5])
async def test_bad_product_is_refused(orders_client: httpx.AsyncClient, product: Any) -> None:
    response = await orders_client.post("/orders", json=order_body(items=[item(product=product)]))
    assert_validation(response, "items.0.product")


async def test_product_with_a_nul_character_is_not_a_server_error(
    orders_client: httpx.AsyncClient,
) -> None:
    """PostgreSQL's jsonb cannot hold \\u0000: the API must refuse it, not answer 500."""
    product = "Чоко\u0000пай"
    response = await orders_client.post("/orders", json=order_body(items=[item(product=product)]))
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert_validation(response, "items.0.product")
    else:
        assert data_of(response, 201)["items"][0]["product"] == product
    order = await create(orders_client)
    response = await put(orders_client, order["id"], items=[item(product=product)])
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert_validation(response, "items.0.product")
    else:
        assert data_of(response)["items"][0]["product"] == product


async def test_product_of_200_characters_is_accepted(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client, items=[item(product="ж" * 200)])
    assert order["items"][0]["product"] == "ж" * 200


@pytest.mark.parametrize("count", [0, 101])
async def test_item_count_out_of_bounds(orders_client: httpx.AsyncClient, count: int) -> None:
    items = [item(quantity=1, price="1.00") for _ in range(count)]
    assert_validation(await orders_client.post("/orders", json=order_body(items=items)), "items")


async def test_hundred_items_are_accepted(orders_client: httpx.AsyncClient) -> None:
    items = [item(f"Позиция {n}", 1, "1.50") for n in range(100)]
    order = await create(orders_client, items=items)
    assert len(order["items"]) == 100
    assert order["items"][99]["product"] == "Позиция 99"
    assert order["total_amount"] == "150.00"


@pytest.mark.parametrize("items", [None, "Чокопай", {"product": "x"}, [1]])
async def test_items_of_the_wrong_shape(orders_client: httpx.AsyncClient, items: Any) -> None:
    response = await orders_client.post("/orders", json=order_body(items=items))
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert all(d["field"].startswith("items") for d in error["details"]), error


async def test_missing_fields(orders_client: httpx.AsyncClient) -> None:
    response = await orders_client.post("/orders", json={})
    assert_validation(response, "user_id")
    assert_validation(response, "items")
    items_only = {"items": [item()]}
    assert_validation(await orders_client.post("/orders", json=items_only), "user_id")


@pytest.mark.parametrize("field", ["discount", "total_amount", "id", "created_at"])
async def test_unknown_top_level_field(orders_client: httpx.AsyncClient, field: str) -> None:
    body = order_body(**{field: "1.00"})
    response = await orders_client.post("/orders", json=body)
    assert_validation(response, field, "Unknown field")


async def test_unknown_item_field(orders_client: httpx.AsyncClient) -> None:
    body = order_body(items=[{**item(), "discount": "5.00"}])
    response = await orders_client.post("/orders", json=body)
    assert_validation(response, "items.0.discount", "Unknown field")


@pytest.mark.parametrize("user_id", ["not-a-uuid", "123", "", 42, None])
async def test_malformed_user_id(orders_client: httpx.AsyncClient, user_id: Any) -> None:
    body = {"user_id": user_id, "items": [item()]}
    assert_validation(await orders_client.post("/orders", json=body), "user_id")


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'"order"', b""])
async def test_body_not_a_json_object(orders_client: httpx.AsyncClient, content: bytes) -> None:
    response = await orders_client.post(
        "/orders", content=content, headers={"Content-Type": "application/json"}
    )
    error_of(response, 400, "BAD_REQUEST")


async def test_body_over_one_mebibyte(orders_client: httpx.AsyncClient) -> None:
    body = order_body(items=[item(product="x" * 200, quantity=1, price="1.00")] * 100)
    body["padding"] = "x" * (1024 * 1024)
    response = await orders_client.post("/orders", json=body)
    error_of(response, 413, "PAYLOAD_TOO_LARGE")


async def test_put_without_a_body(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client)
    error_of(await orders_client.put(f"/orders/{order['id']}"), 400, "BAD_REQUEST")


async def test_refused_create_stores_nothing(orders_client: httpx.AsyncClient) -> None:
    body = order_body(items=[item(quantity=1_000_000, price=1000)])
    assert_validation(await orders_client.post("/orders", json=body), "items")
    listing = await orders_client.get("/orders")
    assert data_of(listing) == []
    assert listing.json()["meta"]["total"] == 0


# --------------------------------------------------------------------------- lifecycle

ALLOWED = [
    ("created", "in_progress"),
    ("created", "cancelled"),
    ("in_progress", "completed"),
    ("in_progress", "cancelled"),
]
REFUSED = [
    ("created", "completed"),
    ("in_progress", "created"),
    ("completed", "created"),
    ("completed", "in_progress"),
    ("completed", "cancelled"),
    ("cancelled", "created"),
    ("cancelled", "in_progress"),
    ("cancelled", "completed"),
]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
async def test_allowed_transition(
    orders_client: httpx.AsyncClient, current: str, target: str
) -> None:
    order = await order_in(orders_client, current)
    updated = data_of(await put(orders_client, order["id"], status=target))
    assert updated["status"] == target
    assert updated["items"] == order["items"]
    assert updated["total_amount"] == order["total_amount"]
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
        order["updated_at"]
    )
    assert (await fetch(orders_client, order["id"]))["status"] == target


@pytest.mark.parametrize(("current", "target"), REFUSED)
async def test_refused_transition(
    orders_client: httpx.AsyncClient, current: str, target: str
) -> None:
    order = await order_in(orders_client, current)
    response = await put(orders_client, order["id"], status=target)
    error_of(response, 409, "INVALID_STATUS_TRANSITION")
    assert await fetch(orders_client, order["id"]) == order


@pytest.mark.parametrize("status", STATUSES)
async def test_same_status_is_a_no_op(orders_client: httpx.AsyncClient, status: str) -> None:
    """Setting the status an order already has changes nothing, `updated_at` included."""
    order = await order_in(orders_client, status)
    updated = data_of(await put(orders_client, order["id"], status=status))
    assert updated == order
    assert await fetch(orders_client, order["id"]) == order


@pytest.mark.parametrize("status", STATUSES)
async def test_put_of_the_current_values_is_a_no_op(
    orders_client: httpx.AsyncClient, status: str
) -> None:
    """A legacy client sends the whole order back unchanged: nothing moves, nothing is refused
    (unchanged items are no change, so not one a locked order refuses)."""
    order = await order_in(orders_client, status)
    same = {"user_id": order["user_id"], "items": order["items"], "status": status}
    updated = data_of(await put(orders_client, order["id"], **same))
    assert updated == order
    assert await fetch(orders_client, order["id"]) == order


async def test_items_change_while_created(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client)
    new_items = [item("Кирпич", 1000, "12.35"), item("Раствор", 3, 0.1)]
    updated = data_of(await put(orders_client, order["id"], items=new_items))
    assert updated["items"] == [
        {"product": "Кирпич", "quantity": 1000, "price": "12.35"},
        {"product": "Раствор", "quantity": 3, "price": "0.10"},
    ]
    assert updated["total_amount"] == "12350.30"
    assert updated["status"] == "created"
    assert updated["id"] == order["id"]
    assert updated["user_id"] == order["user_id"]
    assert updated["created_at"] == order["created_at"]
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
        order["updated_at"]
    )
    assert await fetch(orders_client, order["id"]) == updated


@pytest.mark.parametrize("status", ["in_progress", "completed", "cancelled"])
async def test_items_locked_after_created(orders_client: httpx.AsyncClient, status: str) -> None:
    order = await order_in(orders_client, status)
    response = await put(orders_client, order["id"], items=[item(quantity=1, price="1.00")])
    error_of(response, 409, "ORDER_LOCKED")
    assert await fetch(orders_client, order["id"]) == order


async def test_items_and_status_together_from_created(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client)
    response = await put(
        orders_client, order["id"], items=[item(quantity=4, price="2.50")], status="in_progress"
    )
    updated = data_of(response)
    assert updated["status"] == "in_progress"
    assert updated["items"] == [{"product": "Чокопай", "quantity": 4, "price": "2.50"}]
    assert updated["total_amount"] == "10.00"


async def test_items_and_status_from_in_progress_change_nothing(
    orders_client: httpx.AsyncClient,
) -> None:
    order = await order_in(orders_client, "in_progress")
    response = await put(
        orders_client, order["id"], items=[item(quantity=1, price="1.00")], status="completed"
    )
    error_of(response, 409, "ORDER_LOCKED")
    assert await fetch(orders_client, order["id"]) == order


async def test_refused_transition_with_items_changes_nothing(
    orders_client: httpx.AsyncClient,
) -> None:
    order = await create(orders_client)
    response = await put(
        orders_client, order["id"], items=[item(quantity=1, price="1.00")], status="completed"
    )
    error_of(response, 409, "INVALID_STATUS_TRANSITION")
    assert await fetch(orders_client, order["id"]) == order


async def test_user_id_cannot_change(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client)
    response = await put(orders_client, order["id"], user_id=str(uuid.uuid4()), status="cancelled")
    assert_validation(response, "user_id", "An order's user cannot change")
    assert await fetch(orders_client, order["id"]) == order


async def test_same_user_id_is_accepted(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client)
    response = await put(orders_client, order["id"], user_id=order["user_id"], status="cancelled")
    updated = data_of(response)
    assert updated["user_id"] == order["user_id"]
    assert updated["status"] == "cancelled"


async def test_legacy_client_sends_the_whole_order_back(orders_client: httpx.AsyncClient) -> None:
    """A client may PUT what it read minus the server's fields."""
    order = await create(orders_client)
    body = {"user_id": order["user_id"], "items": order["items"], "status": "in_progress"}
    updated = data_of(await orders_client.put(f"/orders/{order['id']}", json=body))
    assert updated["items"] == order["items"]
    assert updated["total_amount"] == order["total_amount"]
    assert updated["status"] == "in_progress"


async def test_update_refuses_server_fields(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client)
    response = await put(orders_client, order["id"], total_amount="1.00")
    assert_validation(response, "total_amount", "Unknown field")
    response = await put(orders_client, order["id"], items=[{**item(), "note": "x"}])
    assert_validation(response, "items.0.note", "Unknown field")
    assert await fetch(orders_client, order["id"]) == order


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [item(quantity=1_000_000, price=1000)]}, "items"),
        ({"items": [item(price="1.005")]}, "items.0.price"),
        ({"items": [item(quantity=0)]}, "items.0.quantity"),
        ({"status": "done"}, "status"),
        ({"user_id": "nope"}, "user_id"),
    ],
)
async def test_update_validation(
    orders_client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    order = await create(orders_client)
    assert_validation(await orders_client.put(f"/orders/{order['id']}", json=body), field)
    assert await fetch(orders_client, order["id"]) == order


async def test_updated_at_moves_forward(orders_client: httpx.AsyncClient) -> None:
    order = await create(orders_client)
    first = data_of(await put(orders_client, order["id"], items=[item(quantity=2)]))
    second = data_of(await put(orders_client, order["id"], status="in_progress"))
    assert first["created_at"] == second["created_at"] == order["created_at"]
    created = assert_utc_timestamp(order["updated_at"])
    assert created < assert_utc_timestamp(first["updated_at"])
    assert assert_utc_timestamp(first["updated_at"]) < assert_utc_timestamp(second["updated_at"])
    assert (await fetch(orders_client, order["id"]))["updated_at"] == second["updated_at"]


async def test_unknown_id_is_404(orders_client: httpx.AsyncClient) -> None:
    await create(orders_client)
    missing = f"/orders/{uuid.uuid4()}"
    error_of(await orders_client.get(missing), 404, "NOT_FOUND")
    error = error_of(
        await orders_client.put(missing, json={"status": "cancelled"}), 404, "NOT_FOUND"
    )
    assert error["message"] == "Order not found"
    error_of(await orders_client.delete(missing), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_malformed_id_in_path(orders_client: httpx.AsyncClient, method: str) -> None:
    kwargs: dict[str, Any] = {"json": {"status": "cancelled"}} if method == "PUT" else {}
    response = await orders_client.request(method, "/orders/not-a-uuid", **kwargs)
    assert_validation(response, "id")


async def test_delete(orders_client: httpx.AsyncClient) -> None:
    kept = await create(orders_client)
    order = await create(orders_client)
    response = await orders_client.delete(f"/orders/{order['id']}")
    assert data_of(response) == {"id": order["id"]}
    assert set(response.json()) == {"success", "data"}
    error_of(await orders_client.get(f"/orders/{order['id']}"), 404, "NOT_FOUND")
    error_of(await orders_client.delete(f"/orders/{order['id']}"), 404, "NOT_FOUND")
    assert await fetch(orders_client, kept["id"]) == kept


async def test_an_update_names_the_version_it_expects(orders_client: httpx.AsyncClient) -> None:
    created = await orders_client.post("/orders", json=order_body())
    order, tag = data_of(created, 201), created.headers["etag"]
    path = f"/orders/{order['id']}"
    started = await orders_client.put(
        path, json={"status": "in_progress"}, headers={"if-match": tag}
    )
    assert data_of(started)["status"] == "in_progress"
    stale = await orders_client.put(path, json={"status": "cancelled"}, headers={"if-match": tag})
    error_of(stale, 412, "PRECONDITION_FAILED")
    assert (await fetch(orders_client, order["id"]))["status"] == "in_progress"


async def test_a_delete_at_a_stale_version_is_412_and_the_order_stays(
    orders_client: httpx.AsyncClient,
) -> None:
    created = await orders_client.post("/orders", json=order_body())
    order, tag = data_of(created, 201), created.headers["etag"]
    started = data_of(await put(orders_client, order["id"], status="in_progress"))
    stale = await orders_client.delete(f"/orders/{order['id']}", headers={"if-match": tag})
    error_of(stale, 412, "PRECONDITION_FAILED")
    assert await fetch(orders_client, order["id"]) == started


async def test_a_create_sent_again_with_its_idempotency_key_is_replayed(
    orders_client: httpx.AsyncClient,
) -> None:
    user = uuid.uuid4()
    body, key = order_body(user), {"Idempotency-Key": str(uuid.uuid4())}
    first = await orders_client.post("/orders", json=body, headers=key)
    again = await orders_client.post("/orders", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    mine = await orders_client.get("/orders", params={"userId": str(user)})
    assert mine.json()["meta"]["total"] == 1


async def test_unknown_route_and_method(orders_client: httpx.AsyncClient) -> None:
    error_of(await orders_client.get("/nothing-here"), 404, "NOT_FOUND")
    order = await create(orders_client)
    response = await orders_client.patch(f"/orders/{order['id']}", json={"status": "cancelled"})
    error_of(response, 405, "METHOD_NOT_ALLOWED")


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_final_transitions_one_wins(orders_client: httpx.AsyncClient) -> None:
    for _ in range(5):
        order = await order_in(orders_client, "in_progress")
        responses = await asyncio.gather(
            put(orders_client, order["id"], status="completed"),
            put(orders_client, order["id"], status="cancelled"),
        )
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 200)
        loser = next(r for r in responses if r.status_code == 409)
        error_of(loser, 409, "INVALID_STATUS_TRANSITION")
        final = await fetch(orders_client, order["id"])
        assert final["status"] == winner.json()["data"]["status"]


async def test_concurrent_items_change_and_start(orders_client: httpx.AsyncClient) -> None:
    """Items and a start race: either items land first, or they are refused as locked."""
    for _ in range(5):
        order = await create(orders_client)
        new_items = [item(quantity=1, price="7.77")]
        edit, start = await asyncio.gather(
            put(orders_client, order["id"], items=new_items),
            put(orders_client, order["id"], status="in_progress"),
        )
        assert start.status_code == 200, start.text
        final = await fetch(orders_client, order["id"])
        assert final["status"] == "in_progress"
        if edit.status_code == 200:
            assert final["total_amount"] == "7.77"
        else:
            error_of(edit, 409, "ORDER_LOCKED")
            assert final["total_amount"] == "520.00"


# --------------------------------------------------------------------------- listing


async def list_orders(client: httpx.AsyncClient, **params: Any) -> tuple[list[dict], dict]:
    response = await client.get("/orders", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data", "meta"}
    assert body["success"] is True
    assert set(body["meta"]) == {"total", "limit", "offset", "next"}
    return body["data"], without_next(body["meta"], len(body["data"]))


def without_next(meta: dict, shown: int) -> dict:
    """The list's meta less `next` (docs/pagination.md), once `next` is checked: a cursor
    exactly when rows follow this page's last one."""
    meta = dict(meta)
    follows = bool(meta["limit"]) and shown > 0 and meta["offset"] + shown < meta["total"]
    assert (meta.pop("next") is not None) == follows, meta
    return meta


async def test_list_is_an_envelope_with_meta(orders_client: httpx.AsyncClient) -> None:
    ids = [(await create(orders_client))["id"] for _ in range(3)]
    data, meta = await list_orders(orders_client)
    assert [o["id"] for o in data] == ids
    assert all(set(o) == ORDER_FIELDS for o in data)
    assert meta == {"total": 3, "limit": 100, "offset": 0}


async def test_filter_by_user_id(orders_client: httpx.AsyncClient) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    alice_ids = await create_for(orders_client, alice, 2)
    await create_for(orders_client, bob, 1)
    data, meta = await list_orders(orders_client, userId=str(alice))
    assert [o["id"] for o in data] == alice_ids
    assert {o["user_id"] for o in data} == {str(alice)}
    assert meta == {"total": 2, "limit": 100, "offset": 0}
    data, meta = await list_orders(orders_client, userId=str(uuid.uuid4()))
    assert data == []
    assert meta["total"] == 0


async def test_filter_by_status(orders_client: httpx.AsyncClient) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await order_in(orders_client, "created", user_id=alice)
    cancelled = [
        (await order_in(orders_client, "cancelled", user_id=alice))["id"],
        (await order_in(orders_client, "cancelled", user_id=bob))["id"],
    ]
    started = (await order_in(orders_client, "in_progress", user_id=bob))["id"]
    data, meta = await list_orders(orders_client, status="cancelled")
    assert [o["id"] for o in data] == cancelled
    assert meta["total"] == 2
    data, _ = await list_orders(orders_client, status="in_progress")
    assert [o["id"] for o in data] == [started]
    data, _ = await list_orders(orders_client, status="completed")
    assert data == []
    data, meta = await list_orders(orders_client, status="cancelled", userId=str(bob))
    assert [o["id"] for o in data] == [cancelled[1]]
    assert meta["total"] == 1


async def test_batch_of_no_ids_matches_nothing(orders_client: httpx.AsyncClient) -> None:
    await create(orders_client)
    response = await orders_client.get("/orders?userIds=")
    assert data_of(response) == []
    assert response.json()["meta"] == {"total": 0, "limit": None, "offset": 0, "next": None}


async def test_batch_of_one_id(orders_client: httpx.AsyncClient) -> None:
    alice = uuid.uuid4()
    ids = await create_for(orders_client, alice, 2)
    await create(orders_client)
    data, meta = await list_orders(orders_client, userIds=str(alice))
    assert [o["id"] for o in data] == ids
    assert meta == {"total": 2, "limit": None, "offset": 0}


async def test_batch_returns_every_order_of_those_users(orders_client: httpx.AsyncClient) -> None:
    users = [uuid.uuid4() for _ in range(3)]
    by_user = {user: await create_for(orders_client, user, 3) for user in users}
    asked = users[:2]
    data, meta = await list_orders(orders_client, userIds=",".join(map(str, asked)))
    assert len(data) == 6
    assert {o["id"] for o in data} == set(by_user[asked[0]] + by_user[asked[1]])
    assert {o["user_id"] for o in data} == {str(u) for u in asked}
    assert meta == {"total": 6, "limit": None, "offset": 0}


async def test_batch_with_a_limit_pages(orders_client: httpx.AsyncClient) -> None:
    users = [uuid.uuid4() for _ in range(2)]
    ids = [oid for user in users for oid in await create_for(orders_client, user, 3)]
    data, meta = await list_orders(
        orders_client, userIds=",".join(map(str, users)), limit=4, offset=1
    )
    assert [o["id"] for o in data] == ids[1:5]
    assert meta == {"total": 6, "limit": 4, "offset": 1}


async def test_batch_ignores_spaces_and_duplicates(orders_client: httpx.AsyncClient) -> None:
    alice = uuid.uuid4()
    ids = await create_for(orders_client, alice, 2)
    data, meta = await list_orders(orders_client, userIds=f" {alice} ,{alice},")
    assert [o["id"] for o in data] == ids
    assert meta["total"] == 2


async def test_batch_of_500_ids(orders_client: httpx.AsyncClient) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    wanted = await create_for(orders_client, alice, 2) + await create_for(orders_client, bob, 1)
    await create(orders_client)
    ids = [alice, *(uuid.uuid4() for _ in range(498)), bob]
    assert len(set(ids)) == 500
    data, meta = await list_orders(orders_client, userIds=",".join(map(str, ids)))
    assert [o["id"] for o in data] == wanted
    assert meta == {"total": 3, "limit": None, "offset": 0}


async def test_batch_of_501_ids_is_refused(orders_client: httpx.AsyncClient) -> None:
    ids = ",".join(str(uuid.uuid4()) for _ in range(501))
    assert_validation(await orders_client.get("/orders", params={"userIds": ids}), "userIds")


@pytest.mark.parametrize("bad", ["not-a-uuid", "123", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"])
async def test_batch_with_a_malformed_id(orders_client: httpx.AsyncClient, bad: str) -> None:
    ids = f"{uuid.uuid4()},{bad},{uuid.uuid4()}"
    assert_validation(await orders_client.get("/orders", params={"userIds": ids}), "userIds")


async def test_pagination(orders_client: httpx.AsyncClient) -> None:
    ids = [(await create(orders_client))["id"] for _ in range(5)]
    data, meta = await list_orders(orders_client, limit=2, offset=1)
    assert [o["id"] for o in data] == ids[1:3]
    assert meta == {"total": 5, "limit": 2, "offset": 1}
    data, meta = await list_orders(orders_client, limit=2, offset=4)
    assert [o["id"] for o in data] == ids[4:]
    assert meta == {"total": 5, "limit": 2, "offset": 4}
    data, meta = await list_orders(orders_client, offset=10)
    assert data == []
    assert meta == {"total": 5, "limit": 100, "offset": 10}


async def test_default_limit_is_100(orders_client: httpx.AsyncClient) -> None:
    body = order_body()
    created = await asyncio.gather(*(orders_client.post("/orders", json=body) for _ in range(101)))
    assert all(r.status_code == 201 for r in created)
    data, meta = await list_orders(orders_client)
    assert len(data) == 100
    assert meta == {"total": 101, "limit": 100, "offset": 0}
    data, meta = await list_orders(orders_client, limit=1000)
    assert len(data) == 101
    assert meta == {"total": 101, "limit": 1000, "offset": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 1001}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "bogus"}, "status"),
        ({"userId": "not-a-uuid"}, "userId"),
    ],
)
async def test_bad_list_parameters(
    orders_client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    assert_validation(await orders_client.get("/orders", params=params), field)


@pytest.mark.parametrize("offset", [2**63, 10**30])
async def test_huge_offset_is_not_a_server_error(
    orders_client: httpx.AsyncClient, offset: int
) -> None:
    """An offset past PostgreSQL's bigint is a bad parameter (or an empty page), never a 500."""
    await create(orders_client)
    response = await orders_client.get("/orders", params={"offset": offset})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert_validation(response, "offset")
    else:
        data, meta = await list_orders(orders_client, offset=offset)
        assert data == []
        assert meta["total"] == 1


# --------------------------------------------------------------------------- health, process


async def test_health(orders_client: httpx.AsyncClient) -> None:
    response = await orders_client.get("/health")
    health = data_of(response)
    assert health["status"] == "OK"
    assert health["service"] == "orders"


async def test_real_process_creates_and_reads_an_order(orders_process) -> None:
    user_id = uuid.uuid4()
    async with httpx.AsyncClient(base_url=orders_process.url, timeout=10) as client:
        assert data_of(await client.get("/health"))["status"] == "OK"
        response = await client.post(
            "/orders",
            content=(SPEC_EXAMPLE % user_id).encode(),
            headers={"Content-Type": "application/json"},
        )
        order = data_of(response, 201)
        assert order["total_amount"] == "520.00"
        assert order["items"] == [{"product": "Чокопай", "quantity": 10, "price": "52.00"}]
        assert response.headers["x-request-id"]
        assert await fetch(client, order["id"]) == order
        # The batch filter at its largest (an ~18 KB query string) over a real socket.
        ids = [user_id, *(uuid.uuid4() for _ in range(499))]
        data, meta = await list_orders(client, userIds=",".join(map(str, ids)))
        assert [o["id"] for o in data] == [order["id"]]
        assert meta == {"total": 1, "limit": None, "offset": 0}
        assert data_of(await client.delete(f"/orders/{order['id']}")) == {"id": order["id"]}


async def test_fields_projects_a_page(orders_client: httpx.AsyncClient) -> None:
    user_id = str(uuid.uuid4())
    for _ in range(2):
        await orders_client.post(
            "/orders",
            json={"user_id": user_id, "items": [{"product": "p", "quantity": 3, "price": "0.10"}]},
        )
    response = await orders_client.get(
        "/orders", params={"userIds": user_id, "fields": "status,total_amount"}
    )
    assert response.status_code == 200
    body = response.json()
    assert [set(order) for order in body["data"]] == [{"id", "status", "total_amount"}] * 2
    assert {order["total_amount"] for order in body["data"]} == {"0.30"}
    assert body["meta"]["total"] == 2


@pytest.mark.parametrize("fields", ["password_hash", "id,nope", "items;drop"])
async def test_fields_refuses_what_is_not_public(
    orders_client: httpx.AsyncClient, fields: str
) -> None:
    response = await orders_client.get("/orders", params={"fields": fields})
    assert_validation(response, "fields")
