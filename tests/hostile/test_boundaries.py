"""The edges of every input type, on every REST route of the three processes and every
GraphQL argument: never a 5xx, every 4xx in the envelope, the breakers left closed.

What is generated is read from what the processes serve, so a new route, parameter, body
field or GraphQL argument is covered without touching this file: the operations and their
parameters and bodies from each process's /openapi.json, the GraphQL fields and arguments
(and input objects) by introspection of the gateway's /graphql.

Values are biased to the edges: the calendar's first and last days and dates just outside
it, the 32- and 64-bit integer limits and far beyond, empty and 10,000-character strings,
NUL, percent-escapes that are not UTF-8, Cyrillic, UUID edge forms, booleans as strings;
`from`/`to` pairs get every combination of the date edges (both orders). One request gets
one or two edges, the rest of it valid (a body is a valid one with one or two fields
changed), so each edge reaches the code behind the checks that come before it.

A 5xx of a service called by the gateway could be hidden as a 502 (which fails here too)
or as a GraphQL error: each process's `http_requests_total` (GET /metrics) must count no
5xx after the run that it did not count before. Bounded: derandomized, EXAMPLES per REST
operation and per GraphQL argument, about a minute in all.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.hostile.conftest import V1Gateway
from tests.support.procs import RunningProcess

pytestmark = pytest.mark.slow  # every route and argument of three processes, per test

EXAMPLES = 12
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a shared CI machine: latency is measured by bench/, not here
    database=None,  # nothing written to the working tree
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases on every run: a failure can be replayed
)

TODAY = datetime.now(UTC).date().isoformat()
DATES = ["0001-01-01", "9999-12-31", "0000-00-00", "10000-01-01", TODAY, "2024-02-29", "2023-02-29"]
INTS = [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63), 10**30, -(10**30)]
LONG = "a" * 10_000
STRINGS = ["", " ", LONG, "\x00", "a\x00b", "Кириллица", "\U0001f600", "null", "1e400", "-0"]
UUIDS = [
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "{12345678-1234-5678-1234-567812345678}",
    "urn:uuid:12345678-1234-5678-1234-567812345678",
    "12345678123456781234567812345678",
    "12345678-1234-5678-1234-56781234567",  # one digit short
]
BOOLEANS = ["true", "false", "True", "FALSE", "1", "0", "yes", "on", ""]
NUMBERS = [0.0, -0.0, 0.005, 1e-10, 99999999.99, 99999999.995, 100000000.0, 1e308, -1.0]
PRICES = ["0", "0.00", "0.001", "99999999.99", "100000000.00", "-0.00", "1e2", "٥"]


# The edges of each GraphQL scalar, tried one by one and mixed by Hypothesis.
TYPE_EDGES: dict[str, list[Any]] = {
    "Int": INTS,
    "Float": NUMBERS,
    "Date": DATES,
    "Decimal": [*PRICES, *NUMBERS, *INTS],
    "UUID": UUIDS,
    "ID": UUIDS,
    "Boolean": [True, False, *BOOLEANS],
    "String": STRINGS,
}


class Escaped(str):
    """Already percent-encoded: sent as is (bytes that are not UTF-8, an encoded NUL)."""


ESCAPES = [Escaped("%FF"), Escaped("%C0%80"), Escaped("%ED%A0%80"), Escaped("%00"), Escaped("%")]
TEXTS = [*DATES, *map(str, INTS), *STRINGS, *UUIDS, *BOOLEANS, *PRICES]


# ---------------------------------------------------------------- the processes and their data


@pytest.fixture(scope="module")
def processes(
    users_process: RunningProcess,
    orders_process: RunningProcess,
    gateway_process: RunningProcess,
    v1_gateway: V1Gateway,
) -> dict[str, str]:
    return {
        "users": users_process.url,
        "orders": orders_process.url,
        "gateway": gateway_process.url,
        # Auth on: walked for its /v1 routes only, with an administrator's token.
        "gateway-v1": v1_gateway.url,
    }


@pytest.fixture(scope="module")
def tokens(v1_gateway: V1Gateway) -> dict[str, dict[str, str]]:
    """The headers each process is called with: a token for the auth-on gateway."""
    return {"gateway-v1": v1_gateway.headers}


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def seeds(processes: dict[str, str], http: requests.Session) -> dict[str, str]:
    """A user and an order of theirs (a valid id for the routes that take one)."""
    user = http.post(
        f"{processes['users']}/users",
        json={"name": "Edge", "email": f"edge-{uuid.uuid4().hex}@example.com"},
        timeout=10,
    )
    assert user.status_code == 201, user.text
    user_id = user.json()["data"]["id"]
    item: dict[str, str | int] = {"product": "p", "quantity": 1, "price": "1.00"}
    order = http.post(
        f"{processes['orders']}/orders", json={"user_id": user_id, "items": [item]}, timeout=10
    )
    assert order.status_code == 201, order.text
    return {"user": user_id, "order": order.json()["data"]["id"]}


def server_errors(url: str) -> dict[tuple[str, str, str], float]:
    """The 5xx a process has answered so far, by (route, method, status)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "http_requests_total" and s.labels.get("status", "").startswith("5")
    }


@pytest.fixture
def no_new_server_errors(processes: dict[str, str]) -> Iterator[None]:
    """After the test: no process answered a 5xx it had not answered before."""
    before = {name: server_errors(url) for name, url in processes.items()}
    yield
    for name, url in processes.items():
        new = {k: v - before[name].get(k, 0) for k, v in server_errors(url).items()}
        assert not {k: v for k, v in new.items() if v}, f"{name} answered 5xx: {new}"


def assert_breakers_closed(gateway: str) -> None:
    health = requests.get(f"{gateway}/health", timeout=10).json()["data"]
    for name, breaker in health["circuit_breakers"].items():
        assert (breaker["state"], breaker["failures"]) == ("closed", 0), (name, breaker)


def problems_of(response: requests.Response) -> list[str]:
    """No 5xx; a 4xx in the envelope, naming its code and saying what is wrong."""
    status = response.status_code
    if status >= 500:
        return [f"{status}: {response.text[:300]}"]
    if status < 400:
        return []
    try:
        body = response.json()
    except ValueError:
        return [f"{status} not JSON: {response.text[:200]}"]
    if (
        not isinstance(body, dict)
        or set(body) != {"success", "error"}
        or body["success"] is not False
    ):
        return [f"{status} outside the envelope: {response.text[:200]}"]
    error = body["error"]
    if not (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
    ):
        return [f"{status} without code or message: {response.text[:200]}"]
    if status == 400 and error["code"] == "VALIDATION_ERROR" and not error.get("details"):
        return [f"400 naming no field: {response.text[:200]}"]
    return []


# ------------------------------------------------------------------------------- REST


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def branches(document: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null forms of a schema (`anyOf` with null: the value's own form)."""
    schema = resolve(document, schema)
    forms = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return [resolve(document, f) for f in forms if f.get("type") != "null"] or [schema]


def valid_value(document: dict[str, Any], schema: dict[str, Any], name: str, seeds: dict) -> Any:
    """A value the schema takes (ids of the seeded user and order, a fresh email)."""
    form = branches(document, schema)[0]
    if "enum" in form:
        return form["enum"][0]
    kind = form.get("type")
    if kind == "object":
        return {
            prop: valid_value(document, sub, prop, seeds)
            for prop, sub in form.get("properties", {}).items()
            if prop in form.get("required", ())
        }
    if kind == "array":
        return [valid_value(document, form["items"], name, seeds)] * max(form.get("minItems", 1), 1)
    if kind == "integer":
        return max(form.get("minimum", 1), 1)
    if kind in ("number", "boolean"):
        return 1 if kind == "number" else True
    if form.get("format") == "email" or name == "email":
        return f"edge-{uuid.uuid4().hex}@example.com"
    if form.get("format") == "uuid" or name.endswith(("id", "Id")):
        return seeds["order"] if name == "order_id" else seeds["user"]
    if form.get("format") == "date" or name.endswith("date"):
        return TODAY
    if name == "price":
        return "1.00"
    return "x" * max(form.get("minLength", 8), 8) if name == "password" else "x"


def leaf_paths(document: dict[str, Any], schema: dict[str, Any], path: tuple = ()) -> list[tuple]:
    """Every field of a body, nested ones too (`items[0].price`), and the arrays themselves."""
    found = [path] if path else []
    for form in branches(document, schema):
        if form.get("type") == "object":
            for prop, sub in form.get("properties", {}).items():
                found += leaf_paths(document, sub, (*path, prop))
        elif form.get("type") == "array":
            found += leaf_paths(document, form["items"], (*path, 0))
    return found


MANY = "<the valid value, 501 times>"  # an array past its maxItems (100 items, 500 ids)


JSON_EDGES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([*DATES, *STRINGS, *UUIDS, *PRICES, "true"]),
    st.sampled_from(INTS),
    st.sampled_from(NUMBERS),
    st.sampled_from([None, True, False, [], {}, [None], MANY]),
)


def set_at(body: Any, path: tuple, value: Any) -> Any:
    """`body` with the field at `path` set to `value` (the objects on the way created)."""
    if not path:
        return body * 501 if value == MANY and isinstance(body, list) else value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(body) if isinstance(body, list) and body else [{}]
        return [set_at(items[0], rest, value), *items[1:]]
    body = dict(body) if isinstance(body, dict) else {}
    body[head] = set_at(body.get(head), rest, value)
    return body


def param_edges(parameter: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """A query or path parameter's own edges, by its type (every text edge if untyped)."""
    own: list[str] = []
    for form in branches(document, parameter["schema"]):
        items = resolve(document, form.get("items", {}))
        own += {"integer": list(map(str, INTS)), "boolean": BOOLEANS}.get(form.get("type", ""), [])
        own += [*form.get("enum", []), *items.get("enum", []), "CREATED", "bogus"]
        if "uuid" in (form.get("format"), items.get("format")) or parameter["name"] == "id":
            own += [*UUIDS, ",".join(UUIDS[:2]), ",".join(UUIDS[:1] * 501), ","]
    if parameter["name"] in ("from", "to"):
        own += DATES
    return [*dict.fromkeys(own or TEXTS), "", LONG, *ESCAPES]


def body_edges(document: dict[str, Any], schema: dict[str, Any], name: str) -> list[Any]:
    """A body field's own edges, by its type (and null, and a value of another type)."""
    own: list[Any] = [None, "x", 1, True]
    for form in branches(document, schema):
        kind = form.get("type", "")
        by_type: dict[str, list[Any]] = {
            "integer": INTS,
            "number": [*NUMBERS, *INTS],
            "boolean": ["true", 1],
        }
        own += by_type.get(kind, [])
        own += [[], MANY] if kind == "array" else []
        own += [*form.get("enum", []), "CREATED", "bogus"] if "enum" in form else []
        if form.get("format") == "uuid":
            own += UUIDS
        elif form.get("format") == "date" or name.endswith("date"):
            own += DATES
        elif kind == "string":
            own += STRINGS
    if name == "price":
        own += [*PRICES, *NUMBERS]
    return own


def encoded(value: str) -> str:
    return value if isinstance(value, Escaped) else quote(value, safe="")


def documents(processes: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {
        name: requests.get(f"{url}/openapi.json", timeout=10).json()
        for name, url in processes.items()
    }


def rest_operations(processes: dict[str, str]) -> list[tuple[str, str, str, dict, dict]]:
    found = []
    for name, document in documents(processes).items():
        for path, methods in document["paths"].items():
            if name == "gateway-v1" and not path.startswith("/v1/"):
                continue  # the rest of it is walked on the gateway with auth off
            for method, operation in methods.items():
                found.append((name, method.upper(), path, operation, document))
    return found


def fuzz_operation(
    base_url: str,
    method: str,
    path: str,
    operation: dict[str, Any],
    document: dict[str, Any],
    seeds: dict[str, str],
    http: requests.Session,
    auth: dict[str, str] | None = None,
) -> list[str]:
    """One operation with every edge of each parameter and body field in turn (the rest of
    the request valid), then EXAMPLES requests with several edges at once; what was wrong."""
    parameters = [p for p in operation.get("parameters", ()) if p["in"] in ("query", "path")]
    content = operation.get("requestBody", {}).get("content", {})
    body_schema = content.get("application/json", {}).get("schema")
    fields = leaf_paths(document, body_schema) if body_schema else []
    edges = {p["name"]: param_edges(p, document) for p in parameters}
    real_id = seeds["order" if "/orders/" in path else "user"]
    path_id = next((p["name"] for p in parameters if p["in"] == "path"), None)
    if method == "DELETE":
        real_id = str(uuid.uuid4())  # the seeds stay
    found: list[str] = []

    def send(query: dict[str, str], id_: str | None, changes: list) -> None:
        url = base_url + path.replace(
            f"{{{path_id}}}", encoded(id_ if id_ is not None else real_id)
        )
        if query:
            url += "?" + "&".join(f"{k}={encoded(v)}" for k, v in query.items())
        sent = None
        if body_schema is not None:
            body = valid_value(document, body_schema, "", seeds)
            for where, value in changes:
                body = set_at(body, where, value)
            sent = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if sent is not None else {}
        headers.update(auth or {})
        response = http.request(
            method, url, data=sent, headers=headers, timeout=30, allow_redirects=False
        )
        found.extend(f"{method} {url[:200]} {sent!r:.200}: {p}" for p in problems_of(response))

    for parameter in parameters:
        name = parameter["name"]
        for value in edges[name]:
            in_path = name == path_id
            send({} if in_path else {name: value}, value if in_path else None, [])
    for where in fields:
        schema = body_schema
        for step in where:  # the field's own schema, for its own edges
            form = branches(document, schema)[0]
            schema = form["items"] if isinstance(step, int) else form["properties"][step]
        for value in body_edges(document, schema, str(where[-1])):
            send({}, None, [(where, value)])

    query = st.fixed_dictionaries(
        {},
        optional={
            p["name"]: st.sampled_from(edges[p["name"]]) for p in parameters if p["in"] == "query"
        },
    )
    ids = st.none()
    if path_id is not None:
        ids = st.sampled_from([*edges[path_id], real_id, seeds["order"], str(uuid.uuid4())])
    changes = st.lists(st.tuples(st.sampled_from(fields), JSON_EDGES), max_size=3)

    @BOUNDED
    @given(query=query, id_=ids, changes=changes if fields else st.just([]))
    def fuzz(query: dict[str, str], id_: str | None, changes: list) -> None:
        send(query, id_, changes)

    fuzz()
    return found


def test_every_rest_route_takes_every_edge_without_a_5xx(
    processes, tokens, http, seeds, no_new_server_errors
):
    operations = rest_operations(processes)
    assert len(operations) >= 30, [op[:3] for op in operations]  # the three documents, read
    assert sum(op[0] == "gateway-v1" for op in operations) == 10  # the /v1 routes, with auth
    found: list[str] = []
    for process, method, path, operation, document in operations:
        base_url = processes[process]
        auth = tokens.get(process)
        found += fuzz_operation(base_url, method, path, operation, document, seeds, http, auth)
    assert not found, "\n".join(found[:15])
    assert_breakers_closed(processes["gateway"])
    assert_breakers_closed(processes["gateway-v1"])


def test_every_report_takes_every_pair_of_date_edges(processes, http, seeds, no_new_server_errors):
    """from/to: each edge alone and every pair of them, both orders, wherever both are taken."""
    found: list[str] = []
    reports = [
        (process, path)
        for process, method, path, operation, _ in rest_operations(processes)
        if method == "GET"
        and {"from", "to"} <= {p["name"] for p in operation.get("parameters", ())}
    ]
    assert len(reports) >= 5, reports  # stats, daily and by-user; the gateway's stats and daily
    for process, path in reports:
        for first, last in itertools.product([None, *DATES], repeat=2):
            query = {
                "from": first,
                "to": last,
                "userIds": seeds["user"] if "by-user" in path else None,
            }
            response = http.get(
                processes[process] + path, params={k: v for k, v in query.items() if v}, timeout=30
            )
            found += [f"{process} {path} {first}..{last}: {p}" for p in problems_of(response)]
    assert not found, "\n".join(found[:15])
    assert_breakers_closed(processes["gateway"])


# ---------------------------------------------------------------------------- GraphQL

TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name } } }"
INTROSPECTION = f"""{{ __schema {{ queryType {{ name }} mutationType {{ name }} types {{
  kind name enumValues {{ name }}
  inputFields {{ name type {{ {TYPE_REF} }} }}
  fields {{ name type {{ {TYPE_REF} }} args {{ name type {{ {TYPE_REF} }} }} }}
}} }} }}"""


# The codes of a fault of the gateway or of a service (a 5xx over REST), never of the input.
SERVER_FAULTS = {"INTERNAL_ERROR", "UPSTREAM_ERROR", "SERVICE_UNAVAILABLE", "UPSTREAM_TIMEOUT"}


class Enum(str):
    """An enum value: written bare in a document."""


def literal(value: Any) -> str:
    """A value written in a GraphQL document."""
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def unwrapped(ref: dict[str, Any]) -> tuple[str, str, bool]:
    """(kind, name, required) of a type reference, lists and non-null taken off."""
    required = ref["kind"] == "NON_NULL"
    while ref.get("ofType"):
        ref = ref["ofType"]
    return ref["kind"], ref["name"], required


def type_text(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return type_text(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return "[" + type_text(ref["ofType"]) + "]"
    return ref["name"]


class Schema:
    def __init__(self, introspected: dict[str, Any], seeds: dict[str, str]) -> None:
        self.types = {t["name"]: t for t in introspected["types"]}
        self.roots = [introspected["queryType"]["name"], introspected["mutationType"]["name"]]
        self.seeds = seeds

    def is_list(self, ref: dict[str, Any]) -> bool:
        while ref["kind"] == "NON_NULL":
            ref = ref["ofType"]
        return ref["kind"] == "LIST"

    def valid(self, ref: dict[str, Any], name: str) -> Any:
        """A value of the type that the gateway takes (the seeds for ids)."""
        kind, type_name, _ = unwrapped(ref)
        if kind == "ENUM":
            one: Any = Enum(self.types[type_name]["enumValues"][0]["name"])
        elif kind == "INPUT_OBJECT":
            one = {
                f["name"]: self.valid(f["type"], f["name"])
                for f in self.types[type_name]["inputFields"]
                if f["type"]["kind"] == "NON_NULL"
            }
        else:
            one = {
                "Int": 1,
                "Float": 1.0,
                "Boolean": True,
                "Date": TODAY,
                "Decimal": "1.00",
                "UUID": self.seeds["order" if name == "orderId" else "user"],
                "ID": self.seeds["user"],
            }.get(type_name, f"edge-{uuid.uuid4().hex}@example.com" if name == "email" else "x")
            if name == "password":
                one = "x" * 12
        return [one] if self.is_list(ref) else one

    def edges(self, ref: dict[str, Any]) -> st.SearchStrategy:
        """A type's edges first, then any other value (a mismatch is a coded error too)."""
        kind, type_name, _ = unwrapped(ref)
        values = TYPE_EDGES.get(type_name, [])
        if kind == "ENUM":
            values = [Enum(v["name"]) for v in self.types[type_name]["enumValues"]] + ["created"]
        anything: list[Any] = [*DATES, *STRINGS, *UUIDS, *INTS, *NUMBERS, None, True, [], {}]
        edge = st.one_of(st.sampled_from(values or anything), st.sampled_from(anything))
        if self.is_list(ref):
            many = [self.valid(ref, "")[0]] * 501
            return st.one_of(edge.map(lambda v: [v]), st.sampled_from([[], many, None]), edge)
        return edge

    def own_edges(self, ref: dict[str, Any], name: str) -> list[Any]:
        """Every edge of an argument's own type; of an input object, every edge of each of
        its fields (nested ones too) in turn, the other fields valid."""
        kind, type_name, _ = unwrapped(ref)
        if kind == "INPUT_OBJECT":
            base = self.valid(ref, name)
            found: list[Any] = [None, {}, "x"]
            for field in self.types[type_name]["inputFields"]:
                for value in self.own_edges(field["type"], field["name"]):
                    obj = {**(base[0] if isinstance(base, list) else base), field["name"]: value}
                    found.append([obj] if isinstance(base, list) else obj)
            return found
        values = TYPE_EDGES.get(type_name, [])
        if kind == "ENUM":
            values = [Enum(v["name"]) for v in self.types[type_name]["enumValues"]] + ["created"]
        values = [*values, None, "x", 1]
        if self.is_list(ref):
            many = [self.valid(ref, name)[0]] * 501
            return [[], many, *([v] for v in values), *values]
        return values

    def input_changes(self, ref: dict[str, Any], name: str) -> st.SearchStrategy:
        """A valid input object with one field (nested ones too) at an edge."""
        kind, type_name, _ = unwrapped(ref)
        if kind != "INPUT_OBJECT":
            return self.edges(ref)
        fields = self.types[type_name]["inputFields"]

        def changed(field: dict[str, Any]) -> st.SearchStrategy:
            def into(value: Any) -> Any:
                base = self.valid(ref, name)
                obj = base[0] if isinstance(base, list) else base
                obj = {**obj, field["name"]: value}
                return [obj] if isinstance(base, list) else obj

            return self.input_changes(field["type"], field["name"]).map(into)

        return st.one_of([changed(f) for f in fields] + [self.edges(ref)])

    def selection(self, type_name: str, depth: int = 0) -> str:
        """The scalar fields without arguments (and one level of objects below)."""
        found = ["__typename"]
        for field in self.types[type_name].get("fields") or ():
            if any(a["type"]["kind"] == "NON_NULL" for a in field["args"]):
                continue
            kind, name, _ = unwrapped(field["type"])
            if kind in ("SCALAR", "ENUM"):
                found.append(field["name"])
            elif kind == "OBJECT" and depth == 0 and not field["args"]:
                found.append(f"{field['name']} {{ {self.selection(name, 1)} }}")
        return " ".join(found)

    def routes(self) -> dict[str, tuple[str, str]]:
        """Each object type reachable from a root: (operation, the path to it as a document
        with `{}` where the type's selection goes), by fields that need no argument."""
        found: dict[str, tuple[str, str]] = {}
        pending = [
            (root, "query" if i == 0 else "mutation", "{}") for i, root in enumerate(self.roots)
        ]
        while pending:
            type_name, operation, path = pending.pop(0)
            if type_name in found:
                continue
            found[type_name] = (operation, path)
            if operation == "mutation":
                continue  # the mutations' results are reached from the query type too
            for field in self.types[type_name].get("fields") or ():
                kind, name, _ = unwrapped(field["type"])
                if kind == "OBJECT" and not any(
                    a["type"]["kind"] == "NON_NULL" for a in field["args"]
                ):
                    pending.append(
                        (name, operation, path.replace("{}", f"{field['name']} {{ {{}} }}"))
                    )
        return found

    def arguments(self) -> dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]]:
        """`Type.field(argument)` -> (operation, path, field, argument): every argument of
        every type reachable from a root."""
        found = {}
        for type_name, (operation, path) in self.routes().items():
            for field in self.types[type_name].get("fields") or ():
                for argument in field["args"]:
                    label = f"{type_name}.{field['name']}({argument['name']})"
                    found[label] = (operation, path, field, argument)
        return found


@pytest.fixture(scope="module")
def schema(processes: dict[str, str], seeds: dict[str, str]) -> Schema:
    response = requests.post(
        f"{processes['gateway']}/graphql", json={"query": INTROSPECTION}, timeout=10
    )
    return Schema(response.json()["data"]["__schema"], seeds)


def graphql_problems(response: requests.Response) -> list[str]:
    """No 5xx; JSON whose every error has a code; a 4xx in the GraphQL shape or the envelope."""
    if response.status_code >= 500:
        return [f"{response.status_code}: {response.text[:300]}"]
    try:
        body = response.json()
    except ValueError:
        return [f"{response.status_code} not JSON: {response.text[:200]}"]
    if "errors" not in body and "data" not in body:
        return problems_of(response)
    found = []
    for error in body.get("errors") or ():
        code = (error.get("extensions") or {}).get("code")
        if not isinstance(code, str):
            found.append(f"no extensions.code: {error}")
        elif code in SERVER_FAULTS:  # what REST would have answered with a 5xx
            found.append(f"{code}: {error}")
    return found


def fuzz_argument(url: str, schema: Schema, target: tuple, http: requests.Session) -> list[str]:
    """One argument of one field at each of its edges in turn, as a literal and as a
    variable, alone and with the field's other arguments valid; then EXAMPLES more."""
    operation, path, field, argument = target
    others = [a for a in field["args"] if a is not argument]
    _, result_type, _ = unwrapped(field["type"])
    kind = schema.types[result_type]["kind"]
    selection = f"{{ {schema.selection(result_type)} }}" if kind == "OBJECT" else ""
    found: list[str] = []

    def send(value: Any, as_variable: bool, with_others: bool) -> None:
        written = {
            a["name"]: literal(schema.valid(a["type"], a["name"]))
            for a in others
            if with_others or a["type"]["kind"] == "NON_NULL"
        }
        variables: dict[str, Any] = {}
        declared = ""
        if as_variable:
            written[argument["name"]] = "$v"
            variables = {"v": value}
            declared = f"($v: {type_text(argument['type'])})"
        else:
            written[argument["name"]] = literal(value)
        args = ", ".join(f"{k}: {v}" for k, v in written.items())
        inner = f"{field['name']}({args}) {selection}"
        document = f"{operation} Edge{declared} {{ {path.replace('{}', inner)} }}"
        response = http.post(
            f"{url}/graphql", json={"query": document, "variables": variables}, timeout=30
        )
        found.extend(
            f"{document[:300]} {variables!r:.200}: {p}" for p in graphql_problems(response)
        )

    for value in schema.own_edges(argument["type"], argument["name"]):
        for as_variable, with_others in itertools.product((False, True), repeat=2):
            send(value, as_variable, with_others)

    @BOUNDED
    @given(
        value=schema.input_changes(argument["type"], argument["name"]),
        as_variable=st.booleans(),
        with_others=st.booleans(),
    )
    def fuzz(value: Any, as_variable: bool, with_others: bool) -> None:
        send(value, as_variable, with_others)

    fuzz()
    return found


def test_every_graphql_argument_takes_every_edge_without_a_5xx(
    processes, http, schema, no_new_server_errors
):
    targets = schema.arguments()
    # The walk reaches the fields of the root types and those below them.
    expected = ["Query.ordersByDay(to)", "User.orderStats(from)", "Mutation.createOrder(input)"]
    assert set(expected) <= set(targets), sorted(targets)
    found: list[str] = []
    for label, target in targets.items():
        found += [
            f"{label}: {p}" for p in fuzz_argument(processes["gateway"], schema, target, http)
        ]
    assert not found, "\n".join(found[:15])
    assert_breakers_closed(processes["gateway"])


def test_an_expected_version_no_header_can_carry_is_a_validation_error(processes, seeds):
    """Found by the walk above: `expectedVersion` becomes an If-Match header downstream."""
    document = (
        f'mutation {{ updateUser(id: "{seeds["user"]}", input: {{}}, expectedVersion: "\U0001f600")'
        " { id } }"
    )
    body = requests.post(f"{processes['gateway']}/graphql", json={"query": document}, timeout=10)
    (error,) = body.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION_ERROR", error
    assert_breakers_closed(processes["gateway"])
