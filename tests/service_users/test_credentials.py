"""The users service's credentials check (docs/auth.md) and the first administrator.

`POST /internal/credentials/verify` is internal (the gateway's login calls it and never
exposes it): the public user for a matching email and password, one 401 for every
failure, at about the cost of a success. `python -m service_users.init_db` creates the
first administrator from USERS_ADMIN_EMAIL / USERS_ADMIN_PASSWORD.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg
import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy.engine import make_url

from apicore.db import drop_database, libpq_url
from apicore.middleware import MAX_BODY_BYTES
from service_users import init_db, passwords, repository
from service_users.app import create_app
from service_users.config import Settings
from tests.support.envelope import data_of, error_of
from tests.support.pg import database_url
from tests.support.procs import ROOT

ROUTE = "/internal/credentials/verify"
PASSWORD = "correct horse battery staple"
INVALID = {
    "success": False,
    "error": {"code": "INVALID_CREDENTIALS", "message": "Invalid email or password"},
}
ADMIN_VARIABLES = ("USERS_ADMIN_EMAIL", "USERS_ADMIN_PASSWORD", "USERS_ADMIN_NAME")
JSON = {"content-type": "application/json"}


# --- helpers -------------------------------------------------------------------------------


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"email": new_email(), "name": "Белов Ярослав", "password": PASSWORD, **fields}
    return data_of(await client.post("/users", json=body), 201)


async def verify(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(ROUTE, json={"email": email, "password": password})


def assert_invalid(response: httpx.Response) -> None:
    """The one answer of every failure: the same status, body and headers that matter."""
    error_of(response, 401, "INVALID_CREDENTIALS")
    assert response.json() == INVALID
    assert response.headers["content-type"] == "application/json"
    assert "www-authenticate" not in response.headers  # internal: the gateway answers clients


def assert_validation(response: httpx.Response, *fields: str) -> None:
    error = error_of(response, 400, "VALIDATION_ERROR")
    named = {detail["field"] for detail in error.get("details", [])}
    assert set(fields) <= named, error


def all_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in all_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in all_keys(item)}
    return set()


def assert_no_secrets(response: httpx.Response, password: str = PASSWORD) -> None:
    assert password not in response.text
    assert "$argon2" not in response.text
    assert "password_hash" not in response.text
    assert not all_keys(response.json()) & {"password", "password_hash"}


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hash of every argon2 verification the service makes, in order."""
    seen: list[str] = []
    real = passwords.verify_password

    def spy(password_hash: str, password: str) -> bool:
        seen.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    return seen


def stored_user(db_url: str, email: str) -> tuple[Any, ...]:
    """The user's row as stored: (id, email, name, roles, password_hash, updated_at)."""
    with psycopg.connect(libpq_url(db_url)) as conn:
        row = conn.execute(
            "SELECT id, email, name, roles, password_hash, updated_at FROM users"
            " WHERE lower(email) = lower(%s)",
            (email,),
        ).fetchone()
    assert row is not None, f"no user {email}"
    return row


def set_hash(db_url: str, user_id: str, password_hash: str | None) -> None:
    with psycopg.connect(libpq_url(db_url)) as conn:
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))


# --- success -------------------------------------------------------------------------------


async def test_success_answers_the_user_exactly_as_get_does(users_client, verifications):
    user = await create(users_client)
    response = await verify(users_client, user["email"], PASSWORD)
    assert response.status_code == 200
    assert set(response.json()) == {"success", "data"}
    assert data_of(response) == data_of(await users_client.get(f"/users/{user['id']}"))
    # Byte for byte: the same JSON text that GET /users/{id} serves.
    assert response.content == (await users_client.get(f"/users/{user['id']}")).content
    assert_no_secrets(response)
    assert len(verifications) == 1
    assert verifications[0].startswith("$argon2id$")
    assert verifications[0] != passwords.STAND_IN_HASH


@pytest.mark.parametrize(
    "typed",
    ["mixed.case@example.com", "MIXED.CASE@EXAMPLE.COM", "Mixed.Case@example.COM"],
)
async def test_email_is_case_insensitive(users_client, typed):
    user = await create(users_client, email="Mixed.Case@Example.com")
    assert data_of(await verify(users_client, typed, PASSWORD))["id"] == user["id"]


async def test_email_is_looked_up_as_users_are_stored(users_client):
    """POST /users trims and normalises (Unicode NFC, IDNA domains); the lookup does too."""
    user = await create(users_client, email="jose\u0301@bücher.example")  # e + combining accent
    assert user["email"] == "jos\u00e9@bücher.example"
    for typed in (
        "  jose\u0301@bücher.example ",
        "jos\u00e9@xn--bcher-kva.example",
        "jos\u00e9@BÜCHER.example",
    ):
        assert data_of(await verify(users_client, typed, PASSWORD))["id"] == user["id"], typed


async def test_the_password_is_case_sensitive_and_exact(users_client):
    user = await create(users_client)
    for wrong in (PASSWORD.upper(), PASSWORD + " ", " " + PASSWORD, PASSWORD[:-1]):
        assert_invalid(await verify(users_client, user["email"], wrong))


# --- failures: one answer, one cost ----------------------------------------------------------


async def test_every_failure_is_the_same_401(users_client, users_db_url, verifications):
    user = await create(users_client)
    no_password = await create(users_client, password=None)
    assert stored_user(users_db_url, no_password["email"])[4] is None

    failures = {
        "wrong password": await verify(users_client, user["email"], "not the password"),
        "unknown email": await verify(users_client, new_email(), PASSWORD),
        "no password": await verify(users_client, no_password["email"], PASSWORD),
        "not an address": await verify(users_client, "nobody", PASSWORD),
    }
    for kind, response in failures.items():
        assert_invalid(response)
        assert_no_secrets(response)
        assert response.content == failures["wrong password"].content, kind
    # One argon2 verification each: the user's hash, else the stand-in.
    stand_in = passwords.STAND_IN_HASH
    assert verifications[0] == stored_user(users_db_url, user["email"])[4]
    assert verifications[1:] == [stand_in, stand_in, stand_in]


async def test_the_stand_in_hash_has_the_parameters_of_real_hashes():
    """It costs what a real hash costs only if argon2 does the same work for it."""
    real = await passwords.hash_password(PASSWORD)
    assert extract_parameters(passwords.STAND_IN_HASH) == extract_parameters(real)
    assert not passwords.needs_rehash(passwords.STAND_IN_HASH)
    assert not passwords.verify_password(passwords.STAND_IN_HASH, PASSWORD)
    assert not passwords.verify_password(passwords.STAND_IN_HASH, "")


@pytest.mark.slow
async def test_failures_take_about_as_long_as_a_wrong_password(users_client, users_db_url):
    """Medians of interleaved tries, within a loose ratio (a shared machine is noisy).

    The bound can fail: a route that skipped argon2 for an unknown email answers in about
    a millisecond against ~100 ms for a wrong password, a ratio near 0.01. The last
    assertion shows that such a request (one SQL round trip, no argon2) is indeed far
    outside the bound.
    """
    user = await create(users_client)
    no_password = await create(users_client, password=None)
    tries = {
        "unknown email": lambda: verify(users_client, new_email(), PASSWORD),
        "wrong password": lambda: verify(users_client, user["email"], "not the password"),
        "no password": lambda: verify(users_client, no_password["email"], PASSWORD),
        "success": lambda: verify(users_client, user["email"], PASSWORD),
        "no argon2 (GET)": lambda: users_client.get(f"/users/{user['id']}"),
    }
    times: dict[str, list[float]] = {kind: [] for kind in tries}
    for attempt in range(8):
        for kind, send in tries.items():
            started = time.perf_counter()
            response = await send()
            elapsed = time.perf_counter() - started
            assert response.status_code in (200, 401), response.text
            if attempt:  # the first round warms the pool and the code paths
                times[kind].append(elapsed)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    print("medians (ms):", {kind: round(m * 1000, 1) for kind, m in medians.items()})
    wrong = medians["wrong password"]
    assert 0.5 <= medians["unknown email"] / wrong <= 2.0, medians
    assert 0.5 <= medians["no password"] / wrong <= 2.0, medians
    assert 0.5 <= medians["success"] / wrong <= 2.0, medians
    assert medians["no argon2 (GET)"] / wrong < 0.5, medians


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["email", "password"]),
        ({"email": "a@example.com"}, ["password"]),
        ({"password": PASSWORD}, ["email"]),
        ({"email": "a@example.com", "password": PASSWORD, "remember": True}, ["remember"]),
        ({"email": "a@example.com", "password": PASSWORD, "password_hash": "x"}, ["password_hash"]),
        ({"email": 42, "password": PASSWORD}, ["email"]),
        ({"email": None, "password": PASSWORD}, ["email"]),
        ({"email": ["a@example.com"], "password": PASSWORD}, ["email"]),
        ({"email": "a@example.com", "password": 12345678}, ["password"]),
        ({"email": "a@example.com", "password": None}, ["password"]),
        ({"email": "a@example.com", "password": {"$ne": ""}}, ["password"]),
        ({"email": "a@example.com", "password": True}, ["password"]),
        ({"email": "", "password": PASSWORD}, ["email"]),
        ({"email": "a@example.com", "password": ""}, ["password"]),
        ({"email": "a" * 309 + "@example.com", "password": PASSWORD}, ["email"]),
        ({"email": "a@example.com", "password": "p" * 1025}, ["password"]),
    ],
    ids=[
        "empty",
        "no-password",
        "no-email",
        "extra-field",
        "hash-field",
        "email-number",
        "email-null",
        "email-array",
        "password-number",
        "password-null",
        "password-object",
        "password-bool",
        "email-empty",
        "password-empty",
        "email-321",
        "password-1025",
    ],
)
async def test_invalid_bodies_are_validation_errors(users_client, verifications, body, fields):
    response = await users_client.post(ROUTE, json=body)
    assert_validation(response, *fields)
    assert PASSWORD not in response.text
    assert verifications == []  # refused before any hashing


async def test_the_bounds_themselves_are_accepted(users_client):
    assert_invalid(await verify(users_client, "a" * 308 + "@example.com", PASSWORD))  # 320
    assert_invalid(await verify(users_client, new_email(), "p" * 1024))


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/merge-patch+json"],
)
async def test_a_body_that_is_not_declared_json_is_415(users_client, content_type):
    content = b'{"email": "a@example.com", "password": "correct horse battery staple"}'
    headers = {"content-type": content_type} if content_type else {}
    response = await users_client.post(ROUTE, content=content, headers=headers)
    error_of(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"email": "a@example.com"', b"[]", b'"a@example.com"', b""],
    ids=["garbage", "truncated", "array", "string", "empty"],
)
async def test_a_body_that_is_no_json_object_is_a_bad_request(users_client, content):
    error_of(await users_client.post(ROUTE, content=content, headers=JSON), 400, "BAD_REQUEST")


async def test_query_parameters_are_refused(users_client):
    response = await users_client.post(
        ROUTE, params={"email": "a@example.com"}, json={"email": "a@example.com", "password": "x"}
    )
    assert_validation(response, "email")


async def test_only_post_is_allowed(users_client):
    for method in ("GET", "PUT", "DELETE"):
        response = await users_client.request(method, ROUTE)
        error_of(response, 405, "METHOD_NOT_ALLOWED")


# --- hostile input --------------------------------------------------------------------------


async def test_a_megabyte_password_is_refused_before_hashing(users_client, verifications):
    user = await create(users_client)
    # Over the body limit: refused before the body is read.
    huge = {"email": user["email"], "password": "p" * MAX_BODY_BYTES}
    error_of(await users_client.post(ROUTE, json=huge), 413, "PAYLOAD_TOO_LARGE")
    # Just under it: read, and refused by its length.
    big = {"email": user["email"], "password": "p" * (MAX_BODY_BYTES - 1000)}
    started = time.perf_counter()
    response = await users_client.post(ROUTE, json=big)
    assert_validation(response, "password")
    assert "p" * 100 not in response.text  # the input is not echoed
    assert verifications == []
    assert time.perf_counter() - started < 5.0


async def test_nul_characters(users_client, users_db_url):
    # No stored email holds NUL (PostgreSQL text cannot): a validation error, not a 500.
    assert_validation(await verify(users_client, "a\x00@example.com", PASSWORD), "email")
    # A password may hold one (argon2 hashes bytes), and must match exactly.
    user = await create(users_client, password="nul\x00inside!")
    assert data_of(await verify(users_client, user["email"], "nul\x00inside!"))["id"] == user["id"]
    assert_invalid(await verify(users_client, user["email"], "nul"))
    assert_invalid(await verify(users_client, user["email"], "nul\x00inside"))
    # A raw NUL byte is no JSON text.
    raw = b'{"email": "a@example.com", "password": "a\x00b"}'
    error_of(await users_client.post(ROUTE, content=raw, headers=JSON), 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    "content",
    [
        '{"email": "é@example.com", "password": "pässword"}'.encode("latin-1"),
        '{"email": "a@example.com", "password": "x"}'.encode("utf-16"),
        b'\xef\xbb\xbf{"email": "a@example.com", "password": "x"}',
        b'{"email": "a@example.com", "password": "\xff\xfe"}',
    ],
    ids=["latin-1", "utf-16", "utf-8-bom", "invalid-bytes"],
)
async def test_a_body_that_is_not_utf8_is_a_bad_request(users_client, verifications, content):
    error_of(await users_client.post(ROUTE, content=content, headers=JSON), 400, "BAD_REQUEST")
    assert verifications == []


async def test_a_charset_other_than_utf8_is_refused(users_client):
    content = b'{"email": "a@example.com", "password": "x"}'
    headers = {"content-type": "application/json; charset=latin-1"}
    error_of(await users_client.post(ROUTE, content=content, headers=headers), 400, "BAD_REQUEST")


@pytest.mark.parametrize("field", ["email", "password"])
async def test_a_lone_surrogate_is_a_validation_error_not_a_500(users_client, field):
    body = {"email": "a@example.com", "password": PASSWORD}
    text = httpx.Request("POST", "/", json=body).content.decode()
    content = text.replace(body[field], "\\ud800", 1).encode()
    response = await users_client.post(ROUTE, content=content, headers=JSON)
    assert_validation(response, field)


@pytest.mark.parametrize(
    "email",
    ["' OR '1'='1", "%@%", "_%", "*", "a@example.com' --", "a@example.com\n", "\u202e@x.y"],
)
async def test_an_email_never_matches_more_than_itself(users_client, email):
    await create(users_client)
    assert_invalid(await verify(users_client, email, PASSWORD))


# --- rehash: a hash made with weaker parameters is refreshed after a success ---------------


async def test_an_outdated_hash_is_rehashed_after_a_success(users_client, users_db_url):
    user = await create(users_client)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    set_hash(users_db_url, user["id"], weak)
    assert passwords.needs_rehash(weak)

    assert_invalid(await verify(users_client, user["email"], "not the password"))
    assert stored_user(users_db_url, user["email"])[4] == weak  # only a success rehashes

    assert data_of(await verify(users_client, user["email"], PASSWORD)) == user
    fresh = stored_user(users_db_url, user["email"])[4]
    assert fresh != weak
    assert not passwords.needs_rehash(fresh)
    assert extract_parameters(fresh) == extract_parameters(passwords.STAND_IN_HASH)
    assert passwords.verify_password(fresh, PASSWORD)
    # Not a change of the user: updated_at stays.
    assert data_of(await users_client.get(f"/users/{user['id']}")) == user

    assert data_of(await verify(users_client, user["email"], PASSWORD)) == user
    assert stored_user(users_db_url, user["email"])[4] == fresh  # current: left alone


async def test_a_rehash_leaves_a_password_changed_meanwhile(users_client, users_app, users_db_url):
    """The rehash runs after the answer: a new password set in between must stay (the race
    cannot be timed over HTTP, so the rehash is made here, as the answered check would)."""
    user = await create(users_client)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    set_hash(users_db_url, user["id"], weak)
    changed = await users_client.put(f"/users/{user['id']}", json={"password": "a new password"})
    assert changed.status_code == 200, changed.text
    current = stored_user(users_db_url, user["email"])[4]

    replaced = await repository.replace_password_hash(
        users_app.state.engine,
        user_id=uuid.UUID(user["id"]),
        old=weak,
        new=await passwords.hash_password(PASSWORD),
    )

    assert replaced is False
    assert stored_user(users_db_url, user["email"])[4] == current
    assert_invalid(await verify(users_client, user["email"], PASSWORD))
    assert data_of(await verify(users_client, user["email"], "a new password"))["id"] == user["id"]


async def test_a_current_hash_is_not_rewritten(users_client, users_db_url):
    user = await create(users_client)
    before = stored_user(users_db_url, user["email"])[4]
    data_of(await verify(users_client, user["email"], PASSWORD))
    assert stored_user(users_db_url, user["email"])[4] == before


# --- the document ---------------------------------------------------------------------------


def test_the_route_is_documented_as_internal():
    document = create_app(Settings()).openapi()
    operation = document["paths"][ROUTE]["post"]
    assert operation["operationId"] == "verifyCredentials"
    assert operation["tags"] == ["internal"]
    assert set(operation["responses"]) == {"200", "400", "401", "413", "415"}
    body = document["components"]["schemas"]["Credentials"]
    assert body["additionalProperties"] is False
    assert body["properties"]["email"]["maxLength"] == 320
    assert body["properties"]["password"]["maxLength"] == 1024


# --- the first administrator (python -m service_users.init_db) ------------------------------


@pytest.fixture
def no_admin_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """None of the administrator's variables, whatever the shell running the tests has."""
    for name in ADMIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def fresh_db(pg_server: str, no_admin_env) -> Iterator[str]:
    """A database name of its own on the test server (not created yet), dropped afterwards."""
    url = database_url(pg_server, "test_admin")
    try:
        yield url
    finally:
        drop_database(url)


def set_admin(monkeypatch: pytest.MonkeyPatch, email: str, password: str) -> None:
    monkeypatch.setenv("USERS_ADMIN_EMAIL", email)
    monkeypatch.setenv("USERS_ADMIN_PASSWORD", password)


def users_rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            "SELECT email, name, roles, password_hash, updated_at FROM users ORDER BY email"
        ).fetchall()


def database_exists(url: str) -> bool:
    target = make_url(url)
    with psycopg.connect(libpq_url(target.set(database="postgres"))) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)
        ).fetchone()
    return row is not None


@asynccontextmanager
async def users_service(url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=url, db_pool_size=1))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


async def test_init_db_creates_the_first_administrator(fresh_db, no_admin_env, caplog):
    caplog.set_level(logging.INFO, logger="service_users.init_db")
    set_admin(no_admin_env, "Chief@Example.COM", PASSWORD)
    init_db.main(fresh_db)

    [(email, name, roles, password_hash, _)] = users_rows(fresh_db)
    assert (email, name, roles) == ("chief@example.com", "Administrator", ["admin"])
    assert password_hash.startswith("$argon2id$")
    assert passwords.verify_password(password_hash, PASSWORD)
    assert "Created the first administrator chief@example.com" in caplog.messages
    assert PASSWORD not in caplog.text

    async with users_service(fresh_db) as client:
        admin = data_of(await verify(client, "chief@example.com", PASSWORD))
        assert admin["roles"] == ["admin"]
        assert_invalid(await verify(client, "chief@example.com", "not the password"))


async def test_init_db_again_leaves_the_administrator_unchanged(fresh_db, no_admin_env, caplog):
    caplog.set_level(logging.INFO, logger="service_users.init_db")
    set_admin(no_admin_env, "chief@example.com", PASSWORD)
    init_db.main(fresh_db)
    before = users_rows(fresh_db)

    set_admin(no_admin_env, "CHIEF@example.com", "another password entirely")
    no_admin_env.setenv("USERS_ADMIN_NAME", "Someone Else")
    init_db.main(fresh_db)
    assert users_rows(fresh_db) == before  # one admin, same password, name, updated_at
    assert "Administrator chief@example.com exists; left unchanged" in caplog.messages
    # It says why USERS_ADMIN_PASSWORD will not log in, and what to do.
    [report] = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert report.startswith(
        "Administrator chief@example.com (USERS_ADMIN_EMAIL) has another password than"
        " USERS_ADMIN_PASSWORD, so logging in with USERS_ADMIN_PASSWORD is refused"
    )
    assert "make run RUN_ARGS=--reset-admin-password" in report
    assert "another password entirely" not in caplog.text
    async with users_service(fresh_db) as client:
        data_of(await verify(client, "chief@example.com", PASSWORD))
        assert_invalid(await verify(client, "chief@example.com", "another password entirely"))


async def test_init_db_with_the_same_password_reports_nothing_amiss(fresh_db, no_admin_env, caplog):
    set_admin(no_admin_env, "chief@example.com", PASSWORD)
    init_db.main(fresh_db)
    caplog.set_level(logging.INFO, logger="service_users.init_db")
    init_db.main(fresh_db)
    assert [r.levelno for r in caplog.records] == [logging.INFO]


async def test_reset_admin_password_gives_it_the_setting_and_ends_its_sessions(
    fresh_db, no_admin_env, caplog
):
    caplog.set_level(logging.INFO, logger="service_users.init_db")
    set_admin(no_admin_env, "chief@example.com", PASSWORD)
    init_db.main(fresh_db)
    async with users_service(fresh_db) as client:
        started = await client.post(
            "/internal/sessions", json={"email": "chief@example.com", "password": PASSWORD}
        )
        assert started.status_code == 201
        session_id = started.json()["data"]["session_id"]
    set_admin(no_admin_env, "chief@example.com", "the new password 2")
    init_db.main(fresh_db, reset=True)
    assert (
        "Administrator chief@example.com: its password is now USERS_ADMIN_PASSWORD; its"
        " sessions ended"
    ) in caplog.messages
    async with users_service(fresh_db) as client:
        data_of(await verify(client, "chief@example.com", "the new password 2"))
        assert_invalid(await verify(client, "chief@example.com", PASSWORD))
        assert (await client.get(f"/internal/sessions/{session_id}")).status_code == 404


async def test_reset_never_makes_anyone_an_administrator(fresh_db, no_admin_env, caplog):
    caplog.set_level(logging.INFO, logger="service_users.init_db")
    init_db.main(fresh_db)
    with psycopg.connect(libpq_url(fresh_db)) as conn:
        conn.execute("INSERT INTO users (email, name) VALUES ('boss@example.com', 'Boss')")
    before = users_rows(fresh_db)
    set_admin(no_admin_env, "boss@example.com", PASSWORD)
    init_db.main(fresh_db, reset=True)
    assert users_rows(fresh_db) == before
    assert (
        "boss@example.com (USERS_ADMIN_EMAIL) is no administrator (roles ['user']): its"
        " password is left as it is"
    ) in caplog.messages


async def test_an_existing_user_with_that_email_is_left_untouched(fresh_db, no_admin_env, caplog):
    caplog.set_level(logging.INFO, logger="service_users.init_db")
    init_db.main(fresh_db)  # no administrator asked for: migrations only
    assert users_rows(fresh_db) == []
    with psycopg.connect(libpq_url(fresh_db)) as conn:
        conn.execute("INSERT INTO users (email, name) VALUES ('Boss@Example.com', 'Boss')")
    before = users_rows(fresh_db)

    set_admin(no_admin_env, "boss@example.com", PASSWORD)
    init_db.main(fresh_db)
    assert users_rows(fresh_db) == before  # roles ["user"], no password: as it was
    assert before[0][2] == ["user"]
    assert before[0][3] is None
    assert "Administrator boss@example.com exists; left unchanged" in caplog.messages
    assert any("not an administrator" in message for message in caplog.messages)


def test_two_init_db_at_once_create_one_administrator(fresh_db):
    init_db.main(fresh_db)
    admin = init_db.FirstAdmin(email="race@example.com", name="Race", password=PASSWORD)
    with ThreadPoolExecutor(2) as pool:
        created = list(pool.map(lambda _: init_db.ensure_admin(fresh_db, admin), range(2)))
    assert sorted(created) == [False, True]
    assert len(users_rows(fresh_db)) == 1


@pytest.mark.parametrize(
    ("email", "password", "name", "variable"),
    [
        ("chief@example.com", "short", None, "USERS_ADMIN_PASSWORD"),
        ("chief@example.com", "p" * 129, None, "USERS_ADMIN_PASSWORD"),
        ("not an address", PASSWORD, None, "USERS_ADMIN_EMAIL"),
        ("chief@example.com", PASSWORD, "   ", "USERS_ADMIN_NAME"),
    ],
    ids=["password-short", "password-long", "email", "name-blank"],
)
def test_invalid_administrator_settings_stop_init_db(
    fresh_db, no_admin_env, email, password, name, variable
):
    set_admin(no_admin_env, email, password)
    if name is not None:
        no_admin_env.setenv("USERS_ADMIN_NAME", name)
    with pytest.raises(init_db.AdminSettingsError) as caught:
        init_db.main(fresh_db)
    message = str(caught.value)
    assert message.startswith("Invalid first administrator: "), message
    assert variable in message
    assert "\n" not in message
    assert password not in message
    assert not database_exists(fresh_db)  # checked before anything was touched


@pytest.mark.parametrize("only", ["USERS_ADMIN_EMAIL", "USERS_ADMIN_PASSWORD"])
def test_one_variable_without_the_other_stops_init_db(fresh_db, no_admin_env, only):
    no_admin_env.setenv(only, "chief@example.com" if only.endswith("EMAIL") else PASSWORD)
    other = ({"USERS_ADMIN_EMAIL", "USERS_ADMIN_PASSWORD"} - {only}).pop()
    with pytest.raises(init_db.AdminSettingsError, match=f"{other} is unset"):
        init_db.main(fresh_db)
    assert not database_exists(fresh_db)


def test_empty_variables_count_as_unset(fresh_db, no_admin_env):
    set_admin(no_admin_env, "", "")
    init_db.main(fresh_db)
    assert users_rows(fresh_db) == []


def run_init_db(url: str, **admin: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ADMIN_VARIABLES}
    env.update({"USERS_DATABASE_URL": url, **admin})
    command = [sys.executable, "-m", "service_users.init_db"]
    return subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_init_db_as_a_command(fresh_db):
    admin = {"USERS_ADMIN_EMAIL": "cli@example.com", "USERS_ADMIN_PASSWORD": PASSWORD}
    done = run_init_db(fresh_db, **admin)
    assert done.returncode == 0, done.stderr
    assert "Created the first administrator cli@example.com" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert [row[:3] for row in users_rows(fresh_db)] == [
        ("cli@example.com", "Administrator", ["admin"])
    ]

    refused = run_init_db(fresh_db, **{**admin, "USERS_ADMIN_PASSWORD": "short"})
    assert refused.returncode == 1, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr  # one line, no traceback
    assert "Invalid first administrator: USERS_ADMIN_PASSWORD" in lines[0]
    assert "short" not in refused.stderr
