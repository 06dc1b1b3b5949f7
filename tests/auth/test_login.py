"""Logging in, and the limits on it (docs/auth.md), on real processes.

Client addresses are real too: Linux routes all of 127.0.0.0/8 to loopback, so a
client bound to 127.0.0.2 is another address to the gateway.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.auth.conftest import (
    PASSWORD,
    SECRET,
    AuthStack,
    another_gateway,
    create_account,
)
from tests.support.procs import RunningProcess, free_port
from tests.support.redis import redis_server

Services = tuple[RunningProcess, RunningProcess]


def post_login(url: str, email: str, password: str, *, source: str = "127.0.0.1") -> httpx.Response:
    """One attempt on a new connection from `source` (a worker of the gateway's choosing)."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.post(f"{url}/auth/login", json={"email": email, "password": password})


def assert_invalid_credentials(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {
        "success": False,
        "error": {"code": "INVALID_CREDENTIALS", "message": "Invalid email or password"},
    }


def assert_rate_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(response.headers["ratelimit-reset"]) <= 60


# ------------------------------------------------------------------ logging in


def test_login_answers_a_token_for_the_user(auth_stack: AuthStack) -> None:
    account = auth_stack.accounts["engineer"]
    response = post_login(auth_stack.url, f"  {account.email.upper()} ", PASSWORD)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    assert set(data) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "user",
    }
    assert data["token_type"] == "bearer"
    assert data["expires_in"] == 3600  # as this stack has it (tests/auth/conftest.py)
    assert data["refresh_expires_in"] == 14 * 24 * 3600
    assert len(data["refresh_token"]) == 43
    assert data["user"]["id"] == account.id
    assert set(data["user"]) == {"id", "email", "name", "roles", "created_at", "updated_at"}
    assert "password" not in response.text
    assert "argon2" not in response.text
    claims = jwt.decode(
        data["access_token"],
        SECRET,
        algorithms=["HS256"],
        audience="sitetrack",
        issuer="sitetrack-gateway",
    )
    assert claims["sub"] == account.id
    assert claims["roles"] == ["engineer"]
    assert uuid.UUID(claims["sid"])
    assert claims["exp"] - claims["iat"] == 3600
    me = httpx.get(
        f"{auth_stack.url}/auth/me",
        headers={"Authorization": f"Bearer {data['access_token']}"},
        timeout=10,
    )
    assert me.json()["data"] == data["user"]


def test_unknown_email_and_wrong_password_are_the_same_answer(auth_stack: AuthStack) -> None:
    account = auth_stack.accounts["director"]
    no_password = create_account(auth_stack.users.url, "manager")
    for email, password in [
        (account.email, "wrong password"),
        (f"nobody-{uuid.uuid4().hex}@auth.example", PASSWORD),
        (no_password["email"], PASSWORD),
    ]:
        assert_invalid_credentials(post_login(auth_stack.url, email, password))


@pytest.mark.parametrize(
    "form",
    [
        "Mallory <{email}>",
        "<{email}>",
        '"Mallory" <{email}>',
        "{email} (Mallory)",
        "mailto:{email}",
        "{email},{email}",
        "{local} @auth.example",
        "{email}.",
        "not an email",
        "{local}@[127.0.0.1]",
        '"{local}"@auth.example',
    ],
)
def test_an_email_that_is_no_bare_address_is_400_and_counted_nowhere(
    limited_gateway: RunningProcess, auth_services: Services, form: str
) -> None:
    """Display names, comments, lists, quoted locals, literals: 400 before any check, and
    the account's counter and the address's are untouched (a fourth login still works)."""
    users, _ = auth_services
    account = create_account(users.url, "engineer", PASSWORD)
    email = account["email"]
    source = "127.0.3." + str(1 + abs(hash(form)) % 200)
    for _ in range(4):
        response = post_login(
            limited_gateway.url,
            form.format(email=email, local=email.split("@")[0]),
            PASSWORD,
            source=source,
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]["details"][0]["field"] == "email"
    assert post_login(limited_gateway.url, email, PASSWORD, source=source).status_code == 200


@pytest.mark.slow
def test_unknown_email_takes_about_as_long_as_a_wrong_password(auth_stack: AuthStack) -> None:
    """Loose bound (this machine is shared): without the users service's dummy hash an
    unknown email answers ~40x faster than a wrong password, far outside it."""
    account = auth_stack.accounts["manager"]
    wrong: list[float] = []
    unknown: list[float] = []
    for _ in range(7):
        for email, times in (
            (account.email, wrong),
            (f"nobody-{uuid.uuid4().hex}@auth.example", unknown),
        ):
            started = time.perf_counter()
            response = post_login(auth_stack.url, email, "not the password")
            times.append(time.perf_counter() - started)
            assert response.status_code == 401
    ratio = statistics.median(unknown) / statistics.median(wrong)
    print(
        f"login p50: wrong password {statistics.median(wrong) * 1000:.1f} ms, "
        f"unknown email {statistics.median(unknown) * 1000:.1f} ms (ratio {ratio:.2f})"
    )
    assert 0.5 < ratio < 2.0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "a@b.example"}, 400, "VALIDATION_ERROR"),
        ({"password": "x"}, 400, "VALIDATION_ERROR"),
        ({"email": "a@b.example", "password": "x", "remember": True}, 400, "VALIDATION_ERROR"),
        ({"email": 1, "password": "x"}, 400, "VALIDATION_ERROR"),
        ({"email": "a@b.example", "password": "x" * 1025}, 400, "VALIDATION_ERROR"),
        ({"email": "a" * 321, "password": "x"}, 400, "VALIDATION_ERROR"),
        ([], 400, "BAD_REQUEST"),
    ],
)
def test_a_malformed_login_is_400_before_any_check(
    auth_stack: AuthStack, body: object, status: int, code: str
) -> None:
    response = httpx.post(f"{auth_stack.url}/auth/login", json=body, timeout=10)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_login_from_a_form_is_415(auth_stack: AuthStack, content_type: str) -> None:
    response = httpx.post(
        f"{auth_stack.url}/auth/login",
        content=b'{"email": "a@b.example", "password": "x"}',
        headers={"content-type": content_type},
        timeout=10,
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_graphql_login_and_its_errors(auth_stack: AuthStack) -> None:
    account = auth_stack.accounts["customer"]
    query = (
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p)"
        " { accessToken tokenType user { id orders { id } } } }"
    )
    url = f"{auth_stack.url}/graphql"
    wrong = httpx.post(url, json={"query": query, "variables": {"e": account.email, "p": "no"}})
    body = wrong.json()
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["login"], "INVALID_CREDENTIALS")
    ]
    right = httpx.post(url, json={"query": query, "variables": {"e": account.email, "p": PASSWORD}})
    login = right.json()["data"]["login"]
    assert login["user"]["id"] == account.id
    # The token it gives works, and the new caller sees only their own orders already.
    assert all(isinstance(order["id"], str) for order in login["user"]["orders"])
    me = httpx.post(
        url,
        json={"query": "{ me { id } }"},
        headers={"Authorization": f"Bearer {login['accessToken']}"},
    )
    assert me.json() == {"data": {"me": {"id": account.id}}}


def test_a_deleted_users_token_no_longer_finds_them(auth_stack: AuthStack) -> None:
    user = create_account(auth_stack.users.url, "engineer", PASSWORD)
    token = post_login(auth_stack.url, user["email"], PASSWORD).json()["data"]["access_token"]
    httpx.delete(f"{auth_stack.users.url}/users/{user['id']}", timeout=10)
    me = httpx.get(
        f"{auth_stack.url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "UNAUTHENTICATED"


# ------------------------------------------------------------------ limits


@pytest.fixture(scope="module")
def limited_gateway(auth_services: Services, logs_dir: Path) -> Iterator[RunningProcess]:
    with another_gateway(
        auth_services,
        logs_dir,
        "limited",
        GATEWAY_LOGIN_RATE_LIMIT="3/minute",
        GATEWAY_LOGIN_ADDRESS_RATE_LIMIT="3/minute",
    ) as gateway:
        yield gateway


@pytest.mark.slow
def test_failed_logins_are_limited_per_address(
    limited_gateway: RunningProcess, auth_services: Services
) -> None:
    users, _ = auth_services
    source = "127.0.0.11"
    # Successful logins from the address are not counted, however many.
    regulars = [create_account(users.url, "engineer", PASSWORD) for _ in range(2)]
    for regular in regulars * 2:
        ok = post_login(limited_gateway.url, regular["email"], PASSWORD, source=source)
        assert ok.status_code == 200
    for _ in range(3):  # different emails: only the address is over
        email = f"nobody-{uuid.uuid4().hex}@auth.example"
        assert post_login(limited_gateway.url, email, "x", source=source).status_code == 401
    over = post_login(limited_gateway.url, "someone@auth.example", "x", source=source)
    assert_rate_limited(over, 3)
    # Past it, right credentials do not get through either; another address is not limited.
    account = create_account(users.url, "engineer", PASSWORD)
    assert (
        post_login(limited_gateway.url, account["email"], PASSWORD, source=source).status_code
        == 429
    )
    assert (
        post_login(limited_gateway.url, account["email"], PASSWORD, source="127.0.0.12").status_code
        == 200
    )


@pytest.mark.slow
def test_logins_are_limited_per_email(
    limited_gateway: RunningProcess, auth_services: Services
) -> None:
    users, _ = auth_services
    account = create_account(users.url, "engineer", PASSWORD)
    for n in range(3):  # different addresses: only the email is over
        attempt = post_login(
            limited_gateway.url, account["email"], "wrong", source=f"127.0.1.{n + 1}"
        )
        assert attempt.status_code == 401
    # Another case of the same email is the same email.
    over = post_login(limited_gateway.url, account["email"].upper(), PASSWORD, source="127.0.1.9")
    assert_rate_limited(over, 3)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def _attempts(urls: list[str], email: str, count: int) -> list[int]:
    return [post_login(urls[i % len(urls)], email, "wrong").status_code for i in range(count)]


@pytest.mark.slow
def test_two_workers_share_one_limit_on_redis(
    auth_services: Services, logs_dir: Path, redis_url: str
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        "GATEWAY_LOGIN_RATE_LIMIT": "5/minute",
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_REDIS_KEY_PREFIX": prefix,
        "GATEWAY_WORKERS": "2",
    }
    with another_gateway(auth_services, logs_dir, "redis-workers", **env) as gateway:
        statuses = _attempts([gateway.url], f"nobody-{uuid.uuid4().hex}@auth.example", 9)
        health = httpx.get(f"{gateway.url}/health", timeout=10).json()["data"]
    assert statuses == [401] * 5 + [429] * 4
    assert health["rate_limits"] == {"storage": "redis", "available": True}


@pytest.mark.slow
def test_replicas_share_the_limit_on_redis_and_not_in_memory(
    auth_services: Services, logs_dir: Path, redis_url: str
) -> None:
    shared = {
        "GATEWAY_LOGIN_RATE_LIMIT": "4/minute",
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
    }
    with (
        another_gateway(auth_services, logs_dir, "replica-a", **shared) as a,
        another_gateway(auth_services, logs_dir, "replica-b", **shared) as b,
    ):
        on_redis = _attempts([a.url, b.url], f"nobody-{uuid.uuid4().hex}@auth.example", 8)
    assert on_redis == [401] * 4 + [429] * 4
    memory = {"GATEWAY_LOGIN_RATE_LIMIT": "4/minute"}
    with (
        another_gateway(auth_services, logs_dir, "memory-a", **memory) as a,
        another_gateway(auth_services, logs_dir, "memory-b", **memory) as b,
    ):
        in_memory = _attempts([a.url, b.url], f"nobody-{uuid.uuid4().hex}@auth.example", 10)
    assert in_memory == [401] * 8 + [429] * 2  # each replica counts its own 4


@pytest.mark.slow
def test_a_redis_that_is_gone_does_not_take_the_gateway_down(
    auth_stack: AuthStack, auth_services: Services, logs_dir: Path
) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    env = {
        "GATEWAY_REDIS_URL": nothing_there,
        "GATEWAY_RATE_LIMIT": "3/minute",
        "GATEWAY_LOGIN_RATE_LIMIT": "2/minute",
    }
    token = auth_stack.accounts["manager"].headers
    with another_gateway(auth_services, logs_dir, "redis-gone", **env) as gateway:
        # The global limit fails open: more than 3 requests are served.
        statuses = [
            httpx.get(f"{gateway.url}/users", headers=token, timeout=10).status_code
            for _ in range(6)
        ]
        # Logins stay limited, in this process's memory.
        email = f"nobody-{uuid.uuid4().hex}@auth.example"
        logins = _attempts([gateway.url], email, 3)
        health = httpx.get(f"{gateway.url}/health", timeout=10).json()["data"]
        log = Path(logs_dir / "auth-gateway-redis-gone.log").read_text()
    assert statuses == [200] * 6
    assert logins == [401, 401, 429]
    assert health["status"] == "DEGRADED"
    assert health["rate_limits"] == {"storage": "redis", "available": False}
    assert "Redis unavailable for rate limits" in log
    assert log.count("Redis unavailable for rate limits") == 1  # said once, not per request


@pytest.mark.slow
def test_the_global_limit_counts_per_user_then_per_address(
    auth_stack: AuthStack, auth_services: Services, logs_dir: Path
) -> None:
    env = {"GATEWAY_RATE_LIMIT": "4/minute"}
    engineer, director = auth_stack.accounts["engineer"], auth_stack.accounts["director"]
    with another_gateway(auth_services, logs_dir, "global", **env) as gateway:
        mine = [
            httpx.get(f"{gateway.url}/orders", headers=engineer.headers, timeout=10)
            for _ in range(5)
        ]
        theirs = httpx.get(f"{gateway.url}/orders", headers=director.headers, timeout=10)
        anonymous = [httpx.get(f"{gateway.url}/orders", timeout=10) for _ in range(5)]
        probes = [httpx.get(f"{gateway.url}/health", timeout=10) for _ in range(6)]
        graphql = httpx.post(
            f"{gateway.url}/graphql",
            json={"query": "{ me { id } }"},
            headers=engineer.headers,
            timeout=10,
        )
    assert [r.status_code for r in mine] == [200] * 4 + [429]
    assert_rate_limited(mine[-1], 4)
    assert theirs.status_code == 200
    # Without a token: counted per address (bad or missing tokens too), 401 until over.
    assert [r.status_code for r in anonymous] == [401] * 4 + [429]
    assert all(r.status_code == 200 for r in probes)
    assert graphql.status_code == 429
    assert graphql.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


@pytest.mark.slow
def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(
    auth_services: Services, logs_dir: Path
) -> None:
    env = {
        "GATEWAY_LOGIN_ADDRESS_RATE_LIMIT": "2/minute",
        "GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",
    }

    def attempt(url: str, forwarded: str, source: str = "127.0.0.1") -> int:
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(transport=transport, timeout=10) as client:
            response = client.post(
                f"{url}/auth/login",
                json={"email": f"nobody-{uuid.uuid4().hex}@auth.example", "password": "x"},
                headers={"x-forwarded-for": forwarded},
            )
            return response.status_code

    with another_gateway(auth_services, logs_dir, "proxied", **env) as gateway:
        # Through the proxy (127.0.0.1), each client has its own count...
        first = [attempt(gateway.url, "203.0.113.5") for _ in range(3)]
        second = attempt(gateway.url, "198.51.100.7")
        # ...the client cannot choose its address by prepending to the header...
        spoofed = attempt(gateway.url, "192.0.2.1, 203.0.113.5")
        # ...and a peer that is not a trusted proxy is counted as itself, header or not.
        direct = [attempt(gateway.url, "192.0.2.99", source="127.0.0.21") for _ in range(3)]
    assert first == [401, 401, 429]
    assert second == 401
    assert spoofed == 429  # the proxy appended 203.0.113.5: that is who it is
    assert direct == [401, 401, 429]


@pytest.mark.parametrize(
    "email",
    ["Mallory <{email}>", "{email} (x)", "a" * 5000 + "@auth.example", "", "<>", "{email}\u0000"],
)
def test_graphql_login_refuses_what_is_no_bare_address(auth_stack: AuthStack, email: str) -> None:
    account = auth_stack.accounts["customer"]
    query = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { tokenType } }"
    response = httpx.post(
        f"{auth_stack.url}/graphql",
        json={"query": query, "variables": {"e": email.format(email=account.email), "p": "x"}},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["VALIDATION_ERROR"]
    assert body["errors"][0]["extensions"]["details"][0]["field"] == "email"
