"""The users service's REST contract (docs/contract.md), in process and over a real socket."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from apicore.db import libpq_url
from apicore.middleware import MAX_BODY_BYTES
from service_users.passwords import verify_password

PUBLIC_KEYS = {"id", "email", "name", "roles", "created_at", "updated_at"}
SECRET_KEYS = {"password", "password_hash"}
PASSWORD = "correct horse battery staple"


# --- helpers -------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error envelope with this status and code; returns its `error` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "error"}, body
    assert body["success"] is False
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert set(error) <= {"code", "message", "details"}, error
    for detail in error.get("details", []):
        assert set(detail) == {"field", "message"}, detail
        assert isinstance(detail["field"], str)
        assert detail["field"]
        assert isinstance(detail["message"], str)
        assert detail["message"]
    return error


def assert_validation(response: httpx.Response, *fields: str) -> list[dict[str, str]]:
    """400 VALIDATION_ERROR whose details name at least these fields."""
    error = assert_error(response, 400, "VALIDATION_ERROR")
    details = error.get("details")
    assert details, error
    named = {detail["field"] for detail in details}
    for field in fields:
        assert field in named, (field, details)
    return details


def assert_ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    assert "error" not in body
    return body["data"]


def assert_user(user: dict[str, Any]) -> None:
    assert set(user) == PUBLIC_KEYS, user
    uuid.UUID(user["id"])
    for key in ("created_at", "updated_at"):
        assert_utc_timestamp(user[key])


def assert_utc_timestamp(value: str) -> datetime:
    assert isinstance(value, str)
    assert value.endswith("+00:00"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def all_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in all_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in all_keys(item)}
    return set()


def assert_no_secrets(response: httpx.Response, password: str = PASSWORD) -> None:
    assert not all_keys(response.json()) & SECRET_KEYS, response.text
    assert password not in response.text
    assert "$argon2" not in response.text
    assert "password_hash" not in response.text


def email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"email": email(), "name": "Белов Ярослав", **fields}
    user = assert_ok(await client.post("/users", json=body), 201)
    assert_user(user)
    return user


async def stored_hash(db_url: str, user_id: str) -> str | None:
    async with await psycopg.AsyncConnection.connect(libpq_url(db_url)) as conn:
        cursor = await conn.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,))
        row = await cursor.fetchone()
    assert row is not None, f"user {user_id} is not in the database"
    return row[0]


async def rows_with_email(db_url: str, address: str) -> int:
    async with await psycopg.AsyncConnection.connect(libpq_url(db_url)) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM users WHERE lower(email) = lower(%s)", (address,)
        )
        row = await cursor.fetchone()
    assert row is not None
    return row[0]


# --- create / get / list / update / delete -------------------------------------------------


async def test_create_returns_201_with_the_user_envelope(users_client):
    response = await users_client.post(
        "/users", json={"email": "yaroslav@example.com", "name": "  Белов Ярослав  "}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"success", "data"}
    assert body["success"] is True
    user = body["data"]
    assert_user(user)
    assert user["email"] == "yaroslav@example.com"
    assert user["name"] == "Белов Ярослав"  # trimmed
    assert user["roles"] == ["user"]  # the default
    assert user["created_at"] == user["updated_at"]
    created = assert_utc_timestamp(user["created_at"])
    assert abs(datetime.now(created.tzinfo) - created) < timedelta(minutes=5)


async def test_create_with_roles_keeps_them_once_each(users_client):
    user = await create(users_client, roles=["manager", "engineer", "manager"])
    assert user["roles"] == ["manager", "engineer"]


async def test_get_returns_what_create_returned(users_client):
    user = await create(users_client, roles=["director"])
    fetched = assert_ok(await users_client.get(f"/users/{user['id']}"))
    assert fetched == user


async def test_list_returns_users_in_creation_order_with_meta(users_client):
    users = [await create(users_client) for _ in range(3)]
    response = await users_client.get("/users")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"success", "data", "meta"}
    assert body["success"] is True
    assert [user["id"] for user in body["data"]] == [user["id"] for user in users]
    for user in body["data"]:
        assert_user(user)
    assert body["meta"] == {"total": 3, "limit": 100, "offset": 0, "next": None}


async def test_list_of_an_empty_table(users_client):
    response = await users_client.get("/users")
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": [],
        "meta": {"total": 0, "limit": 100, "offset": 0, "next": None},
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "  Новое Имя  "},
        {"email": "renamed@example.com"},
        {"roles": ["manager", "admin"]},
        {"password": "a brand new password"},
        {"name": "Both", "email": "both@example.com"},
        {
            "email": "all@example.com",
            "name": "All",
            "password": "another password",
            "roles": ["customer"],
        },
        {},
    ],
    ids=["name", "email", "roles", "password", "name+email", "all", "nothing"],
)
async def test_update_changes_only_the_given_fields(users_client, changes):
    user = await create(users_client, **({"password": PASSWORD} if "password" in changes else {}))
    response = await users_client.put(f"/users/{user['id']}", json=changes)
    updated = assert_ok(response)
    assert_user(updated)
    assert_no_secrets(response, changes.get("password", PASSWORD))

    expected = {key: user[key] for key in ("id", "email", "name", "roles", "created_at")}
    expected.update({key: value for key, value in changes.items() if key != "password"})
    if "name" in changes:
        expected["name"] = changes["name"].strip()
    assert {key: updated[key] for key in expected} == expected

    assert updated["created_at"] == user["created_at"]
    if changes:
        assert assert_utc_timestamp(updated["updated_at"]) > assert_utc_timestamp(
            user["updated_at"]
        )
    else:  # nothing changed: nothing written, the version stays (apicore/versions.py)
        assert updated["updated_at"] == user["updated_at"]
    assert assert_ok(await users_client.get(f"/users/{user['id']}")) == updated


async def test_updated_at_moves_forward_on_every_update(users_client):
    user = await create(users_client)
    stamps = [assert_utc_timestamp(user["updated_at"])]
    for name in ("One", "Two", "Three"):
        updated = assert_ok(await users_client.put(f"/users/{user['id']}", json={"name": name}))
        stamps.append(assert_utc_timestamp(updated["updated_at"]))
        assert updated["created_at"] == user["created_at"]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)


async def test_delete_returns_the_id_and_the_user_is_gone(users_client):
    user = await create(users_client)
    other = await create(users_client)
    response = await users_client.delete(f"/users/{user['id']}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"id": user["id"]}}
    assert_error(await users_client.get(f"/users/{user['id']}"), 404, "NOT_FOUND")
    assert_error(await users_client.delete(f"/users/{user['id']}"), 404, "NOT_FOUND")
    listed = (await users_client.get("/users")).json()
    assert [item["id"] for item in listed["data"]] == [other["id"]]


async def test_a_delete_at_a_stale_version_is_412_and_the_user_stays(users_client):
    created = await users_client.post("/users", json={"email": email(), "name": "Версия"})
    user, tag = assert_ok(created, 201), created.headers["etag"]
    renamed = assert_ok(await users_client.put(f"/users/{user['id']}", json={"name": "Другое"}))
    stale = await users_client.delete(f"/users/{user['id']}", headers={"if-match": tag})
    assert_error(stale, 412, "PRECONDITION_FAILED")
    assert assert_ok(await users_client.get(f"/users/{user['id']}")) == renamed


async def test_an_update_names_the_version_it_expects(users_client):
    created = await users_client.post("/users", json={"email": email(), "name": "Версия"})
    user, tag = assert_ok(created, 201), created.headers["etag"]
    path = f"/users/{user['id']}"
    renamed = await users_client.put(path, json={"name": "Другое"}, headers={"if-match": tag})
    assert assert_ok(renamed)["name"] == "Другое"
    stale = await users_client.put(path, json={"name": "Третье"}, headers={"if-match": tag})
    assert_error(stale, 412, "PRECONDITION_FAILED")
    assert assert_ok(await users_client.get(path))["name"] == "Другое"


async def test_a_create_sent_again_with_its_idempotency_key_is_replayed(users_client):
    body, key = {"email": email(), "name": "Повтор"}, {"Idempotency-Key": str(uuid.uuid4())}
    first = await users_client.post("/users", json=body, headers=key)
    again = await users_client.post("/users", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert (await users_client.get("/users")).json()["meta"]["total"] == 1


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_unknown_id_is_404(users_client, method):
    await create(users_client)
    body = {"name": "Nobody"} if method == "PUT" else None
    response = await users_client.request(method, f"/users/{uuid.uuid4()}", json=body)
    assert_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0000-1111"])
async def test_malformed_uuid_in_path_is_a_validation_error(users_client, method, bad_id):
    body = {"name": "Nobody"} if method == "PUT" else None
    response = await users_client.request(method, f"/users/{bad_id}", json=body)
    details = assert_validation(response, "id")
    assert [detail["field"] for detail in details] == ["id"]


# --- email ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_email",
    ["not-an-email", "no-at-sign.example.com", "two@@example.com", "user@", "@example.com", ""],
)
async def test_invalid_email_is_a_validation_error(users_client, bad_email):
    response = await users_client.post("/users", json={"email": bad_email, "name": "Name"})
    assert_validation(response, "email")
    user = await create(users_client)
    response = await users_client.put(f"/users/{user['id']}", json={"email": bad_email})
    assert_validation(response, "email")


async def test_email_is_unique_case_insensitively_on_create(users_client):
    first = await create(users_client, email="User@Example.com")
    assert first["email"].lower() == "user@example.com"
    response = await users_client.post(
        "/users", json={"email": "user@example.com", "name": "Second"}
    )
    error = assert_error(response, 409, "EMAIL_EXISTS")
    assert error["message"] == "A user with this email already exists"
    response = await users_client.post(
        "/users", json={"email": "USER@EXAMPLE.COM", "name": "Third"}
    )
    assert_error(response, 409, "EMAIL_EXISTS")
    listed = (await users_client.get("/users")).json()
    assert listed["meta"]["total"] == 1


async def test_email_is_unique_case_insensitively_on_update(users_client):
    await create(users_client, email="User@Example.com")
    other = await create(users_client, email="other@example.com")
    response = await users_client.put(f"/users/{other['id']}", json={"email": "user@example.com"})
    assert_error(response, 409, "EMAIL_EXISTS")
    unchanged = assert_ok(await users_client.get(f"/users/{other['id']}"))
    assert unchanged == other


async def test_emails_are_stored_in_one_canonical_form(users_client):
    """Trimmed and lower-cased whole, on create and on update: one account, one address."""
    user = await create(users_client, email="  Self.Name@Example.COM\t")
    assert user["email"] == "self.name@example.com"
    updated = assert_ok(
        await users_client.put(f"/users/{user['id']}", json={"email": " NEW@Example.com "})
    )
    assert updated["email"] == "new@example.com"
    same = assert_ok(
        await users_client.put(f"/users/{user['id']}", json={"email": "New@EXAMPLE.com"})
    )
    assert same == updated  # the same address: no change, the version stays
    idn = await create(users_client, email="Bob@XN--BCHER-KVA.example")
    assert idn["email"] == "bob@bücher.example"


NOT_BARE_ADDRESSES = [
    "Mallory <bf@example.com>",
    "<bf@example.com>",
    '"Mallory" <bf@example.com>',
    "bf@example.com (Mallory)",
    "mailto:bf@example.com",
    "bf@example.com, other@example.com",
    '"bf"@example.com',
    "bf@[127.0.0.1]",
    "bf @example.com",
    "bf@example.com.",
    "bf@localhost",
    "",
    "   ",
    "@example.com",
    "bf@",
    "bf\u0000@example.com",
]


@pytest.mark.parametrize("email", NOT_BARE_ADDRESSES)
async def test_an_email_that_is_no_bare_address_is_400_on_every_write(users_client, email):
    created = await users_client.post("/users", json={"email": email, "name": "X"})
    assert_error(created, 400, "VALIDATION_ERROR")
    user = await create(users_client, email=f"u{uuid.uuid4().hex[:8]}@example.com")
    updated = await users_client.put(f"/users/{user['id']}", json={"email": email})
    assert_error(updated, 400, "VALIDATION_ERROR")
    assert assert_ok(await users_client.get(f"/users/{user['id']}")) == user


async def test_concurrent_creates_with_one_email_in_process(users_client, users_db_url):
    for round_ in range(4):
        address = f"race-{round_}@example.com"
        first: dict[str, Any] = {"email": address, "name": "First"}
        if round_ == 0:  # one round where one side spends time hashing before its insert
            first["password"] = PASSWORD
        bodies = [first, {"email": address.upper(), "name": "Second"}]
        responses = await asyncio.gather(*(users_client.post("/users", json=b) for b in bodies))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201, 409], [response.text for response in responses]
        loser = next(response for response in responses if response.status_code == 409)
        assert_error(loser, 409, "EMAIL_EXISTS")
        assert await rows_with_email(users_db_url, address) == 1


async def test_concurrent_creates_with_one_email_over_a_real_socket(users_process, users_db_url):
    address = f"race-{uuid.uuid4().hex[:12]}@example.com"
    async with httpx.AsyncClient(base_url=users_process.url, timeout=30) as client:
        pair = await asyncio.gather(
            *(client.post("/users", json={"email": address, "name": "Pair"}) for _ in range(2))
        )
        assert sorted(response.status_code for response in pair) == [201, 409]

        address = f"stampede-{uuid.uuid4().hex[:12]}@example.com"
        crowd = await asyncio.gather(
            *(
                client.post(
                    "/users", json={"email": address.upper() if i % 2 else address, "name": f"N{i}"}
                )
                for i in range(8)
            )
        )
    statuses = sorted(response.status_code for response in crowd)
    assert statuses == [201] + [409] * 7, [response.text for response in crowd]
    for response in crowd:
        if response.status_code == 409:
            assert_error(response, 409, "EMAIL_EXISTS")
    assert await rows_with_email(users_db_url, address) == 1


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "x" * 201, " " + "x" * 201 + " "])
async def test_invalid_name_is_rejected(users_client, name):
    response = await users_client.post("/users", json={"email": email(), "name": name})
    assert_validation(response, "name")
    user = await create(users_client)
    assert_validation(await users_client.put(f"/users/{user['id']}", json={"name": name}), "name")


async def test_name_of_200_characters_after_trimming_is_accepted(users_client):
    user = await create(users_client, name="  " + "я" * 200 + "  ")
    assert user["name"] == "я" * 200


async def test_missing_required_fields_are_named(users_client):
    assert_validation(await users_client.post("/users", json={}), "email", "name")
    assert_validation(await users_client.post("/users", json={"name": "N"}), "email")
    assert_validation(await users_client.post("/users", json={"email": email()}), "name")


@pytest.mark.parametrize("length", [7, 129, 0])
async def test_password_length_out_of_range_is_rejected(users_client, length):
    password = "p" * length
    response = await users_client.post(
        "/users", json={"email": email(), "name": "N", "password": password}
    )
    assert_validation(response, "password")
    user = await create(users_client)
    response = await users_client.put(f"/users/{user['id']}", json={"password": password})
    assert_validation(response, "password")


@pytest.mark.parametrize("length", [8, 128])
async def test_password_length_at_the_bounds_is_accepted(users_client, users_db_url, length):
    password = "p" * length
    response = await users_client.post(
        "/users", json={"email": email(), "name": "N", "password": password}
    )
    user = assert_ok(response, 201)
    assert_no_secrets(response, password)
    stored = await stored_hash(users_db_url, user["id"])
    assert stored is not None
    assert verify_password(stored, password)
    other = "q" * length
    response = await users_client.put(f"/users/{user['id']}", json={"password": other})
    assert_ok(response)
    stored = await stored_hash(users_db_url, user["id"])
    assert stored is not None
    assert verify_password(stored, other)


@pytest.mark.parametrize("roles", [["wizard"], ["user", "root"], [], "admin", ["Admin"], [1]])
async def test_invalid_roles_are_rejected(users_client, roles):
    response = await users_client.post(
        "/users", json={"email": email(), "name": "N", "roles": roles}
    )
    details = assert_validation(response)
    assert all(detail["field"].startswith("roles") for detail in details), details
    user = await create(users_client)
    response = await users_client.put(f"/users/{user['id']}", json={"roles": roles})
    details = assert_validation(response)
    assert all(detail["field"].startswith("roles") for detail in details), details


async def test_every_role_of_the_spec_is_accepted(users_client):
    roles = ["user", "engineer", "manager", "director", "customer", "admin"]
    assert (await create(users_client, roles=roles))["roles"] == roles


@pytest.mark.parametrize("field", ["is_admin", "password_hash", "id", "created_at"])
async def test_unknown_body_field_is_rejected(users_client, field):
    response = await users_client.post("/users", json={"email": email(), "name": "N", field: "x"})
    details = assert_validation(response)
    assert details == [{"field": field, "message": "Unknown field"}]
    user = await create(users_client)
    response = await users_client.put(f"/users/{user['id']}", json={field: "x"})
    details = assert_validation(response)
    assert details == [{"field": field, "message": "Unknown field"}]


async def test_every_problem_gets_its_own_detail(users_client):
    response = await users_client.post(
        "/users",
        json={
            "email": "nope",
            "name": "",
            "password": "short",
            "roles": ["wizard"],
            "extra": 1,
        },
    )
    details = assert_validation(response, "email", "name", "password", "extra")
    assert any(detail["field"].startswith("roles") for detail in details), details
    assert {"field": "extra", "message": "Unknown field"} in details
    assert (await users_client.get("/users")).json()["meta"]["total"] == 0


async def test_name_with_a_nul_character_is_a_validation_error_not_a_500(users_client):
    """PostgreSQL text cannot hold NUL; the API must say so as a 400, never as a 500."""
    response = await users_client.post("/users", json={"email": email(), "name": "a\x00b"})
    assert_validation(response, "name")
    user = await create(users_client)
    response = await users_client.put(f"/users/{user['id']}", json={"name": "a\x00b"})
    assert_validation(response, "name")


async def test_name_with_a_lone_surrogate_is_a_validation_error(users_client):
    body = b'{"email": "surrogate@example.com", "name": "\\ud800"}'
    response = await users_client.post(
        "/users", content=body, headers={"content-type": "application/json"}
    )
    assert_validation(response, "name")


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"email": "a@example.com", "name": "N"', b"\xff\xfe", b"email=a&name=b"],
    ids=["garbage", "truncated", "binary", "form"],
)
async def test_body_that_is_not_json_is_a_bad_request(users_client, content):
    headers = {"content-type": "application/json"}
    response = await users_client.post("/users", content=content, headers=headers)
    assert_error(response, 400, "BAD_REQUEST")
    user = await create(users_client)
    response = await users_client.put(f"/users/{user['id']}", content=content, headers=headers)
    assert_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    "payload",
    [[{"email": "a@example.com", "name": "N"}], [], "a string", 42, True],
    ids=["array", "empty-array", "string", "number", "bool"],
)
async def test_body_that_is_not_an_object_is_a_bad_request(users_client, payload):
    response = await users_client.post("/users", json=payload)
    assert_error(response, 400, "BAD_REQUEST")
    user = await create(users_client)
    response = await users_client.put(f"/users/{user['id']}", json=payload)
    assert_error(response, 400, "BAD_REQUEST")
    assert (await users_client.get("/users")).json()["meta"]["total"] == 1


async def test_missing_body_is_a_bad_request(users_client):
    headers = {"content-type": "application/json"}
    assert_error(await users_client.post("/users", headers=headers), 400, "BAD_REQUEST")


def _big_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    prefix, suffix = b'{"email": "big@example.com", "name": "', b'"}'
    return prefix + b"x" * (size - len(prefix) - len(suffix)) + suffix


async def test_body_over_one_mib_is_refused(users_client):
    body = _big_body(MAX_BODY_BYTES + 1)
    headers = {"content-type": "application/json"}
    response = await users_client.post("/users", content=body, headers=headers)
    assert response.request.headers["content-length"] == str(MAX_BODY_BYTES + 1)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    user = await create(users_client)
    response = await users_client.put(f"/users/{user['id']}", content=body, headers=headers)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_body_of_exactly_one_mib_is_read(users_client):
    body = _big_body(MAX_BODY_BYTES)
    response = await users_client.post(
        "/users", content=body, headers={"content-type": "application/json"}
    )
    assert_validation(response, "name")  # read and validated: the name is too long


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    body = _big_body(total)
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_chunked_body_over_one_mib_is_refused(users_client):
    response = await users_client.post(
        "/users",
        content=_chunks(MAX_BODY_BYTES + 1024),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_chunked_body_under_the_limit_is_read(users_client):
    body = json.dumps({"email": "chunked@example.com", "name": "Chunked"}).encode()

    async def two_chunks() -> AsyncIterator[bytes]:
        yield body[:10]
        yield body[10:]

    response = await users_client.post(
        "/users", content=two_chunks(), headers={"content-type": "application/json"}
    )
    assert assert_ok(response, 201)["email"] == "chunked@example.com"


async def test_chunked_body_over_one_mib_is_refused_by_the_real_process(users_process):
    async with httpx.AsyncClient(base_url=users_process.url, timeout=30) as client:
        response = await client.post(
            "/users",
            content=_chunks(MAX_BODY_BYTES + 1024),
            headers={"content-type": "application/json"},
        )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("GET", "/users/"), ("POST", "/user"), ("GET", f"/users/{uuid.uuid4()}/x")],
)
async def test_unknown_route_is_a_404_envelope(users_client, method, path):
    assert_error(await users_client.request(method, path), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/users/{id}", {"GET", "PUT", "DELETE"}),
        ("POST", "/users/{id}", {"GET", "PUT", "DELETE"}),
        ("DELETE", "/users", {"GET", "POST"}),
        ("PUT", "/users", {"GET", "POST"}),
        ("POST", "/health", {"GET"}),
    ],
)
async def test_wrong_method_is_a_405_envelope(users_client, method, path, allowed):
    response = await users_client.request(method, path.format(id=uuid.uuid4()))
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    allow = {item.strip() for item in response.headers["allow"].split(",")}
    # Starlette names only the methods of the first route matching the path, so only the
    # intersection with GET (every path here has a GET route) can be required.
    assert "GET" in allow
    assert method not in allow
    assert allow <= allowed | {"HEAD"}


# --- secrets -------------------------------------------------------------------------------


async def test_password_and_hash_never_leave_the_service(users_client, users_db_url):
    response = await users_client.post(
        "/users", json={"email": email(), "name": "Secret", "password": PASSWORD}
    )
    assert_no_secrets(response)
    user = assert_ok(response, 201)
    stored = await stored_hash(users_db_url, user["id"])
    assert stored is not None
    assert stored.startswith("$argon2")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)

    assert_no_secrets(await users_client.get(f"/users/{user['id']}"))
    assert_no_secrets(await users_client.get("/users"))
    assert_no_secrets(await users_client.get(f"/users?ids={user['id']}"))

    new_password = "an entirely different one"
    response = await users_client.put(f"/users/{user['id']}", json={"password": new_password})
    assert_no_secrets(response, new_password)
    assert_no_secrets(response, PASSWORD)
    rehashed = await stored_hash(users_db_url, user["id"])
    assert rehashed is not None
    assert rehashed.startswith("$argon2")
    assert rehashed != stored
    assert verify_password(rehashed, new_password)
    assert not verify_password(rehashed, PASSWORD)

    response = await users_client.put(f"/users/{user['id']}", json={"name": "Renamed"})
    assert_no_secrets(response, new_password)
    assert await stored_hash(users_db_url, user["id"]) == rehashed  # untouched
    assert_no_secrets(await users_client.delete(f"/users/{user['id']}"), new_password)


async def test_user_without_password_has_no_hash(users_client, users_db_url):
    user = await create(users_client)
    assert await stored_hash(users_db_url, user["id"]) is None


async def test_password_is_not_echoed_in_validation_errors(users_client):
    secret = "p" * 129
    response = await users_client.post(
        "/users", json={"email": email(), "name": "N", "password": secret}
    )
    assert_validation(response, "password")
    assert secret not in response.text


# --- pagination ----------------------------------------------------------------------------


async def test_limit_and_offset_page_through_users(users_client):
    users = [await create(users_client) for _ in range(5)]
    response = await users_client.get("/users", params={"limit": 2, "offset": 1})
    body = response.json()
    assert response.status_code == 200
    assert [user["id"] for user in body["data"]] == [users[1]["id"], users[2]["id"]]
    assert body["meta"] == {"total": 5, "limit": 2, "offset": 1, "next": body["meta"]["next"]}
    assert body["meta"]["next"] is not None  # rows follow

    body = (await users_client.get("/users", params={"limit": 2, "offset": 4})).json()
    assert [user["id"] for user in body["data"]] == [users[4]["id"]]
    assert body["meta"] == {"total": 5, "limit": 2, "offset": 4, "next": None}

    body = (await users_client.get("/users", params={"offset": 10})).json()
    assert body["data"] == []
    assert body["meta"] == {"total": 5, "limit": 100, "offset": 10, "next": None}

    body = (await users_client.get("/users", params={"limit": 1000})).json()
    assert len(body["data"]) == 5
    assert body["meta"] == {"total": 5, "limit": 1000, "offset": 0, "next": None}


async def test_default_limit_is_100(users_client):
    await create(users_client)
    body = (await users_client.get("/users")).json()
    assert body["meta"] == {"total": 1, "limit": 100, "offset": 0, "next": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "1001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "abc"}, "offset"),
    ],
)
async def test_bad_paging_parameters_are_validation_errors(users_client, params, field):
    response = await users_client.get("/users", params=params)
    details = assert_validation(response, field)
    assert [detail["field"] for detail in details] == [field]


async def test_huge_offset_is_a_validation_error_not_a_500(users_client):
    """An offset past PostgreSQL's bigint must be refused as a 400, never reach the database."""
    await create(users_client)
    response = await users_client.get("/users", params={"offset": str(2**63)})
    details = assert_validation(response, "offset")
    assert [detail["field"] for detail in details] == ["offset"]


# --- batch filter ?ids= --------------------------------------------------------------------


async def test_empty_ids_filter_is_an_empty_list(users_client):
    await create(users_client)
    response = await users_client.get("/users?ids=")
    body = response.json()
    assert response.status_code == 200
    assert body["success"] is True
    assert body["data"] == []
    assert body["meta"]["total"] == 0


async def test_ids_filter_with_one_id(users_client):
    users = [await create(users_client) for _ in range(3)]
    body = (await users_client.get(f"/users?ids={users[1]['id']}")).json()
    assert body["data"] == [users[1]]
    assert body["meta"]["total"] == 1


async def test_ids_filter_with_500_ids_returns_the_real_ones(users_client):
    real = [await create(users_client) for _ in range(3)]
    await create(users_client)  # not asked for
    ids = [user["id"] for user in real] + [str(uuid.uuid4()) for _ in range(497)]
    assert len(ids) == 500
    response = await users_client.get("/users", params={"ids": ",".join(ids)})
    body = response.json()
    assert response.status_code == 200, response.text
    assert sorted(user["id"] for user in body["data"]) == sorted(user["id"] for user in real)
    assert body["meta"]["total"] == 3


async def test_ids_filter_returns_every_match_not_just_100(users_client, users_db_url):
    async with await psycopg.AsyncConnection.connect(libpq_url(users_db_url)) as conn:
        cursor = await conn.execute(
            "INSERT INTO users (email, name)"
            " SELECT 'bulk' || n || '@example.com', 'Bulk' FROM generate_series(1, 150) AS n"
            " RETURNING id"
        )
        ids = [str(row[0]) for row in await cursor.fetchall()]
    response = await users_client.get("/users", params={"ids": ",".join(ids)})
    body = response.json()
    assert response.status_code == 200
    assert sorted(user["id"] for user in body["data"]) == sorted(ids)
    assert body["meta"]["total"] == 150


async def test_ids_filter_with_501_ids_is_refused(users_client):
    ids = ",".join(str(uuid.uuid4()) for _ in range(501))
    response = await users_client.get("/users", params={"ids": ids})
    details = assert_validation(response, "ids")
    assert [detail["field"] for detail in details] == ["ids"]


@pytest.mark.parametrize("bad", ["not-a-uuid", "1234", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"])
async def test_ids_filter_with_a_malformed_id_is_refused(users_client, bad):
    user = await create(users_client)
    response = await users_client.get("/users", params={"ids": f"{user['id']},{bad}"})
    details = assert_validation(response, "ids")
    assert [detail["field"] for detail in details] == ["ids"]


async def test_ids_filter_does_not_depend_on_order(users_client):
    users = [await create(users_client) for _ in range(4)]
    ids = [user["id"] for user in users]
    forward = (await users_client.get("/users", params={"ids": ",".join(ids)})).json()
    backward = (await users_client.get("/users", params={"ids": ",".join(reversed(ids))})).json()
    assert sorted(user["id"] for user in forward["data"]) == sorted(ids)
    assert sorted(user["id"] for user in backward["data"]) == sorted(ids)
    assert forward["meta"]["total"] == backward["meta"]["total"] == 4


async def test_ids_filter_tolerates_duplicates(users_client):
    users = [await create(users_client) for _ in range(2)]
    ids = [users[0]["id"], users[1]["id"], users[0]["id"], users[0]["id"].upper()]
    response = await users_client.get("/users", params={"ids": ",".join(ids)})
    body = response.json()
    assert response.status_code == 200
    assert sorted(user["id"] for user in body["data"]) == sorted(user["id"] for user in users)
    assert body["meta"]["total"] == 2


# --- request id, health, real process ------------------------------------------------------


async def test_request_id_is_echoed(users_client):
    response = await users_client.get("/users", headers={"X-Request-ID": "req-abc-123"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-abc-123"
    response = await users_client.get(
        f"/users/{uuid.uuid4()}", headers={"X-Request-ID": "req-on-error"}
    )
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-on-error"
    response = await users_client.post(
        "/users",
        content=_big_body(MAX_BODY_BYTES + 1),
        headers={"X-Request-ID": "req-too-big", "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["x-request-id"] == "req-too-big"


async def test_request_id_is_generated_when_absent(users_client):
    first = await users_client.get("/health")
    second = await users_client.get("/users/not-a-uuid")
    assert first.headers.get_list("x-request-id") != []
    assert len(first.headers.get_list("x-request-id")) == 1
    assert first.headers["x-request-id"].strip()
    assert second.headers["x-request-id"].strip()
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_health(users_client):
    response = await users_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"]["status"] == "OK"
    assert body["data"]["service"] == "users"


async def test_create_and_get_over_a_real_socket(users_process):
    address = email()
    async with httpx.AsyncClient(base_url=users_process.url, timeout=30) as client:
        response = await client.post(
            "/users",
            json={"email": address, "name": " Real ", "password": PASSWORD},
            headers={"X-Request-ID": "real-process"},
        )
        assert response.headers["x-request-id"] == "real-process"
        assert_no_secrets(response)
        created = assert_ok(response, 201)
        assert_user(created)
        assert created["email"] == address
        assert created["name"] == "Real"
        fetched = await client.get(f"/users/{created['id']}")
        assert assert_ok(fetched) == created
        assert_no_secrets(fetched)
        assert_error(await client.get("/users/nope"), 400, "VALIDATION_ERROR")
        assert_error(await client.get("/nope"), 404, "NOT_FOUND")
        health = assert_ok(await client.get("/health"))
        assert health["status"] == "OK"


async def test_fields_projects_a_page_and_never_reaches_the_password(users_client):
    await users_client.post(
        "/users", json={"email": "f@example.com", "name": "F", "password": "secret-123"}
    )
    response = await users_client.get("/users", params={"fields": "name"})
    assert response.status_code == 200
    assert [set(user) for user in response.json()["data"]] == [{"id", "name"}]
    refused = await users_client.get("/users", params={"fields": "name,password_hash"})
    assert_validation(refused, "fields")
