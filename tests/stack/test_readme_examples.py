"""README.md's commands and examples are the ones that work.

Every `curl` line of its ```bash blocks runs, in order, against the gateway (in process,
over both services as real processes on a real PostgreSQL), and every ```graphql block
runs against the same gateway. The `make` commands it names exist, and CI runs `make test`.
"""

from __future__ import annotations

import csv
import io
import re
import shlex
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from graphql_gateway.auth import policy
from graphql_gateway.config import Settings as GatewaySettings
from service_users.config import Settings as UsersSettings
from tests.support.procs import ROOT

pytestmark = pytest.mark.slow  # every README example against real processes, and `make`

ROOT_DIR = Path(ROOT)
README = (ROOT_DIR / "README.md").read_text(encoding="utf-8")
README_BASE = "http://localhost:8000"
PLACEHOLDER = "<user_uuid>"


def fenced_blocks(language: str) -> list[str]:
    return [
        body
        for lang, body in re.findall(
            r"^```(\w*)[ \t]*\n(.*?)^```", README, re.MULTILINE | re.DOTALL
        )
        if lang == language
    ]


def command_lines(block: str) -> list[str]:
    """The block's commands, with backslash-continued lines joined."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip()]


CURL_COMMANDS = [
    line
    for block in fenced_blocks("bash")
    for line in command_lines(block)
    if line.startswith("curl ")
]
GRAPHQL_EXAMPLES = fenced_blocks("graphql")


# --------------------------------------------------------------------------- curl → httpx


@dataclass
class CurlRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


def parse_curl(command: str) -> CurlRequest:
    """The curl options the README uses; anything else fails (nothing is skipped silently)."""
    words = shlex.split(command, comments=True)
    assert words[0] == "curl", command
    method: str | None = None
    url: str | None = None
    headers: dict[str, str] = {}
    body: str | None = None
    rest = iter(words[1:])
    for word in rest:
        if word in {"-X", "--request"}:
            method = next(rest)
        elif word in {"-H", "--header"}:
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        elif word in {"-d", "--data", "--data-raw", "--data-binary"}:
            body = next(rest)
        elif word.startswith("-"):
            raise AssertionError(f"unhandled curl option {word!r} in: {command}")
        else:
            assert url is None, f"two URLs in: {command}"
            url = word
    assert url is not None, f"no URL in: {command}"
    assert url.startswith(README_BASE + "/"), f"{url} is not on the gateway ({README_BASE})"
    return CurlRequest(
        method=method or ("POST" if body is not None else "GET"),
        path=url.removeprefix(README_BASE),
        headers=headers,
        body=body,
    )


def envelope_data(response: httpx.Response, what: str) -> Any:
    assert 200 <= response.status_code < 300, f"{what}: {response.status_code} {response.text}"
    body = response.json()
    assert body.get("success") is True, f"{what}: {body}"
    return body["data"]


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    assert body.get("data"), body
    return body["data"]


def operation_variables(query: str) -> set[str]:
    header = query.split("{", 1)[0]
    return set(re.findall(r"\$(\w+)\s*:", header))


# --------------------------------------------------------------------------- curl examples


def test_readme_has_the_curl_examples() -> None:
    assert len(CURL_COMMANDS) >= 6, CURL_COMMANDS
    assert all(parse_curl(command) for command in CURL_COMMANDS)


def test_readme_base_url_is_the_gateway_default() -> None:
    parts = urlsplit(README_BASE)
    assert parts.port == GatewaySettings().port == 8000
    assert f"{README_BASE}/graphql" in README


async def test_curl_examples_work_in_order(gateway: httpx.AsyncClient) -> None:
    user: dict[str, Any] | None = None
    order: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    exports = 0
    for command in CURL_COMMANDS:
        if PLACEHOLDER in command:
            assert user is not None, f"{command} comes before the README creates a user"
            command = command.replace(PLACEHOLDER, user["id"])
        request = parse_curl(command)
        assert "<" not in request.path, f"unfilled placeholder in: {command}"
        response = await gateway.request(
            request.method,
            request.path,
            headers=request.headers,
            content=request.body.encode() if request.body is not None else None,
        )
        if response.headers.get("content-type", "").startswith("text/csv"):
            # An export: RFC 4180 with a header row, UTF-8 with its byte order mark.
            assert response.status_code == 200, response.text
            (header, *_) = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
            assert header[0] in {"id", "status"}, header
            exports += 1
            continue
        data = envelope_data(response, command)
        if request.method == "POST" and request.path == "/users":
            assert response.status_code == 201
            user = data
        elif request.method == "POST" and request.path == "/orders":
            assert response.status_code == 201
            order = data
        elif request.path.endswith("/details"):
            details = data
    assert user is not None, "the README creates no user"
    assert order is not None, "the README creates no order"
    assert details is not None, "the README shows no details example"
    assert exports == 2, "the README's two CSV exports"
    assert order["user_id"] == user["id"]
    assert order["total_amount"] == "520.00", order
    assert details["user"]["id"] == user["id"]
    assert [o["id"] for o in details["orders"]] == [order["id"]]
    assert details["orders"][0]["total_amount"] == "520.00"


# --------------------------------------------------------------------------- GraphQL examples


def test_readme_has_the_graphql_examples() -> None:
    assert len(GRAPHQL_EXAMPLES) >= 3, GRAPHQL_EXAMPLES
    assert any("createUser" in example for example in GRAPHQL_EXAMPLES)
    assert any("$id" in example for example in GRAPHQL_EXAMPLES)


async def user_with_an_order(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    email = f"readme-{uuid.uuid4().hex[:8]}@example.com"
    user = envelope_data(
        await client.post("/users", json={"email": email, "name": "Белов Ярослав"}), "user"
    )
    order = envelope_data(
        await client.post(
            "/orders",
            json={
                "user_id": user["id"],
                "items": [{"product": "Чокопай", "quantity": 10, "price": 52.00}],
            },
        ),
        "order",
    )
    return user, order


@pytest.mark.parametrize(
    "query", GRAPHQL_EXAMPLES, ids=[f"graphql-{i}" for i in range(len(GRAPHQL_EXAMPLES))]
)
async def test_graphql_example_works(gateway: httpx.AsyncClient, query: str) -> None:
    user, order = await user_with_an_order(gateway)
    names = operation_variables(query)
    assert names <= {"id"}, f"no value known for variables {names - {'id'}}"
    variables = {"id": user["id"]} if names else None
    if "assignedOrders" in query:  # the engineer's work: their order, assigned, under way
        change = {"assignee_id": user["id"], "status": "in_progress"}
        envelope_data(await gateway.put(f"/orders/{order['id']}", json=change), "assigned")
    data = await graphql(gateway, query, variables)

    if "createUser" in data:
        created = data["createUser"]
        uuid.UUID(created["id"])
        stored = envelope_data(await gateway.get(f"/users/{created['id']}"), "created user")
        assert stored["email"] == "engineer@example.com"
        assert stored["roles"] == ["engineer"]
    if "user" in data and "assignedOrders" in data["user"]:
        (work,) = data["user"]["assignedOrders"]
        assert work["id"] == order["id"]
        assert work["user"]["name"] == user["name"]
        (latest,) = work["history"]["items"]
        assert latest["action"] == "updated"
        assert {c["field"] for c in latest["changes"]} == {"assignee_id", "status"}
    elif "user" in data:
        assert data["user"]["email"] == user["email"]
        orders = data["user"]["orders"]
        assert [o["id"] for o in orders] == [order["id"]]
        assert str(orders[0]["totalAmount"]) == "520.00"
    if "users" in data:
        page = data["users"]
        assert page["total"] >= 1
        mine = [item for item in page["items"] if item["id"] == user["id"]]
        assert len(mine) == 1, page
        if "orders" in mine[0]:
            assert [o["id"] for o in mine[0]["orders"]] == [order["id"]]
        if "orderStats" in mine[0]:
            assert mine[0]["orderStats"]["count"] == 1
            assert mine[0]["orderStats"]["totalAmount"] == "520.00"
    if "late" in data:
        assert data["late"]["total"] == 0  # the order made here has no deadline
    if "orderStats" in data:
        assert data["orderStats"]["count"] >= 0
        assert {s["status"] for s in data["orderStats"]["byStatus"]} == {
            "CREATED",
            "IN_PROGRESS",
            "COMPLETED",
            "CANCELLED",
        }
    if "ordersByDay" in data:
        # Relative: the last 30 days up to today (UTC), so a fresh machine's data shows.
        today = datetime.now(UTC).date()
        days = [date.fromisoformat(day["date"]) for day in data["ordersByDay"]]
        assert days == [today - timedelta(days=29 - n) for n in range(30)]
        assert days[-1] == today
        assert data["ordersByDay"][-1]["created"] >= 1  # the order made here, today
        assert data["orderStats"]["count"] >= 1


async def test_graphiql_opens_in_a_browser(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


# --------------------------------------------------------------------------- commands


def readme_commands() -> list[str]:
    return [
        re.sub(r"\s+#.*$", "", line)
        for block in fenced_blocks("bash")
        for line in command_lines(block)
    ]


def make_targets() -> set[str]:
    makefile = (ROOT_DIR / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", makefile, re.MULTILINE))


def test_readme_names_the_two_commands() -> None:
    commands = readme_commands()
    assert "make run" in commands, commands
    assert "make test" in commands, commands
    assert {"run", "test"} <= make_targets()


def test_every_make_command_in_the_readme_exists() -> None:
    named = set(re.findall(r"`make ([\w-]+)", README)) | {
        c.split()[1] for c in readme_commands() if c.startswith("make ")
    }
    assert {"run", "test", "seed", "lint", "format", "schema"} <= named
    assert named <= make_targets(), named - make_targets()


def test_make_run_passes_run_args_to_the_runner() -> None:
    """`make run RUN_ARGS=--seed` (README) reaches `python -m stack --seed`."""
    assert "make run RUN_ARGS=--seed" in README
    dry = subprocess.run(
        ["make", "-n", "run", "RUN_ARGS=--seed"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert re.search(r"python -m stack --seed\s*$", dry.stdout, re.MULTILINE), dry.stdout


def test_ci_runs_make_test() -> None:
    script = (ROOT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in script.splitlines() if not line.strip().startswith("#")]
    assert "make test" in lines, lines


def test_compose_file_works_with_both_compose_clis() -> None:
    """The original README's `docker-compose …` (v1) must keep working beside `docker compose`.

    v1 rejects a top-level `name:`; both read a file without one.
    """
    compose = yaml.safe_load((ROOT_DIR / "docker-compose.yml").read_text("utf-8"))
    assert "name" not in compose
    assert set(compose) <= {"services", "volumes", "networks", "x-service-defaults"}
    docker = [c for c in readme_commands() if c.startswith("docker-compose")]
    assert "docker-compose logs -f api_gateway" in docker, docker
    assert {"docker-compose down", "docker-compose down -v"} <= set(docker), docker


def test_docker_commands_name_real_compose_services() -> None:
    services = set(yaml.safe_load((ROOT_DIR / "docker-compose.yml").read_text("utf-8"))["services"])
    docker = [c for c in readme_commands() if c.startswith(("docker compose", "docker-compose"))]
    assert docker, "the README shows no docker compose command"
    for command in docker:
        words = command.split()
        if "logs" in words:
            assert words[-1] in services, command


# --------------------------------------------------------------------------- authentication


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r}"
    return match[1]


def table_rows(text: str, header: str) -> list[list[str]]:
    """The rows (cells stripped, header included) of the Markdown table whose header starts so."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = [[cell.strip() for cell in lines[start].strip().strip("|").split("|")]]
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


AUTH_SECTION = "Turning authentication on"
DOCUMENTED_AUTH_SETTINGS = {
    "GATEWAY_AUTH",
    "GATEWAY_JWT_SECRET",
    "GATEWAY_JWT_TTL",
    "GATEWAY_SESSION_CHECK_INTERVAL",
    "GATEWAY_LOGIN_RATE_LIMIT",
    "GATEWAY_LOGIN_ADDRESS_RATE_LIMIT",
    "USERS_SESSION_TTL",
    "GATEWAY_RATE_LIMIT",
    "GATEWAY_REDIS_URL",
    "GATEWAY_CORS_ORIGINS",
    "GATEWAY_JWKS_URL",
    "GATEWAY_JWT_ISSUER",
    "GATEWAY_JWT_AUDIENCE",
    "USERS_ADMIN_EMAIL",
    "USERS_ADMIN_PASSWORD",
    "USERS_ADMIN_NAME",
}


def test_auth_section_follows_rest_and_graphql() -> None:
    titles = re.findall(r"^## (.+)$", README, re.MULTILINE)
    assert AUTH_SECTION in titles, titles
    at = titles.index(AUTH_SECTION)
    assert titles.index("REST: the original API") < at
    assert titles.index("GraphQL") < at


def test_auth_settings_table_names_real_settings_with_their_defaults() -> None:
    settings = {"GATEWAY_": GatewaySettings.model_fields, "USERS_": UsersSettings.model_fields}
    named: set[str] = set()
    for variables, default, _ in table_rows(section(AUTH_SECTION), "| variable |")[1:]:
        for variable in re.findall(r"`(\w+)`", variables):
            prefix = variable.split("_", 1)[0] + "_"
            field_name = variable.removeprefix(prefix).lower()
            assert field_name in settings[prefix], f"{variable} is no setting"
            named.add(variable)
            expected = settings[prefix][field_name].default
            if default.startswith("`"):
                assert default.strip("`") == str(expected), (variable, default, expected)
            else:
                assert default == "none", (variable, default)
                assert expected in {None, ""}, (variable, expected)
    assert named >= DOCUMENTED_AUTH_SETTINGS, DOCUMENTED_AUTH_SETTINGS - named


def test_roles_table_is_the_policy() -> None:
    header, *rows = table_rows(section(AUTH_SECTION), "| | admin |")
    roles = header[1:]
    assert roles == ["admin", "manager", "engineer", "director", "customer", "user"]
    names = roles

    def mark(granted: frozenset[str], yes: str, role: str) -> str:
        return yes if role in granted else "–"

    expected = {
        "read users": [("all" if r in policy.READ_ALL else "self") for r in names],
        "create / delete users, change anyone's roles": [
            mark(policy.MANAGE_USERS, "✓", r) for r in names
        ],
        "update own name, email, password": ["✓"] * len(names),
        "read orders, their history": [("all" if r in policy.READ_ALL else "own") for r in names],
        "see who works on an order (its assignee)": [
            ("all" if r in policy.READ_ALL else "own orders'") for r in names
        ],
        "create orders": [
            "any user" if r in policy.WRITE_ANY_ORDER else mark(policy.CREATE_OWN_ORDERS, "own", r)
            for r in names
        ],
        "assign / reassign orders": [mark(policy.ASSIGN_ORDERS, "any", r) for r in names],
        "update orders (items, status)": [
            "any"
            if r in policy.WRITE_ANY_ORDER
            else mark(policy.WRITE_OWN_ORDERS, "own and assigned to them", r)
            for r in names
        ],
        "move a deadline": [mark(policy.ASSIGN_ORDERS, "any", r) for r in names],
        "delete orders": [mark(policy.DELETE_ORDERS, "✓", r) for r in names],
    }
    assert {row[0]: row[1:] for row in rows} == expected


def test_auth_transcript_shows_no_whole_token_and_no_readme_command_needs_auth() -> None:
    text = section(AUTH_SECTION)
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", README), "a whole JWT in the README"
    assert "eyJhbGciOi…" in text
    for code in ("401", "403", "429", "Retry-After", "RateLimit-", "GATEWAY_JWT_TTL"):
        assert code.lower() in text.lower(), code
    # The transcript is `console`, never `bash`: the curl examples above run with auth off.
    assert not any("Authorization" in command for command in CURL_COMMANDS)
