"""The OpenAPI documents under schema/ are what the code serves, and they tell the truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from apicore.export_schemas import SCHEMA_DIR, documents

OPENAPI_FILES = ("users.openapi.json", "orders.openapi.json")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
OPERATION_IDS = {
    "users.openapi.json": {"listUsers", "getUser", "createUser", "updateUser", "deleteUser"},
    "orders.openapi.json": {"listOrders", "getOrder", "createOrder", "updateOrder", "deleteOrder"},
}
BATCH_PARAM = {
    "users.openapi.json": ("/users", "ids"),
    "orders.openapi.json": ("/orders", "userIds"),
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
    assert path.exists(), f"schema/{name} is missing; run `python -m apicore.export_schemas`"
    assert path.read_text() == generated[name], (
        f"schema/{name} differs from the code; run `python -m apicore.export_schemas`"
    )


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_operation_ids(name):
    found = [op.get("operationId") for _, _, op in operations(committed(name))]
    assert set(found) >= OPERATION_IDS[name]
    assert len(found) == len(set(found)), "operationIds must be unique"


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_batch_filter_is_a_comma_separated_array_of_uuids(name):
    path, param_name = BATCH_PARAM[name]
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
def test_no_422_anywhere(name):
    document = committed(name)
    for path, method, operation in operations(document):
        assert "422" not in operation.get("responses", {}), (method, path)
    assert "422" not in set(keys_anywhere(document))
    schemas = document.get("components", {}).get("schemas", {})
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_operations_with_input_document_400_with_the_error_envelope(name):
    document = committed(name)
    assert "ErrorEnvelope" in document["components"]["schemas"]
    checked = 0
    for path, method, operation in operations(document):
        if not operation.get("parameters") and "requestBody" not in operation:
            continue
        checked += 1
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


PUBLIC_SHAPE = {"users.openapi.json": "User", "orders.openapi.json": "Order"}


@pytest.mark.parametrize("name", OPENAPI_FILES)
def test_every_success_response_documents_its_envelope(name):
    """Gateways generated from these documents type their fields from the 2xx schemas."""
    refs = {}
    for path, method, operation in operations(committed(name)):
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert len(success) == 1, (method, path)
        content = operation["responses"][success[0]]["content"]["application/json"]
        refs[(method, path)] = content["schema"].get("$ref", "")
    assert all("Envelope_" in ref for ref in refs.values()), refs
    shape = PUBLIC_SHAPE[name]
    collection, _ = BATCH_PARAM[name]
    assert refs[("get", collection)] == f"#/components/schemas/ListEnvelope_{shape}_"
    assert refs[("get", collection + "/{id}")] == (f"#/components/schemas/Envelope_{shape}_")
    assert shape in committed(name)["components"]["schemas"]
