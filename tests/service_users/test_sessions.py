"""The users service's sessions (service_users/sessions.py), in process on a real database:
start, rotate, reuse, end; and what ends them (roles, password, deletion, expiry)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from apicore.db import libpq_url
from tests.service_users.test_users_api import assert_error, assert_ok, create

PASSWORD = "session password 1"


async def start(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/internal/sessions", json={"email": email, "password": password})
    return assert_ok(response, 201)


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/internal/sessions/refresh", json={"refresh_token": token})


async def standing(client: httpx.AsyncClient, session_id: str) -> int:
    return (await client.get(f"/internal/sessions/{session_id}")).status_code


async def test_a_session_starts_for_valid_credentials_only(users_client, users_db_url):
    user = await create(users_client, password=PASSWORD, roles=["engineer"])
    session = await start(users_client, f"  {user['email'].upper()} ")
    assert set(session) == {"session_id", "refresh_token", "refresh_expires_in", "user"}
    assert session["user"] == user
    assert session["refresh_expires_in"] == 14 * 24 * 3600
    answer = assert_ok(await users_client.get(f"/internal/sessions/{session['session_id']}"))
    assert answer == {"id": session["session_id"], "user_id": user["id"], "roles": ["engineer"]}
    # Only the token's SHA-256 is stored.
    async with await psycopg.AsyncConnection.connect(libpq_url(users_db_url)) as conn:
        stored = await (await conn.execute("SELECT token_hash FROM refresh_tokens")).fetchall()
    digest = hashlib.sha256(session["refresh_token"].encode()).digest()
    assert [bytes(row[0]) for row in stored] == [digest]
    wrong = await users_client.post(
        "/internal/sessions", json={"email": user["email"], "password": "not it"}
    )
    assert_error(wrong, 401, "INVALID_CREDENTIALS")


async def test_refresh_rotates_and_reuse_ends_the_session(users_client):
    user = await create(users_client, password=PASSWORD)
    session = await start(users_client, user["email"])
    renewed = assert_ok(await refresh(users_client, session["refresh_token"]))
    assert renewed["session_id"] == session["session_id"]
    assert renewed["refresh_token"] != session["refresh_token"]
    assert renewed["user"] == user
    reused = await refresh(users_client, session["refresh_token"])
    assert_error(reused, 401, "UNAUTHENTICATED")
    assert await standing(users_client, session["session_id"]) == 404
    assert_error(await refresh(users_client, renewed["refresh_token"]), 401, "UNAUTHENTICATED")


async def test_concurrent_refreshes_with_one_token_let_one_through_at_most(users_client):
    user = await create(users_client, password=PASSWORD)
    session = await start(users_client, user["email"])
    answers = await asyncio.gather(
        *(refresh(users_client, session["refresh_token"]) for _ in range(6))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 401}, statuses
    assert await standing(users_client, session["session_id"]) == 404


@pytest.mark.parametrize(
    ("change", "ends"),
    [
        ({"roles": ["customer"]}, True),
        ({"password": "another password"}, True),
        ({"roles": ["engineer"]}, False),  # the roles it has: no change
        ({"name": "Renamed"}, False),
        ({"email": "renamed@example.com"}, False),
    ],
)
async def test_a_change_of_roles_or_password_ends_every_session(users_client, change, ends):
    user = await create(users_client, password=PASSWORD, roles=["engineer"])
    sessions = [await start(users_client, user["email"]) for _ in range(2)]
    other = await create(users_client, password=PASSWORD)
    theirs = await start(users_client, other["email"])
    assert_ok(await users_client.put(f"/users/{user['id']}", json=change))
    for session in sessions:
        assert await standing(users_client, session["session_id"]) == (404 if ends else 200)
    assert await standing(users_client, theirs["session_id"]) == 200


async def test_a_deleted_users_sessions_are_gone(users_client):
    user = await create(users_client, password=PASSWORD)
    session = await start(users_client, user["email"])
    assert_ok(await users_client.delete(f"/users/{user['id']}"))
    assert await standing(users_client, session["session_id"]) == 404
    assert_error(await refresh(users_client, session["refresh_token"]), 401, "UNAUTHENTICATED")


async def test_ending_a_session_and_an_expired_one(users_client, users_db_url):
    user = await create(users_client, password=PASSWORD)
    first, second = [await start(users_client, user["email"]) for _ in range(2)]
    ended = await users_client.delete(f"/internal/sessions/{first['session_id']}")
    assert assert_ok(ended) == {"id": first["session_id"]}
    assert await standing(users_client, first["session_id"]) == 404
    again = await users_client.delete(f"/internal/sessions/{first['session_id']}")
    assert_error(again, 404, "NOT_FOUND")
    async with await psycopg.AsyncConnection.connect(libpq_url(users_db_url)) as conn:
        await conn.execute(
            "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = %s",
            (second["session_id"],),
        )
        await conn.commit()
    assert await standing(users_client, second["session_id"]) == 404
    expired = await refresh(users_client, second["refresh_token"])
    assert_error(expired, 401, "UNAUTHENTICATED")
    assert "expired" in expired.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"refresh_token": ""},
        {"refresh_token": None},
        {"refresh_token": 1},
        {"refresh_token": "x" * 513},
        {"refresh_token": "x", "more": 1},
    ],
)
async def test_a_malformed_refresh_is_400(users_client, body):
    response = await users_client.post("/internal/sessions/refresh", json=body)
    assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("token", ["\u0000", "é" * 200, "a" * 512, "\ud800"])
async def test_any_other_refresh_token_is_nobodys(users_client, token):
    response = await users_client.post(
        "/internal/sessions/refresh",
        content=f'{{"refresh_token": "{token.encode("unicode_escape").decode()}"}}'.replace(
            "\\x00", "\\u0000"
        ),
        headers={"content-type": "application/json"},
    )
    assert response.status_code in (400, 401), response.text


async def test_session_ids_that_are_no_uuid_are_400(users_client):
    for path in ("/internal/sessions/nope", "/internal/sessions/1"):
        assert_error(await users_client.get(path), 400, "VALIDATION_ERROR")
    assert await standing(users_client, str(uuid.uuid4())) == 404
