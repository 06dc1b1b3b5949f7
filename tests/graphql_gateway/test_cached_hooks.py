"""Extension hooks looked up once per class (graphql_gateway/graphql/hooks.py) change nothing.

The same operations, good and refused, on two gateways over the same service processes,
one with GATEWAY_GRAPHQL_CACHED_HOOKS on (the default) and one with it off: the same
status and body, every extension's hook run (the operation counted once in the metrics,
the limits enforced, the compiled plan used). And, on a schema of its own, every kind of
hook Strawberry accepts (generator, async generator, coroutine, plain function), entered
and left in the same order either way, for each request on its own extension instance.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx
import pytest
import strawberry
from prometheus_client import REGISTRY
from strawberry.extensions import SchemaExtension

from graphql_gateway.graphql.hooks import CachedHooksRunner
from tests.conftest import gateway_for
from tests.support.procs import RunningProcess

pytestmark = pytest.mark.slow  # gateways over real service processes


def _operations(outcome: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "gateway_graphql_operations":
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels.get("outcome") == outcome:
                    total += sample.value
    return total


def _user_query(user_id: str) -> str:
    return f'{{ user(id: "{user_id}") {{ id name email orders {{ id status totalAmount }} }} }}'


OPERATIONS: list[tuple[str, str, str]] = [
    # (what, query or "USER" for the seeded user's, the outcome counted)
    ("a user with orders", "USER", "ok"),
    ("a user that does not exist", _user_query(str(uuid.uuid4())), "ok"),
    ("a list", "{ users(limit: 5) { total items { name orders { status } } } }", "ok"),
    ("does not parse", "{ users { items { name }", "refused"),
    ("an unknown field", "{ users { items { nmae } } }", "refused"),
    (
        "too deep",
        f'{{ user(id: "{uuid.uuid4()}") {{ {"orders { user { " * 6} id {"} } " * 6} }} }}',
        "refused",
    ),
    ("too many tokens", "{ users { items { " + "name " * 2100 + "} } }", "refused"),
    ("a bad argument", '{ user(id: "not-a-uuid") { id } }', "refused"),
    ("named", "query Front { users(limit: 1) { total } }", "ok"),
]


@pytest.fixture(scope="module")
def seeded_user(users_process: RunningProcess, orders_process: RunningProcess) -> str:
    email = f"hooks-{uuid.uuid4().hex[:8]}@site.example"
    body = {"email": email, "name": "Хуки", "roles": ["engineer"]}
    user = httpx.post(f"{users_process.url}/users", json=body, timeout=10).json()["data"]
    items = [{"product": "Бетон", "quantity": 2, "price": "52.00"}]
    for _ in range(2):
        created = httpx.post(
            f"{orders_process.url}/orders", json={"user_id": user["id"], "items": items}, timeout=10
        )
        assert created.status_code == 201, created.text
    return user["id"]


@pytest.mark.parametrize(("what", "query", "outcome"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
async def test_the_same_answers_with_hooks_cached_or_not(
    users_process: RunningProcess,
    orders_process: RunningProcess,
    seeded_user: str,
    what: str,
    query: str,
    outcome: str,
) -> None:
    query = _user_query(seeded_user) if query == "USER" else query
    answers: dict[bool, tuple[int, Any, float]] = {}
    for cached in (True, False):
        async with gateway_for(
            users_process.url, orders_process.url, graphql_cached_hooks=cached
        ) as (client, app):
            counted = _operations(outcome)
            response = await client.post("/graphql", json={"query": query})
            answers[cached] = (
                response.status_code,
                response.json(),
                _operations(outcome) - counted,
            )
            if outcome == "ok":
                assert "errors" not in answers[cached][1], answers[cached]
                assert answers[cached][2] == 1, f"{what}: not counted once"
                paths = app.state.graphql_schema.execution_paths
                assert paths.compiled == 1, "the compiled plan's hook did not run"
            else:
                assert answers[cached][1]["errors"], answers[cached]
    assert answers[True] == answers[False]


async def test_unauthenticated_refusal_is_the_same(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    answers: dict[bool, tuple[int, str | None, Any]] = {}
    for cached in (True, False):
        async with gateway_for(
            users_process.url,
            orders_process.url,
            graphql_cached_hooks=cached,
            auth="on",
            jwt_secret="hooks-test-secret-" + "0" * 32,
        ) as (client, _):
            response = await client.post("/graphql", json={"query": "{ users { total } }"})
            answers[cached] = (
                response.status_code,
                response.headers.get("www-authenticate"),
                response.json(),
            )
    assert answers[True][0] == 401
    assert answers[True] == answers[False]


# --- every kind of hook, on a schema of its own --------------------------------------------

EVENTS: list[str] = []
INSTANCES = itertools.count()


class EveryKind(SchemaExtension):
    def __init__(self, *, execution_context: Any = None) -> None:
        self.label = f"#{next(INSTANCES)}"  # which instance (one per request) ran the hook

    def on_operation(self):  # a generator
        EVENTS.append("operation in")
        yield
        EVENTS.append("operation out")

    async def on_parse(self):  # an async generator
        EVENTS.append("parse in")
        yield
        EVENTS.append("parse out")

    # Ignore below: strawberry types a hook as a generator, but runs a coroutine function
    # or a plain one as well (its extensions/context.py, `from_callable`).
    async def on_validate(self) -> None:  # type: ignore[override]  # strawberry: see above
        EVENTS.append("validate")

    def on_execute(self) -> None:  # type: ignore[override]  # strawberry: as above
        EVENTS.append(f"execute {self.label}")


class Quiet(SchemaExtension):
    """No hook at all: looked up, found wanting, skipped."""


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "привет"


class Cached(strawberry.Schema):
    def create_extensions_runner(self, execution_context: Any, extensions: Any) -> Any:
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)


@pytest.mark.parametrize("schema_class", [strawberry.Schema, Cached])
async def test_every_kind_of_hook_runs_in_order(schema_class: type[strawberry.Schema]) -> None:
    schema = schema_class(query=Query, extensions=[Quiet, EveryKind])
    for _ in range(2):
        EVENTS.clear()
        first = next(INSTANCES) + 1  # the number the request's own instance gets
        result = await schema.execute("{ hello }")
        assert result.errors is None
        assert result.data == {"hello": "привет"}
        assert [
            "operation in",
            "parse in",
            "parse out",
            "validate",
            f"execute #{first}",
            "operation out",
        ] == EVENTS
