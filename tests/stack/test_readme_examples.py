"""The commands and examples of README.md and of every docs/*.md are the ones that work.

Every `curl` line of their ```bash blocks runs, in order within its page, against the
gateway (in process, over both services as real processes on a real PostgreSQL); every
```graphql block runs against the same gateway, and a ```json block after one is the
shape of what it answers. The `make` commands they name exist, and CI runs `make test`.
The ```console transcripts (authentication on) name real routes and error codes (and
tests/auth/test_docs_transcripts.py replays them on a system with authentication on), and
the Kubernetes, Docker and Prometheus examples name real files, targets and settings.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
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

from apicore import errors
from graphql_gateway.auth import policy
from graphql_gateway.config import Settings as GatewaySettings
from service_orders.config import Settings as OrdersSettings
from service_users.config import Settings as UsersSettings
from tests.deploy import test_k8s as k8s
from tests.support.procs import ROOT

pytestmark = pytest.mark.slow  # every README example against real processes, and `make`

ROOT_DIR = Path(ROOT)
# README.md first, then the docs in name order: each page's examples run on their own.
PAGES = {
    path.relative_to(ROOT_DIR).as_posix(): path.read_text(encoding="utf-8")
    for path in [ROOT_DIR / "README.md", *sorted((ROOT_DIR / "docs").glob("*.md"))]
}
README = PAGES["README.md"]
AUTH_PAGE = PAGES["docs/auth.md"]
EVERYTHING = "\n".join(PAGES.values())
README_BASE = "http://localhost:8000"
PLACEHOLDER = "<user_uuid>"


def fenced_blocks(text: str, language: str) -> list[str]:
    return [
        body
        for lang, body in re.findall(r"^```(\w*)[ \t]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
        if lang == language
    ]


def command_lines(block: str) -> list[str]:
    """The block's commands, with backslash-continued lines joined."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def curl_commands(text: str) -> list[str]:
    return [
        line
        for block in fenced_blocks(text, "bash")
        for line in command_lines(block)
        if line.startswith("curl ")
    ]


CURL_PAGES = {page: curl_commands(text) for page, text in PAGES.items() if curl_commands(text)}
ALL_CURL_COMMANDS = [command for commands in CURL_PAGES.values() for command in commands]
GRAPHQL_EXAMPLES = [
    (page, n, query)
    for page, text in PAGES.items()
    for n, query in enumerate(fenced_blocks(text, "graphql"))
]


# --------------------------------------------------------------------------- curl → httpx


@dataclass
class CurlRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


def parse_curl(command: str, quiet_options: frozenset[str] = frozenset()) -> CurlRequest:
    """The curl options the pages use; anything else fails (nothing is skipped silently).

    `quiet_options` are the output-only options a transcript may show (`-s`, `-i`).
    """
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
        elif word in quiet_options:
            continue
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


def graphql_data(response: httpx.Response, what: str) -> dict[str, Any]:
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text}"
    body = response.json()
    assert not body.get("errors"), f"{what}: {body}"
    assert body.get("data"), f"{what}: {body}"
    return body["data"]


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    return graphql_data(response, query)


def operation_variables(query: str) -> set[str]:
    header = query.split("{", 1)[0]
    return set(re.findall(r"\$(\w+)\s*:", header))


def required_variables(query: str) -> set[str]:
    """The variables a query cannot run without (`$x: T!`); a nullable one may be left out
    (a first page's `$after`, say)."""
    header = query.split("{", 1)[0]
    return set(re.findall(r"\$(\w+)\s*:\s*[\w\[\]!]*!", header))


def asks_for_csv(command: str) -> bool:
    return "text/csv" in command or "format=csv" in command


# --------------------------------------------------------------------------- curl examples


def test_the_pages_have_the_curl_examples() -> None:
    """The README's first calls, and the contract's full walk through the routes."""
    assert len(CURL_PAGES.get("README.md", [])) >= 4, CURL_PAGES
    assert len(CURL_PAGES.get("docs/contract.md", [])) >= 6, CURL_PAGES
    assert all(parse_curl(command) for command in ALL_CURL_COMMANDS)
    walk = " ".join(CURL_PAGES["docs/contract.md"])
    for shown in ("-X POST http://localhost:8000/users ", "-X POST http://localhost:8000/orders "):
        assert shown in walk
    assert "/details" in walk
    assert sum(asks_for_csv(command) for command in CURL_PAGES["docs/contract.md"]) == 2


def test_readme_base_url_is_the_gateway_default() -> None:
    parts = urlsplit(README_BASE)
    assert parts.port == GatewaySettings().port == 8000
    assert f"{README_BASE}/graphql" in README


@pytest.mark.parametrize("page", sorted(CURL_PAGES))
async def test_curl_examples_work_in_order(gateway: httpx.AsyncClient, page: str) -> None:
    user: dict[str, Any] | None = None
    order: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    exports = 0
    for command in CURL_PAGES[page]:
        if PLACEHOLDER in command:
            assert user is not None, f"{command} comes before {page} creates a user"
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
        if request.path == "/graphql":
            data = graphql_data(response, command)
            if "users" in data:
                assert data["users"]["total"] >= 1, data  # the user made above
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
    assert exports == sum(asks_for_csv(command) for command in CURL_PAGES[page])
    if order is not None:
        assert user is not None
        assert order["user_id"] == user["id"]
        assert order["total_amount"] == "520.00", order
    if details is not None:
        assert user is not None
        assert order is not None
        assert details["user"]["id"] == user["id"]
        assert [o["id"] for o in details["orders"]] == [order["id"]]
        assert details["orders"][0]["total_amount"] == "520.00"


# --------------------------------------------------------------------------- GraphQL examples


def test_the_pages_have_the_graphql_examples() -> None:
    queries = [query for _, _, query in GRAPHQL_EXAMPLES]
    assert len(queries) >= 3, queries
    assert fenced_blocks(README, "graphql"), "the README shows no first GraphQL call"
    assert any("createUser" in query for query in queries)
    assert any("$id" in query for query in queries)


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
    "query",
    [query for _, _, query in GRAPHQL_EXAMPLES],
    ids=[f"{page}-{n}" for page, n, _ in GRAPHQL_EXAMPLES],
)
async def test_graphql_example_works(gateway: httpx.AsyncClient, query: str) -> None:
    user, order = await user_with_an_order(gateway)
    names = operation_variables(query)
    unknown = required_variables(query) - {"id"}
    assert not unknown, f"no value known for variables {unknown}"
    variables = {"id": user["id"]} if "id" in names else None
    if "assignedOrders" in query:  # the engineer's work: their order, assigned, under way
        change = {"assignee_id": user["id"], "status": "in_progress"}
        envelope_data(await gateway.put(f"/orders/{order['id']}", json=change), "assigned")
    data = await graphql(gateway, query, variables)

    for connection in ("ordersConnection", "usersConnection"):
        if connection in data:  # docs/pagination.md: a first page, its cursor to go on
            page = data[connection]
            assert isinstance(page["edges"], list)
            assert page["pageInfo"]["hasNextPage"] in (True, False)
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


def answered_examples() -> list[tuple[str, str, str]]:
    """(page, query, the JSON shown as its answer): a ```json block right after a query."""
    found = []
    for page, text in PAGES.items():
        blocks = re.findall(r"^```(\w*)[ \t]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
        for (lang, body), (next_lang, answer) in itertools.pairwise(blocks):
            if lang == "graphql" and next_lang == "json":
                found.append((page, body, answer))
    return found


ANSWERED = answered_examples()


def shape(value: Any) -> Any:
    """The keys of a JSON value, all the way down; a list is the union of its items'."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            item_shape = shape(item)
            if not isinstance(item_shape, dict):
                return ["value"]
            merged.update(item_shape)
        return [merged] if merged else []
    return "value"


def same_shape(shown: Any, served: Any, at: str) -> None:
    if isinstance(shown, dict):
        assert isinstance(served, dict), f"{at}: {served!r} is no object"
        assert set(shown) == set(served), f"{at}: shown {sorted(shown)}, served {sorted(served)}"
        for key in shown:
            same_shape(shown[key], served[key], f"{at}.{key}")
    elif isinstance(shown, list) and shown and served:  # an empty list shows no shape
        assert isinstance(served, list), f"{at}: {served!r} is no list"
        same_shape(shown[0], served[0], f"{at}[]")


def test_the_pages_show_answers() -> None:
    assert len(ANSWERED) >= 2, ANSWERED


@pytest.mark.parametrize(
    ("query", "answer"),
    [(query, answer) for _, query, answer in ANSWERED],
    ids=[f"{page}-{n}" for n, (page, _, _) in enumerate(ANSWERED)],
)
async def test_a_shown_answer_has_the_shape_of_the_real_one(
    gateway: httpx.AsyncClient, query: str, answer: str
) -> None:
    """The JSON under a query is what that query answers, key for key (values differ)."""
    user, _ = await user_with_an_order(gateway)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    late = {
        "user_id": user["id"],
        "due_date": yesterday,
        "items": [{"product": "Бетон М300", "quantity": 1, "price": "5400.00"}],
    }
    envelope_data(await gateway.post("/orders", json=late), "an overdue order")
    shown = json.loads(answer)
    assert set(shown) == {"data"}, shown
    served = await graphql(gateway, query, {"id": user["id"]} if "$id" in query else None)
    same_shape(shape(shown["data"]), shape(served), "data")


async def test_graphiql_opens_in_a_browser(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


# --------------------------------------------------------------------------- transcripts


def transcript_commands(text: str) -> list[tuple[str, str]]:
    """Each `$ curl …` of the ```console blocks, with the output shown under it."""
    found = []
    for block in fenced_blocks(text, "console"):
        joined = re.sub(r"\\\n\s*", " ", block)
        for command, output in re.findall(r"^\$ (curl .*)\n((?:(?!\$ ).*\n?)*)", joined, re.M):
            found.append((command, output))
    return found


TRANSCRIPTS = [(page, *pair) for page, text in PAGES.items() for pair in transcript_commands(text)]
GATEWAY_OPENAPI = json.loads((ROOT_DIR / "schema" / "gateway.openapi.json").read_text("utf-8"))
ERROR_CODES = {value for name, value in vars(errors).items() if name.isupper() and value == name}


def route_of(path: str) -> str | None:
    """The gateway's route template a concrete path matches, None if none does."""
    path = urlsplit(path).path
    for template in GATEWAY_OPENAPI["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    return None


def test_the_transcripts_are_there() -> None:
    pages = {page for page, _, _ in TRANSCRIPTS}
    assert {"docs/auth.md", "docs/legacy-v1.md"} <= pages, pages


@pytest.mark.parametrize(
    ("command", "output"),
    [(command, output) for _, command, output in TRANSCRIPTS],
    ids=[f"{page}-{n}" for n, (page, _, _) in enumerate(TRANSCRIPTS)],
)
def test_a_transcript_names_a_real_route_and_real_codes(command: str, output: str) -> None:
    """Their routes and methods are the gateway's, their codes ours (they are replayed
    with authentication on by tests/auth/test_docs_transcripts.py)."""
    request = parse_curl(command, frozenset({"-s", "-i"}))
    template = route_of(request.path)
    assert template is not None, f"no route {request.path}: {command}"
    methods = {method.upper() for method in GATEWAY_OPENAPI["paths"][template]}
    assert request.method in methods, (command, methods)
    for code in re.findall(r'"code":"(\w+)"', output):
        assert code in ERROR_CODES, (code, command)


def test_the_error_table_is_every_code() -> None:
    section = PAGES["docs/contract.md"].split("## Error codes", 1)[1]
    rows = table_rows(section, "| status | code |")[1:]
    listed = {code for _, codes, _ in rows for code in re.findall(r"`(\w+)`", codes)}
    assert listed == ERROR_CODES, listed ^ ERROR_CODES


# --------------------------------------------------------------------------- commands


def page_commands() -> list[str]:
    return [
        re.sub(r"\s+#.*$", "", line)
        for text in PAGES.values()
        for block in fenced_blocks(text, "bash")
        for line in command_lines(block)
    ]


def make_targets() -> set[str]:
    makefile = (ROOT_DIR / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", makefile, re.MULTILINE))


def test_readme_names_the_two_commands() -> None:
    commands = [
        re.sub(r"\s+#.*$", "", line)
        for block in fenced_blocks(README, "bash")
        for line in command_lines(block)
    ]
    assert "make run" in commands, commands
    assert "make test" in commands, commands
    assert {"run", "test"} <= make_targets()


def test_every_make_command_in_the_pages_exists() -> None:
    named = set(re.findall(r"`make ([\w-]+)", EVERYTHING)) | {
        c.split()[1] for c in page_commands() if c.startswith("make ")
    }
    assert {"run", "test", "seed", "lint", "format", "schema", "bench", "mutation"} <= named
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
    """The original API's `docker-compose …` (v1) must keep working beside `docker compose`.

    v1 rejects a top-level `name:`; both read a file without one.
    """
    compose = yaml.safe_load((ROOT_DIR / "docker-compose.yml").read_text("utf-8"))
    assert "name" not in compose
    assert set(compose) <= {"services", "volumes", "networks", "x-service-defaults"}
    docker = [c for c in page_commands() if c.startswith("docker-compose")]
    assert "docker-compose logs -f api_gateway" in docker, docker
    assert {"docker-compose down", "docker-compose down -v"} <= set(docker), docker


def test_docker_commands_name_real_compose_services_and_targets() -> None:
    services = set(yaml.safe_load((ROOT_DIR / "docker-compose.yml").read_text("utf-8"))["services"])
    docker = [c for c in page_commands() if c.startswith(("docker compose", "docker-compose"))]
    assert docker, "no page shows a docker compose command"
    for command in docker:
        words = command.split()
        if "logs" in words:
            assert words[-1] in services, command
    dockerfile = (ROOT_DIR / "Dockerfile").read_text(encoding="utf-8")
    stages = set(re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.MULTILINE | re.IGNORECASE))
    (loop,) = [c for c in page_commands() if c.startswith("for target in")]
    targets = loop.removeprefix("for target in").split(";")[0].split()
    assert targets, loop
    assert set(targets) <= stages, (targets, stages)


def test_kubernetes_commands_name_real_overlays_and_labels() -> None:
    """The deploy commands' overlay exists and their labels select its Jobs and processes.

    tests/deploy/test_k8s.py renders and validates the overlays themselves."""
    text = PAGES["docs/deployment.md"]
    (overlay,) = set(re.findall(r"\bK=(\S+)", text))
    assert (ROOT_DIR / overlay / "kustomization.yaml").is_file(), overlay
    manifests = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT_DIR / "deploy" / "k8s").rglob("*.yaml")
    )
    for component in ("migration", "gateway", "service"):
        assert f"app.kubernetes.io/component: {component}" in manifests, component
    for job in re.findall(r"logs job/([\w-]+)", text):
        assert f"name: {job}" in manifests, job
    for deployment in re.findall(r"rollout status deployment/([\w-]+)", text):
        assert f"name: {deployment}" in manifests, deployment


def secret_keys(overlay: str) -> set[str]:
    """The keys of the Secret that the overlay's rendered workloads read."""
    return {
        entry["valueFrom"]["secretKeyRef"]["key"]
        for _, template in k8s.workloads(k8s.rendered(overlay))
        for container in k8s.containers(template)
        for entry in k8s.env_of(container).values()
        if "secretKeyRef" in entry.get("valueFrom", {})
    }


def test_the_secret_the_docs_create_is_the_one_the_overlays_read() -> None:
    """Every key the dev overlay reads, and no other; production as the page says."""
    text = PAGES["docs/deployment.md"]
    (block,) = [b for b in fenced_blocks(text, "bash") if "create secret generic" in b]
    (command,) = [c for c in command_lines(block) if "create secret generic" in c]
    words = shlex.split(command)
    assert words[words.index("-n") + 1] == "sitetrack-dev"
    assert words[words.index("generic") + 1] == k8s.SECRET_NAME
    created = {
        w.removeprefix("--from-literal=").split("=", 1)[0]
        for w in words
        if w.startswith("--from-literal=")
    }
    assert created == secret_keys("dev")
    assert "has no `postgres-password`" in text
    assert "it adds `gateway-redis-url`" in text
    assert secret_keys("production") == created - {"postgres-password"} | {"gateway-redis-url"}
    for overlay, namespace in (("dev", "sitetrack-dev"), ("production", "sitetrack")):
        kustomization = ROOT_DIR / "deploy" / "k8s" / "overlays" / overlay / "kustomization.yaml"
        assert yaml.safe_load(kustomization.read_text("utf-8"))["namespace"] == namespace
        assert f"`{namespace}`" in text


def test_the_prometheus_example_is_a_scrape_config() -> None:
    (block,) = fenced_blocks(PAGES["docs/deployment.md"], "yaml")
    (job,) = yaml.safe_load(block)
    assert job["job_name"] == "sitetrack"
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    assert (ROOT_DIR / "deploy" / "grafana" / "sitetrack-dashboard.json").is_file()


# --------------------------------------------------------------------------- authentication


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


def same_default(shown: str, default: object) -> bool:
    """`10` is 10.0, `true` is True: the table writes a default as it is set."""
    if isinstance(default, bool):
        return shown == str(default).lower()
    if isinstance(default, int | float):
        return float(shown) == default
    return shown == str(default)


def test_the_configuration_table_names_real_settings_with_their_defaults() -> None:
    section = PAGES["docs/operations.md"].split("## Configuration\n", 1)[1]
    settings = {
        "GATEWAY_": GatewaySettings.model_fields,
        "USERS_": UsersSettings.model_fields,
        "ORDERS_": OrdersSettings.model_fields,
    }
    checked = 0
    for variables, default, _ in table_rows(section, "| variable |")[1:]:
        names = [n for n in re.findall(r"`([A-Z][A-Z0-9_]*[A-Z0-9])`", variables)]
        shown = re.findall(r"`([^`]*)`", default)
        for n, name in enumerate(names):
            prefix = name.split("_", 1)[0] + "_"
            if prefix not in settings:
                assert name == "LOG_FORMAT", name  # read by apicore/logging.py itself
                continue
            field_name = name.removeprefix(prefix).lower()
            assert field_name in settings[prefix], f"{name} is no setting"
            expected = settings[prefix][field_name].default
            if len(shown) == len(names):
                assert same_default(shown[n], expected), (name, shown[n], expected)
                checked += 1
            elif default == "none":
                assert expected in {None, ""}, (name, expected)
    assert checked >= 30, checked


def test_the_readme_sends_readers_to_the_auth_page() -> None:
    assert "(docs/auth.md)" in README
    assert AUTH_PAGE.startswith("# Authentication and access\n")


def test_auth_settings_table_names_real_settings_with_their_defaults() -> None:
    settings = {"GATEWAY_": GatewaySettings.model_fields, "USERS_": UsersSettings.model_fields}
    named: set[str] = set()
    for variables, default, _ in table_rows(AUTH_PAGE, "| variable |")[1:]:
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
    header, *rows = table_rows(AUTH_PAGE, "| | admin |")
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


def test_auth_transcript_shows_no_whole_token_and_no_curl_example_needs_auth() -> None:
    for page, text in PAGES.items():
        assert not re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", text), f"a whole JWT in {page}"
    assert "eyJhbGciOi…" in AUTH_PAGE
    for code in ("401", "403", "429", "Retry-After", "RateLimit-", "GATEWAY_JWT_TTL"):
        assert code.lower() in AUTH_PAGE.lower(), code
    # The transcripts are `console`, never `bash`: the curl examples run with auth off.
    assert not any("Authorization" in command for command in ALL_CURL_COMMANDS)
