"""Schemathesis fuzzes /graphql of a real gateway over real services: no 5xx, every error coded.

And pages out of REST's bounds (a negative limit, say) are never answered as if fine.

The services get their own databases (mutations write: nothing is left for other tests).
Bounded: CASES_PER_OPERATION cases for each query and mutation field (~300 in all),
and TIME_BUDGET seconds whatever happens.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err

from tests.support.procs import RunningProcess, running
from tests.support.services import own_services

pytestmark = pytest.mark.slow  # hypothesis: generated GraphQL operations

CASES_PER_OPERATION = 30
TIME_BUDGET = 90.0

# Money is a string ("52.00") or a number on input; hostile forms of both too.
nodes = schemathesis.graphql.nodes
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str).map(nodes.String),
        st.text(max_size=20).map(nodes.String),
        st.integers().map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    ),
)


@pytest.fixture(scope="module")
def fuzzed_gateway(pg_server: str, logs_dir: Path) -> Iterator[RunningProcess]:
    with (
        own_services(pg_server, logs_dir, "fuzz", access_log=False) as (users, orders),
        running(
            "graphql_gateway",
            "GATEWAY_",
            {
                "GATEWAY_USERS_URL": users.url,
                "GATEWAY_ORDERS_URL": orders.url,
                "GATEWAY_ACCESS_LOG": "0",
            },
            log_path=str(logs_dir / "fuzz-gateway.log"),
        ) as gateway,
    ):
        yield gateway


# REST's bounds on pages, which the GraphQL fields keep (limit 0-1000, offset 0-10⁹).
PAGE_ARGUMENT = re.compile(r"\b(limit|offset): (-?\d+)")
BOUNDS = {"limit": 1000, "offset": 1_000_000_000}


def out_of_bounds(document: str) -> list[str]:
    return [
        f"{name}: {value}"
        for name, value in PAGE_ARGUMENT.findall(document)
        if not 0 <= int(value) <= BOUNDS[name]
    ]


def problems(document: str, response: Any) -> list[str]:
    """What is wrong with one answer of /graphql, if anything."""
    if response.status_code >= 500:
        return [f"{response.status_code}: {response.text[:300]}"]
    content_type = (response.headers.get("content-type") or [""])[0]  # every value, a list
    if not content_type.startswith("application/json"):
        return [f"content type {content_type}: {response.text[:300]}"]
    body = response.json()
    found = []
    errors = body.get("errors") or ()
    for error in errors:
        if not isinstance((error.get("extensions") or {}).get("code"), str):
            found.append(f"no extensions.code: {error}")
    if out_of_bounds(document) and not errors:
        found.append(f"accepted {out_of_bounds(document)}: {response.text[:200]}")
    return found


def fuzz(operation: Any, deadline: float, found: list[str]) -> int:
    """Up to CASES_PER_OPERATION cases of one field, until `deadline`; how many ran."""
    cases = 0

    @settings(
        max_examples=CASES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        nonlocal cases
        if time.monotonic() > deadline:
            return
        cases += 1
        response = case.call(timeout=30)
        document = case.body if isinstance(case.body, str) else case.body["query"]
        for problem in problems(document, response):
            found.append(f"{operation.label}: {problem}\n  {case.body}")

    run()
    return cases


def test_fuzzed_graphql_requests_get_no_5xx_and_coded_errors(
    fuzzed_gateway: RunningProcess,
) -> None:
    schema = schemathesis.graphql.from_url(f"{fuzzed_gateway.url}/graphql")
    deadline = time.monotonic() + TIME_BUDGET
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation schemathesis cannot load: fail with why
        operations.append(result.ok())
    assert len(operations) >= 8, [op.label for op in operations]
    found: list[str] = []

    cases = sum(fuzz(operation, deadline, found) for operation in operations)

    assert not found, "\n".join(found[:10])
    assert cases >= 100, cases  # the budget was not spent before anything ran
