"""Schemathesis over the three OpenAPI documents, through the three real processes.

Each operation gets a few dozen generated requests, valid ones and invalid ones
(bounded: the module runs in a minute or two), and every response must conform to
the document the process serves: no 5xx, a documented status code, the documented
content type and headers, and a body that matches the documented schema (the
envelope, the resource, or a `?fields=` partial). What a run finds is fixed in the
code or the document, not here.

The /v1 routes exist only with authentication on (graphql_gateway/rest/v1/): they are
called on a gateway with auth on, with an administrator's token; the gateway with auth
off must serve the committed document without them.

The operations are collected from the committed documents (schema/, which
tests/test_schema_files.py keeps equal to the code), so that each one is its own test;
each test first checks that the process serves that very document. Schemathesis's
own pytest integration (`from_fixture`) is not used: it reads `Function._nodeid`,
which this pytest no longer has.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.hostile.conftest import V1Gateway
from tests.support.procs import RunningProcess
from tools.export_schemas import SCHEMA_DIR

pytestmark = pytest.mark.slow  # schemathesis: hundreds of generated requests per test

DOCUMENTS = {
    "users": "users.openapi.json",
    "orders": "orders.openapi.json",
    "gateway": "gateway.openapi.json",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    # Bounded for CI; FUZZ_MAX_EXAMPLES=500 for a deep run before a release.
    max_examples=int(os.environ.get("FUZZ_MAX_EXAMPLES", "25")),
    deadline=None,  # a shared CI machine: latency is measured by bench/, not here
    database=None,  # nothing written to the working tree
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases on every run: a failure can be replayed
)


@cache
def document(process: str) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_path(str(SCHEMA_DIR / DOCUMENTS[process]))


def operations() -> Iterator[object]:
    for process in DOCUMENTS:
        for result in document(process).get_all_operations():
            if isinstance(result, Err):
                raise result.err()  # an operation schemathesis cannot load: fail with why
            operation = result.ok()
            label = f"{process} {operation.method.upper()} {operation.path}"
            yield pytest.param(process, operation.method.upper(), operation.path, id=label)


def is_v1(path: str) -> bool:
    return path.startswith("/v1/")


def without_v1(document: dict) -> dict:
    """The gateway's document as a gateway with auth off serves it: no /v1 paths, and
    only the components those paths use besides the others (checked one by one)."""
    return {**document, "paths": {p: v for p, v in document["paths"].items() if not is_v1(p)}}


@pytest.fixture(scope="module")
def urls(
    users_process: RunningProcess,
    orders_process: RunningProcess,
    gateway_process: RunningProcess,
    v1_gateway: V1Gateway,
) -> dict[str, str]:
    urls = {
        "users": users_process.url,
        "orders": orders_process.url,
        "gateway": gateway_process.url,
    }
    for process, url in urls.items():
        served = requests.get(f"{url}/openapi.json", timeout=10).json()
        committed = json.loads((SCHEMA_DIR / DOCUMENTS[process]).read_text())
        if process == "gateway":
            # Auth off (this gateway): the committed document but the /v1 routes.
            components = served.pop("components")["schemas"]
            kept = committed.pop("components")["schemas"]
            assert {name: kept.get(name) for name in components} == components
            committed = without_v1(committed)
        assert served == committed, f"{process} serves another document than schema/"
    # Auth on (the /v1 routes' gateway): the committed document itself.
    served = requests.get(f"{v1_gateway.url}/openapi.json", timeout=10).json()
    assert served == json.loads((SCHEMA_DIR / DOCUMENTS["gateway"]).read_text())
    return urls


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.mark.parametrize(("process", "method", "path"), list(operations()))
def test_operation_conforms_to_its_document(urls, v1_gateway, session, process, method, path):
    operation = document(process)[path][method]
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @FUZZ
    @given(case=cases)
    def fuzz(case: schemathesis.Case) -> None:
        if process == "gateway" and is_v1(path):  # as an administrator, on an auth-on gateway
            base_url, headers = v1_gateway.url, v1_gateway.headers
        else:
            base_url, headers = urls[process], None
        case.call_and_validate(
            base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=10
        )

    fuzz()
