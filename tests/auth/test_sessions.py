"""Identity that follows the person: sessions, refresh, logout, revocation, login limits.

Real processes, auth on, the gateway with two workers (GATEWAY_WORKERS=2), once with its
limits in memory and once on Redis. Each request goes on a new connection, so either
worker may answer it: what one worker learnt the other must learn within the bound
(GATEWAY_SESSION_CHECK_INTERVAL, 1 s by default: graphql_gateway/auth/sessions.py).
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import jwt
import pytest

from tests.auth.conftest import PASSWORD, another_gateway, create_account
from tests.support.procs import RunningProcess
from tests.support.redis import redis_server

Services = tuple[RunningProcess, RunningProcess]
BOUND_S = 1.0  # GATEWAY_SESSION_CHECK_INTERVAL's default: what docs/auth.md promises
SLACK_S = 0.5  # a request's own time on a shared machine
ITEMS = [{"product": "Арматура", "quantity": 3, "price": "12.00"}]


@dataclass
class Stack:
    gateway: RunningProcess
    users: RunningProcess
    orders: RunningProcess
    shared_limits: bool  # on Redis; else each of the 2 workers counts on its own

    @property
    def url(self) -> str:
        return self.gateway.url


@pytest.fixture(scope="module", params=["memory", "redis"])
def stack(
    request: pytest.FixtureRequest, auth_services: Services, logs_dir: Path
) -> Iterator[Stack]:
    env = {"GATEWAY_WORKERS": "2", "GATEWAY_LOGIN_RATE_LIMIT": "10/minute"}
    users, orders = auth_services
    if request.param == "memory":
        with another_gateway(auth_services, logs_dir, "sessions-memory", **env) as gateway:
            yield Stack(gateway, users, orders, shared_limits=False)
        return
    with redis_server() as url:
        env |= {"GATEWAY_REDIS_URL": url, "GATEWAY_REDIS_KEY_PREFIX": f"s-{uuid.uuid4().hex[:8]}"}
        with another_gateway(auth_services, logs_dir, "sessions-redis", **env) as gateway:
            yield Stack(gateway, users, orders, shared_limits=True)


def call(
    stack: Stack,
    method: str,
    path: str,
    token: str | None = None,
    *,
    source: str = "127.0.0.1",
    **kwargs,
) -> httpx.Response:
    """One request on a new connection from `source`: any worker may take it."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers |= kwargs.pop("headers", {})
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.request(method, f"{stack.url}{path}", headers=headers, **kwargs)


def log_in(stack: Stack, email: str, password: str = PASSWORD, source: str = "127.0.0.1") -> dict:
    response = call(
        stack, "POST", "/auth/login", json={"email": email, "password": password}, source=source
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def account(stack: Stack, role: str) -> tuple[dict, dict]:
    """A new user with the role, and their login's answer."""
    user = create_account(stack.users.url, role, PASSWORD)
    return user, log_in(stack, user["email"])


def until_refused(probe: Callable[[], httpx.Response], within: float) -> float:
    """Seconds from now until the last request `probe` got through: it must be 401 on
    12 requests in a row after it (either worker), and the last 200 within `within`."""
    started = time.monotonic()
    last_through, refused_in_a_row = 0.0, 0
    while refused_in_a_row < 12:
        response = probe()
        elapsed = time.monotonic() - started
        if response.status_code == 401:
            assert response.json()["error"]["code"] == "UNAUTHENTICATED"
            refused_in_a_row += 1
            continue
        assert response.status_code == 200, response.text
        last_through, refused_in_a_row = elapsed, 0
        assert elapsed < within, f"still {response.status_code} after {elapsed:.2f} s"
        time.sleep(0.01)
    return last_through


def service_order(stack: Stack, user_id: str) -> dict:
    response = httpx.post(
        f"{stack.orders.url}/orders", json={"user_id": user_id, "items": ITEMS}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def order_exists(stack: Stack, order_id: str) -> bool:
    return httpx.get(f"{stack.orders.url}/orders/{order_id}", timeout=10).status_code == 200


# ------------------------------------------------------------------ revocation


@pytest.mark.slow
def test_a_demoted_managers_old_token_cannot_delete_an_order_past_the_bound(stack: Stack) -> None:
    _, admin = account(stack, "admin")
    manager, login = account(stack, "manager")
    old = login["access_token"]
    customer = create_account(stack.users.url, "customer")
    order = service_order(stack, customer["id"])
    assert call(stack, "GET", "/orders", old).json()["meta"]["total"] >= 1
    demoted = call(
        stack,
        "PUT",
        f"/users/{manager['id']}",
        admin["access_token"],
        json={"roles": ["customer"]},
    )
    assert demoted.status_code == 200, demoted.text
    took = until_refused(lambda: call(stack, "GET", "/orders", old), BOUND_S + SLACK_S)
    print(f"demoted manager's token refused after {took * 1000:.0f} ms")
    deleted = call(stack, "DELETE", f"/orders/{order['id']}", old)
    assert deleted.status_code == 401
    assert order_exists(stack, order["id"])
    # Logged in again, they act as what they are now.
    again = log_in(stack, manager["email"])
    assert again["user"]["roles"] == ["customer"]
    refused = call(stack, "DELETE", f"/orders/{order['id']}", again["access_token"])
    assert refused.status_code in (403, 404)
    assert order_exists(stack, order["id"])
    # The old refresh token is spent with its session.
    stale = call(stack, "POST", "/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert stale.status_code == 401


@pytest.mark.slow
def test_a_deleted_users_token_is_401_everywhere(stack: Stack) -> None:
    _, admin = account(stack, "admin")
    engineer, login = account(stack, "engineer")
    token = login["access_token"]
    assert call(stack, "GET", "/orders", token).status_code == 200
    gone = call(stack, "DELETE", f"/users/{engineer['id']}", admin["access_token"])
    assert gone.status_code == 200, gone.text
    took = until_refused(lambda: call(stack, "GET", "/orders", token), BOUND_S + SLACK_S)
    print(f"deleted user's token refused after {took * 1000:.0f} ms")
    made = call(stack, "POST", "/orders", token, json={"user_id": engineer["id"], "items": ITEMS})
    assert made.status_code == 401
    graphql = call(stack, "POST", "/graphql", token, json={"query": "{ me { id } }"})
    assert graphql.status_code == 401
    assert graphql.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.slow
def test_a_password_change_ends_every_session_of_the_user(stack: Stack) -> None:
    user, first = account(stack, "engineer")
    second = log_in(stack, user["email"])  # another device
    changed = call(
        stack,
        "PUT",
        f"/users/{user['id']}",
        first["access_token"],
        json={"password": "a brand new password"},
    )
    assert changed.status_code == 200, changed.text
    for login in (first, second):
        token = login["access_token"]
        until_refused(partial(call, stack, "GET", "/auth/me", token), BOUND_S + SLACK_S)
        refresh = call(
            stack, "POST", "/auth/refresh", json={"refresh_token": login["refresh_token"]}
        )
        assert refresh.status_code == 401
    assert log_in(stack, user["email"], "a brand new password")["user"]["id"] == user["id"]


def test_a_name_change_ends_no_session(stack: Stack) -> None:
    user, login = account(stack, "engineer")
    token = login["access_token"]
    renamed = call(stack, "PUT", f"/users/{user['id']}", token, json={"name": "Renamed"})
    assert renamed.status_code == 200
    time.sleep(BOUND_S + SLACK_S)
    assert all(call(stack, "GET", "/auth/me", token).status_code == 200 for _ in range(6))


def test_a_logged_out_token_is_401_and_its_refresh_token_too(stack: Stack) -> None:
    user, login = account(stack, "engineer")
    other = log_in(stack, user["email"])  # the same user elsewhere stays logged in
    token = login["access_token"]
    out = call(stack, "POST", "/auth/logout", token)
    assert out.status_code == 200, out.text
    assert out.json()["data"]["id"] == uuid.UUID(out.json()["data"]["id"]).__str__()
    took = until_refused(lambda: call(stack, "GET", "/auth/me", token), BOUND_S + SLACK_S)
    print(f"logged-out token refused after {took * 1000:.0f} ms")
    again = call(stack, "POST", "/auth/logout", token)
    assert again.status_code == 401
    refresh = call(stack, "POST", "/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert refresh.status_code == 401
    assert call(stack, "GET", "/auth/me", other["access_token"]).status_code == 200


def test_graphql_refresh_and_logout(stack: Stack) -> None:
    user, login = account(stack, "engineer")
    refresh = (
        "mutation($r: String!) { refresh(refreshToken: $r)"
        " { accessToken refreshToken expiresIn user { id } } }"
    )
    # Anonymous: refresh is allowed like login.
    answer = call(
        stack,
        "POST",
        "/graphql",
        json={"query": refresh, "variables": {"r": login["refresh_token"]}},
    ).json()
    renewed = answer["data"]["refresh"]
    assert renewed["user"] == {"id": user["id"]}
    assert renewed["refreshToken"] != login["refresh_token"]
    token = renewed["accessToken"]
    out = call(
        stack, "POST", "/graphql", token, json={"query": "mutation { logout { sessionId } }"}
    )
    assert out.status_code == 200, out.text
    assert out.json()["data"]["logout"]["sessionId"]
    until_refused(lambda: call(stack, "GET", "/auth/me", token), BOUND_S + SLACK_S)
    spent = call(
        stack,
        "POST",
        "/graphql",
        json={"query": refresh, "variables": {"r": renewed["refreshToken"]}},
    ).json()
    assert spent["data"] is None
    assert spent["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_family(stack: Stack) -> None:
    user, login = account(stack, "engineer")
    assert login["expires_in"] == 300  # GATEWAY_JWT_TTL's default: 5 minutes
    claims = jwt.decode(login["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300
    first = login["refresh_token"]
    renewed = call(stack, "POST", "/auth/refresh", json={"refresh_token": first})
    assert renewed.status_code == 200, renewed.text
    assert renewed.headers["cache-control"] == "no-store"
    data = renewed.json()["data"]
    assert data["refresh_token"] != first
    assert data["user"]["id"] == user["id"]
    assert call(stack, "GET", "/auth/me", data["access_token"]).status_code == 200
    # The first one again: a thief or the rightful holder, one of them replayed it.
    reused = call(stack, "POST", "/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401
    assert "already used" in reused.json()["error"]["message"]
    # The whole family ends: the newer refresh token, and every access token of it.
    newer = call(stack, "POST", "/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert newer.status_code == 401
    for token in (login["access_token"], data["access_token"]):
        until_refused(partial(call, stack, "GET", "/auth/me", token), BOUND_S + SLACK_S)


def test_two_refreshes_with_one_token_at_once_end_the_session(stack: Stack) -> None:
    _, login = account(stack, "engineer")
    body = {"refresh_token": login["refresh_token"]}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: call(stack, "POST", "/auth/refresh", json=body), range(8))
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 401}, statuses
    for answer in answers:
        if answer.status_code == 200:  # the one that won: its tokens went with the family
            token = answer.json()["data"]["access_token"]
            until_refused(partial(call, stack, "GET", "/auth/me", token), BOUND_S + SLACK_S)
            again = answer.json()["data"]["refresh_token"]
            assert (
                call(stack, "POST", "/auth/refresh", json={"refresh_token": again}).status_code
                == 401
            )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"refresh_token": ""},
        {"refresh_token": None},
        {"refresh_token": 12345},
        {"refresh_token": ["a"]},
        {"refresh_token": "x" * 513},
        {"refresh_token": "x", "extra": 1},
        {"refresh_token": "\u0000"},
        {"refresh_token": "\ud800"},
        {"refresh_token": "é" * 100},
        {"refresh_token": "not-a-token-of-ours"},
        {"refresh_token": "a" * 512},
    ],
)
def test_a_hostile_refresh_is_a_clear_4xx(stack: Stack, body: dict) -> None:
    # json.dumps escapes what UTF-8 cannot carry (a lone surrogate) as JSON allows.
    response = call(
        stack,
        "POST",
        "/auth/refresh",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert response.status_code in (400, 401), response.text
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] in (
        "VALIDATION_ERROR",
        "UNAUTHENTICATED",
        "BAD_REQUEST",
    )


def test_logout_without_a_token_is_401(stack: Stack) -> None:
    response = call(stack, "POST", "/auth/logout")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


# ------------------------------------------------------------------ login limits


def spellings(email: str, count: int) -> list[str]:
    """`count` different ways to type one address: letter cases and surrounding spaces."""
    local, domain = email.split("@")
    forms = []
    for n in range(count):
        cased = "".join(c.upper() if (n >> (i % 6)) & 1 else c for i, c in enumerate(local))
        pad = " " * (n % 3)
        forms.append(f"{pad}{cased}@{domain.upper() if n % 2 else domain}{pad}")
    assert len(set(forms)) == count
    return forms


def attempts(stack: Stack, emails: list[str], sources: list[str], password: str) -> list[int]:
    return [
        call(
            stack, "POST", "/auth/login", json={"email": email, "password": password}, source=source
        ).status_code
        for email, source in zip(emails, sources, strict=True)
    ]


@pytest.mark.slow
def test_fifteen_spellings_from_fifteen_addresses_are_one_account(stack: Stack) -> None:
    """On Redis, exactly as 15 at one spelling. In memory each of the two workers counts
    its own (docs/auth.md says so): 25 attempts then, at most 10 per worker get through."""
    count = 15 if stack.shared_limits else 25
    user = create_account(stack.users.url, "engineer", PASSWORD)
    forms = spellings(user["email"], count)
    statuses = attempts(stack, forms, [f"127.0.4.{n + 1}" for n in range(count)], "a guess")
    other = create_account(stack.users.url, "engineer", PASSWORD)
    same = attempts(stack, [other["email"]] * count, ["127.0.4.99"] * count, "a guess")
    if stack.shared_limits:
        assert statuses == same == [401] * 10 + [429] * 5
    else:
        for outcome in (statuses, same):
            assert set(outcome) == {401, 429}
            assert outcome.count(401) <= 20


@pytest.mark.slow
def test_a_colleagues_login_from_the_same_address_after_ten_failures(stack: Stack) -> None:
    office = "127.0.5.1"
    clumsy = create_account(stack.users.url, "engineer", PASSWORD)
    colleague = create_account(stack.users.url, "engineer", PASSWORD)
    assert attempts(stack, [clumsy["email"]] * 10, [office] * 10, "typo") == [401] * 10
    assert log_in(stack, colleague["email"], source=office)["user"]["id"] == colleague["id"]
    # The account under attack is the one limited, from anywhere (in memory: once the
    # worker answering has seen more than 10; 21 attempts make sure one has).
    right = attempts(stack, [clumsy["email"]] * 11, [office, "127.0.5.2"] * 5 + [office], PASSWORD)
    if stack.shared_limits:
        assert right == [429] * 11
    else:
        assert 429 in right


@pytest.mark.slow
def test_probing_emails_by_changing_ones_own_costs_what_logging_in_does(stack: Stack) -> None:
    """`PUT /users/{self}` with someone's email is 409 EMAIL_EXISTS: it tells the email is
    registered, so it counts as a login attempt at that account (and a failure from the
    address). Past the account's limit, 429 whatever the caller or the spelling."""
    victim = create_account(stack.users.url, "customer")
    prober, login = account(stack, "engineer")
    token = login["access_token"]
    count = 10 if stack.shared_limits else 21
    statuses = []
    for n in range(count + 1):
        spelling = victim["email"].upper() if n % 2 else f" {victim['email']} "
        response = call(
            stack,
            "PUT",
            f"/users/{prober['id']}",
            token,
            json={"email": spelling},
            source="127.0.6.1",
        )
        statuses.append(response.status_code)
    if stack.shared_limits:
        assert statuses == [409] * 10 + [429]
    else:
        assert set(statuses) == {409, 429}
    graphql = call(
        stack,
        "POST",
        "/graphql",
        token,
        json={
            "query": "mutation($id: UUID!, $e: String!) "
            "{ updateUser(id: $id, input: {email: $e}) { email } }",
            "variables": {"id": prober["id"], "e": victim["email"]},
        },
        source="127.0.6.2",
    ).json()
    codes = [error["extensions"]["code"] for error in graphql["errors"]]
    assert codes in (["RATE_LIMITED"], ["EMAIL_EXISTS"])
    if stack.shared_limits:
        assert codes == ["RATE_LIMITED"]
    # Their own email, and a free one, change as before (another account, another count).
    free = f"free-{uuid.uuid4().hex[:8]}@auth.example"
    changed = call(stack, "PUT", f"/users/{prober['id']}", token, json={"email": free})
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["email"] == free
