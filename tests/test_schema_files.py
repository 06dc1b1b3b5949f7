"""The OpenAPI documents under schema/ are what the code serves, and they tell the truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tools.export_schemas import SCHEMA_DIR, documents

OPENAPI_FILES = ("users.openapi.json", "orders.openapi.json", "gateway.openapi.json")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
OPERATION_IDS = {
    "users.openapi.json": {"listUsers", "getUser", "createUser", "updateUser", "deleteUser"},
    "orders.openapi.json": {"listOrders", "getOrder", "createOrder", "updateOrder", "deleteOrder"},
    "gateway.openapi.json": {
        "listUsers",
        "getUser",
        "createUser",
        "updateUser",
        "deleteUser",
        "getUserDetails",
        "listOrders",
        "getOrder",
        "createOrder",
        "updateOrder",
        "deleteOrder",
        "health",
        "status",
    },
}
BATCH_PARAMS = {
    "users.openapi.json": [("/users", "ids")],
    "orders.openapi.json": [("/orders", "userIds")],
    "gateway.openapi.json": [("/users", "ids"), ("/orders", "userIds")],
}
# Where a 422 is real: the gateway checks an order's user (USER_NOT_FOUND).
# USER_NOT_FOUND (an order for a user that is not, or is being deleted: the order book of
# service_orders/books.py) and IDEMPOTENCY_KEY_REUSED (a key sent with another create).
REAL_422 = {
    "gateway.openapi.json": {("post", "/orders"), ("post", "/users"), ("post", "/v1/orders")},
    "orders.openapi.json": {("post", "/orders")},
    "users.openapi.json": {("post", "/users")},
}
# Actions that take no body (the orders service's internal order-book steps).
BODILESS = {
    ("post", "/internal/users/{id}/order-book/close"),
    ("post", "/internal/users/{id}/order-book/reopen"),
    ("post", "/auth/logout"),
}


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return documents()


def committed(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text())


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def keys_anywhere(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from keys_anywhere(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_anywhere(item)


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_committed_document_matches_the_code(generated, name):
    path = SCHEMA_DIR / name
    assert path.exists(), f"schema/{name} is missing; run `python -m tools.export_schemas`"
    assert path.read_text() == generated[name], (
        f"schema/{name} differs from the code; run `python -m tools.export_schemas`"
    )


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_operation_ids(name):
    found = [op.get("operationId") for _, _, op in operations(committed(name))]
    assert set(found) >= OPERATION_IDS[name]
    assert len(found) == len(set(found)), "operationIds must be unique"


@pytest.mark.parametrize(
    ("name", "path", "param_name"),
    [(name, path, param) for name, pairs in BATCH_PARAMS.items() for path, param in pairs],
)
def test_batch_filter_is_a_comma_separated_array_of_uuids(name, path, param_name):
    operation = committed(name)["paths"][path]["get"]
    params = [p for p in operation["parameters"] if p["name"] == param_name]
    assert len(params) == 1, operation["parameters"]
    param = params[0]
    assert param["in"] == "query"
    assert param["schema"]["type"] == "array"
    assert param["schema"]["items"] == {"type": "string", "format": "uuid"}
    assert param["schema"].get("maxItems") == 500
    assert param["style"] == "form"
    assert param["explode"] is False


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_422_only_where_it_is_real(name):
    """FastAPI's own 422 is never answered; USER_NOT_FOUND is, with the envelope."""
    document = committed(name)
    found = set()
    for path, method, operation in operations(document):
        response = operation.get("responses", {}).get("422")
        if response is not None:
            found.add((method, path))
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)
    assert found == REAL_422.get(name, set())
    schemas = document.get("components", {}).get("schemas", {})
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_operations_with_input_document_400_with_the_error_envelope(name):
    document = committed(name)
    assert "ErrorEnvelope" in document["components"]["schemas"]
    checked = 0
    for path, method, operation in operations(document):
        checked += 1  # unknown query parameters are a 400 on every route
        response = operation["responses"].get("400")
        assert response is not None, f"{method.upper()} {path} documents no 400"
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, schema)
    assert checked >= 5


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_error_envelope_schema_shape(name):
    schemas = committed(name)["components"]["schemas"]
    envelope = schemas["ErrorEnvelope"]
    assert set(envelope["properties"]) == {"success", "error"}
    assert "error" in envelope["required"]
    body_ref = envelope["properties"]["error"]["$ref"].rsplit("/", 1)[-1]
    assert {"code", "message", "details"} <= set(schemas[body_ref]["properties"])


PUBLIC_SHAPES = {
    "users.openapi.json": [("/users", "User")],
    "orders.openapi.json": [("/orders", "Order")],
    "gateway.openapi.json": [("/users", "User"), ("/orders", "Order")],
}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_every_success_response_documents_its_envelope(name):
    """Gateways generated from these documents type their fields from the 2xx schemas."""
    document = committed(name)
    refs = {}
    for path, method, operation in operations(document):
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert len(success) == 1, (method, path)
        content = operation["responses"][success[0]]["content"]["application/json"]
        refs[(method, path)] = content["schema"].get("$ref", "")
    assert all("Envelope_" in ref for ref in refs.values()), refs
    for collection, shape in PUBLIC_SHAPES[name]:
        assert refs[("get", collection + "/{id}")] == f"#/components/schemas/Envelope_{shape}_"
        # A list answers whole objects, or partial ones under ?fields= (only `id` required).
        listing = resolve(document, {"$ref": refs[("get", collection)]})
        items = listing["properties"]["data"]["items"]
        assert items["anyOf"] == [
            {"$ref": f"#/components/schemas/{shape}"},
            {"$ref": f"#/components/schemas/{shape}Partial"},
        ]
        partial = resolve(document, {"$ref": f"#/components/schemas/{shape}Partial"})
        assert partial["required"] == ["id"]
        assert set(partial["properties"]) == set(resolve(document, items["anyOf"][0])["properties"])


GATEWAY_BODIES = {
    ("post", "/auth/login"): "LoginRequest",
    ("post", "/auth/refresh"): "RefreshRequest",
    ("post", "/users"): "UserCreate",
    ("put", "/users/{id}"): "UserUpdate",
    ("post", "/orders"): "OrderCreate",
    ("put", "/orders/{id}"): "OrderUpdate",
    # The /v1 API (graphql_gateway/rest/v1/): that version's bodies.
    ("post", "/v1/users/register"): "Registration",
    ("post", "/v1/users/login"): "LoginRequest",
    ("post", "/v1/orders"): "V1OrderCreate",
    ("put", "/v1/orders/{orderId}/status"): "V1StatusChange",
}


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_writes_document_their_body_and_415(name):
    document = committed(name)
    writes = 0
    for path, method, operation in operations(document):
        if method not in {"post", "put"} or (method, path) in BODILESS:
            assert "requestBody" not in operation, (method, path)
            continue
        writes += 1
        body = operation["requestBody"]
        assert body["required"] is True
        assert list(body["content"]) == ["application/json"], (method, path)
        ref = body["content"]["application/json"]["schema"]["$ref"]
        if name == "gateway.openapi.json":
            assert ref == f"#/components/schemas/{GATEWAY_BODIES[(method, path)]}"
        for status in ("413", "415"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)
    # The users service's other writes are internal: the credentials check, and a
    # session's start and refresh.
    assert writes == {"gateway.openapi.json": 10, "users.openapi.json": 5}.get(name, 2)
