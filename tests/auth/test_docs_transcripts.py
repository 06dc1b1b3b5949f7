"""The transcripts of docs/auth.md and docs/legacy-v1.md, replayed on a real system.

Each `$ curl` of their ```console blocks is sent, in order, to a gateway with
authentication on over real services; what the page shows under it (the status, success
or failure, the error code, the rate-limit headers) is what comes back. The values a past
run printed (tokens, passwords, ids) are replaced by this run's: the login's email and
password by an account made here, `$TOKEN` and the refresh token by the ones this run's
login answered, an order's id by one of that account's orders.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.conftest import PASSWORD, another_gateway, create_account
from tests.stack.test_readme_examples import PAGES, parse_curl, transcript_commands
from tests.support.procs import RunningProcess

pytestmark = pytest.mark.slow  # a real system with authentication on

QUIET = frozenset({"-s", "-i"})
UUID_IN_PATH = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ITEMS = [{"product": "Бетон М300, м³", "quantity": 12, "price": "5400.00"}]


@dataclass
class Replay:
    """What this run's answers gave, for the next commands to send in their place."""

    email: str
    order_id: str
    password: str = PASSWORD
    token: str | None = None
    refresh_token: str | None = None


@dataclass
class Shown:
    status: int | None
    success: bool | None
    code: str | None
    headers: dict[str, str]


def shown(output: str) -> Shown:
    """What the page prints under a command: the status line and headers (with -i), the body."""
    status = re.search(r"^HTTP/1\.1 (\d{3})", output, re.MULTILINE)
    headers = dict(re.findall(r"^([a-z][a-z-]+): (.+)$", output, re.MULTILINE))
    success = re.search(r'"success":(true|false)', output)
    code = re.search(r'"code":"(\w+)"', output)
    return Shown(
        status=int(status[1]) if status else None,
        success=success[1] == "true" if success else None,
        code=code[1] if code else None,
        headers=headers,
    )


@pytest.fixture(scope="module")
def docs_gateway(
    auth_services: tuple[RunningProcess, RunningProcess], logs_dir: Path
) -> Iterator[RunningProcess]:
    """The pages' settings: the login limit's default, sessions checked on every request
    (the page shows a session's end at once; the default interval would let 1 s pass)."""
    with another_gateway(
        auth_services,
        logs_dir,
        "docs",
        GATEWAY_LOGIN_RATE_LIMIT="10/minute",
        GATEWAY_SESSION_CHECK_INTERVAL="0",
    ) as gateway:
        yield gateway


def customer_with_orders(services: tuple[RunningProcess, RunningProcess]) -> tuple[dict, str]:
    users, orders = services
    customer = create_account(users.url, "customer", PASSWORD)
    made = httpx.post(
        f"{orders.url}/orders", json={"user_id": customer["id"], "items": ITEMS}, timeout=10
    )
    assert made.status_code == 201, made.text
    return customer, made.json()["data"]["id"]


def this_runs(request_body: str | None, path: str, replay: Replay) -> tuple[str | None, str]:
    """The command's body and path with this run's values in place of the page's."""
    path = UUID_IN_PATH.sub(f"/{replay.order_id}", path)
    if request_body is None:
        return None, path
    body: dict[str, Any] = json.loads(request_body)
    if path.endswith("/register"):  # a new account each run, with the page's password
        body["email"] = replay.email = f"client-{uuid.uuid4().hex[:8]}@firm.example"
        replay.password = body["password"]
    elif path.endswith("/login") and not body["email"].startswith("nobody@"):
        body.update(email=replay.email, password=replay.password)
    if "refresh_token" in body:
        body["refresh_token"] = replay.refresh_token
    return json.dumps(body), path


def send(gateway: RunningProcess, command: str, replay: Replay) -> httpx.Response:
    request = parse_curl(command, QUIET)
    body, path = this_runs(request.body, request.path, replay)
    headers = dict(request.headers)
    if "Authorization" in headers:
        assert replay.token is not None, f"{command}: no token yet"
        headers["Authorization"] = f"Bearer {replay.token}"
    return httpx.request(
        request.method,
        f"{gateway.url}{path}",
        headers=headers,
        content=body.encode() if body is not None else None,
        timeout=10,
    )


def check(command: str, expected: Shown, response: httpx.Response) -> None:
    answer = response.json()
    if expected.status is not None:
        assert response.status_code == expected.status, (command, response.text)
    elif expected.success is not None:
        assert (200 <= response.status_code < 300) == expected.success, (command, response.text)
    if expected.success is not None:
        assert answer["success"] is expected.success, (command, answer)
    if expected.code is not None:
        assert answer["error"]["code"] == expected.code, (command, answer)
    for name, value in expected.headers.items():
        assert name in response.headers, (command, name)
        if name in {"ratelimit-limit", "ratelimit-policy", "www-authenticate"}:
            assert response.headers[name].lower() == value.lower(), (command, name)


def remember(response: httpx.Response, replay: Replay) -> None:
    """The first login's tokens: the page's `$TOKEN` and "the refresh_token above" stay
    those of its login, whatever a refresh answers later."""
    data = response.json().get("data")
    if not isinstance(data, dict) or replay.token is not None:
        return
    token = data.get("access_token") or data.get("token")
    if token:
        replay.token = token
        replay.refresh_token = data.get("refresh_token")


def replay_page(page: str, gateway: RunningProcess, replay: Replay) -> int:
    commands = transcript_commands(PAGES[page])
    sent = 0
    for command, output in commands:
        expected = shown(output)
        if expected.status == 429:
            # The page's 11th attempt: ten wrong passwords at one account come first.
            for _ in range(10):
                assert send(gateway, command, replay).status_code == 401
        response = send(gateway, command, replay)
        check(command, expected, response)
        remember(response, replay)
        sent += 1
    return sent


def test_the_auth_transcripts_happen_as_shown(
    docs_gateway: RunningProcess, auth_services: tuple[RunningProcess, RunningProcess]
) -> None:
    customer, order_id = customer_with_orders(auth_services)
    replay = Replay(email=customer["email"], order_id=order_id)
    assert replay_page("docs/auth.md", docs_gateway, replay) >= 9


def test_the_v1_transcript_happens_as_shown(
    docs_gateway: RunningProcess, auth_services: tuple[RunningProcess, RunningProcess]
) -> None:
    customer, order_id = customer_with_orders(auth_services)
    replay = Replay(email=customer["email"], order_id=order_id)
    assert replay_page("docs/legacy-v1.md", docs_gateway, replay) == 4
