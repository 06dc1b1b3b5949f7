"""The /v1 routes' rules on real processes (auth on): what a broken or malicious client
sends is a 4xx in our envelope and changes nothing; the roles table, the lifecycle,
Idempotency-Key and the per-user limits hold as on our own routes; switched off, or with
authentication off, the routes do not exist."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from graphql_gateway.config import Settings
from tests.auth.conftest import PASSWORD, SECRET, another_gateway, create_account
from tests.conftest import gateway_for
from tests.support.envelope import data_of, error_of
from tests.support.procs import RunningProcess
from tests.support.redis import redis_server

Services = tuple[RunningProcess, RunningProcess]
ITEM = {"product": "Цемент М500", "quantity": 3, "price": "12.40"}
LIMITLESS = "1000000/minute"


class Caller:
    def __init__(self, url: str, users_url: str, role: str) -> None:
        self.account = create_account(users_url, role, PASSWORD)
        login = {"email": self.account["email"], "password": PASSWORD}
        token = data_of(httpx.post(f"{url}/v1/users/login", json=login, timeout=10))["token"]
        self.id = self.account["id"]
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def __enter__(self) -> Caller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def create(self, **headers: str) -> httpx.Response:
        return self.http.post("/v1/orders", json={"items": [ITEM]}, headers=headers)


@pytest.fixture(scope="module")
def gateway(auth_services: Services, logs_dir: Path) -> Iterator[RunningProcess]:
    """Limits out of the way (they have their own gateway below)."""
    env = {"GATEWAY_V1_RATE_LIMIT": LIMITLESS, "GATEWAY_V1_CREATE_RATE_LIMIT": LIMITLESS}
    with another_gateway(auth_services, logs_dir, "v1-rules", **env) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def callers(gateway: RunningProcess, auth_services: Services) -> Iterator[dict[str, Caller]]:
    roles = ("admin", "engineer", "director", "customer", "user")
    with ExitStack() as stack:
        yield {
            role: stack.enter_context(Caller(gateway.url, auth_services[0].url, role))
            for role in roles
        }


def login_status(url: str, email: str, password: str) -> int:
    body = {"email": email, "password": password}
    return httpx.post(f"{url}/v1/users/login", json=body, timeout=10).status_code


# ------------------------------------------------------------------ registration


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"roles": ["admin"]}, "roles"),  # nobody registers themselves an administrator
        ({"role": "admin"}, "role"),
        ({"password": "seven77"}, "password"),  # ours needs 8, though that version took 6
        ({"password": "x" * 129}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"name": "A"}, "name"),
        ({"name": "  A  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Nul\x00Name"}, "name"),
        ({"name": 12}, "name"),
        ({"password": None}, "password"),
    ],
)
def test_a_bad_registration_is_400_and_registers_nobody(gateway, change, field):
    email = f"reg-{uuid.uuid4().hex[:8]}@client.example"
    body = {"email": email, "password": "long enough 1", "name": "Новый клиент", **change}
    response = httpx.post(f"{gateway.url}/v1/users/register", json=body, timeout=10)
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert field in {detail["field"] for detail in error["details"]}, error
    # Nobody to log in as: 401, or 400 where the email is no address a login takes at all.
    assert login_status(gateway.url, body["email"], body["password"] or "x") in {400, 401}


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"[]", "application/json", 400, "BAD_REQUEST"),
        (b"{", "application/json", 400, "BAD_REQUEST"),
        (b'{"email": "\xff"}', "application/json", 400, "BAD_REQUEST"),
        (b"email=a@b.example", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"{}", "application/json; charset=latin-1", 400, "BAD_REQUEST"),
    ],
)
def test_a_registration_that_is_no_json_object_is_refused(
    gateway, content, content_type, status, code
):
    response = httpx.post(
        f"{gateway.url}/v1/users/register",
        content=content,
        headers={"Content-Type": content_type},
        timeout=10,
    )
    error_of(response, status, code)


@pytest.mark.slow
def test_a_registered_account_is_a_user_who_places_its_own_orders_only(gateway, callers):
    email = f"self-{uuid.uuid4().hex[:8]}@client.example"
    body = {"email": email, "password": "long enough 1", "name": "Самозапись"}
    user = data_of(httpx.post(f"{gateway.url}/v1/users/register", json=body, timeout=10), 201)
    assert user["roles"] == ["user"]
    login = {"email": email.upper(), "password": "long enough 1"}
    token = data_of(httpx.post(f"{gateway.url}/v1/users/login", json=login, timeout=10))["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway.url, headers=headers) as http:
        check_a_registered_user(http, user, callers)


def check_a_registered_user(http: httpx.Client, user: dict, callers: dict[str, Caller]) -> None:
    own = data_of(http.post("/v1/orders", json={"items": [ITEM]}), 201)
    assert own["user_id"] == user["id"]
    # Someone else's order is out of sight; our own routes follow the same table.
    other = data_of(callers["admin"].create(), 201)
    error_of(http.get(f"/v1/orders/{other['id']}"), 404, "NOT_FOUND")
    assert data_of(http.get("/v1/orders")) == [own]
    theirs = {"user_id": callers["admin"].id, "items": [ITEM]}
    error_of(http.post("/orders", json=theirs), 403, "FORBIDDEN")
    error_of(
        http.put(f"/v1/orders/{own['id']}/status", json={"status": "cancelled"}), 403, "FORBIDDEN"
    )


# ------------------------------------------------------------------ orders


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{**ITEM, "price": "0"}]}, "items.0.price"),  # that version: >= 0.01
        ({"items": [{**ITEM, "price": 0.001}]}, "items.0.price"),
        ({"items": [{**ITEM, "price": "-1"}]}, "items.0.price"),
        ({"items": [{**ITEM, "price": "1e2"}]}, "items.0.price"),
        ({"items": [{**ITEM, "price": "99999999.99", "quantity": 2}]}, "items"),
        ({"items": [{**ITEM, "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{**ITEM, "quantity": 2**63}]}, "items.0.quantity"),
        ({"items": [{**ITEM, "quantity": "3"}]}, "items.0.quantity"),
        ({"items": [{**ITEM, "product": ""}]}, "items.0.product"),
        ({"items": []}, "items"),
        ({"items": [ITEM] * 101}, "items"),
        ({}, "items"),
        ({"items": [ITEM], "user_id": str(uuid.uuid4())}, "user_id"),  # always the caller's
        ({"items": [ITEM], "status": "completed"}, "status"),
    ],
)
def test_a_bad_order_is_400_and_creates_nothing(callers, body, field):
    user = callers["user"]
    before = data_of(user.http.get("/v1/orders/my-stats"))["count"]
    error = error_of(user.http.post("/v1/orders", json=body), 400, "VALIDATION_ERROR")
    assert field in {detail["field"] for detail in error["details"]}, error
    assert data_of(user.http.get("/v1/orders/my-stats"))["count"] == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=1000000000000000000000000000000", "page"),
        ("page=1.5", "page"),
        ("page=1000000001&per_page=1000", "page"),  # past our offsets' bound
        ("per_page=0", "per_page"),
        ("per_page=1001", "per_page"),
        ("status=in_progress", "status"),  # that version's word is `processing`
        ("status=PROCESSING", "status"),
        ("min_amount=-0.01", "min_amount"),
        ("min_amount=NaN", "min_amount"),
        ("min_amount=Infinity", "min_amount"),
        ("max_amount=1e400", "max_amount"),
        ("max_amount=100000000", "max_amount"),
        ("min_amount=0.001", "min_amount"),
        ("min_amount=abc", "min_amount"),
        ("min_amount=%FF", "min_amount"),
        ("min_amount=10&max_amount=9.99", "min_amount"),
        ("page=1&page=2", "page"),
        ("offset=10", "offset"),  # our parameter, not that version's
        ("minAmount=1", "minAmount"),
    ],
)
def test_a_bad_list_query_is_400(callers, query, field):
    response = callers["admin"].http.get(f"/v1/orders?{query}")
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert field in {detail["field"] for detail in error["details"]}, error


def test_pages_and_amounts_at_their_edges(callers):
    user = callers["user"]  # reads only their own orders
    made = [data_of(user.create(), 201) for _ in range(3)]  # 37.20 each
    total = data_of(user.http.get("/v1/orders/my-stats"))["count"]
    last = user.http.get("/v1/orders", params={"per_page": 1000}).json()
    assert last["meta"]["total"] == total
    assert [o["id"] for o in last["data"][-3:]] == [o["id"] for o in made]
    beyond = user.http.get("/v1/orders", params={"page": 1_000_000, "per_page": 1000}).json()
    assert beyond["data"] == []
    assert beyond["meta"]["total_pages"] == 1
    at = {"37.20": [o["id"] for o in last["data"] if o["total_amount"] == "37.20"]}
    exact = {"min_amount": "37.20", "max_amount": "37.2", "per_page": 1000}
    assert [o["id"] for o in data_of(user.http.get("/v1/orders", params=exact))] == at["37.20"]
    above = {"min_amount": "37.21", "max_amount": "99999999.99", "per_page": 1000}
    dearer = [o["id"] for o in last["data"] if Decimal(o["total_amount"]) > Decimal("37.20")]
    assert [o["id"] for o in data_of(user.http.get("/v1/orders", params=above))] == dearer


def test_v1_keeps_an_integer_total_under_an_amount_filter(callers):
    """Our own list counts an amount range only when asked (docs/totals.md); /v1 always
    gave `total` and `total_pages`, so it asks."""
    admin = callers["admin"]  # reads every order: no owner bounds the count
    data_of(admin.create(), 201)
    params = {"min_amount": "37.20", "per_page": 1}
    meta = admin.http.get("/v1/orders", params=params).json()["meta"]
    every = data_of(admin.http.get("/v1/orders", params={**params, "per_page": 1000}))
    assert meta["total"] == len(every) >= 1
    assert meta["total_pages"] == meta["total"]
    ours = admin.http.get("/orders", params={"minAmount": "37.20", "limit": 1}).json()["meta"]
    assert ours["total"] is None
    # A caller who sees only their own orders: bounded by their id, always counted; `total`
    # is forwarded with the rest, and a bad one refused.
    user = callers["user"]
    for asked in ({}, {"total": "true"}, {"total": "false"}):
        meta = user.http.get("/orders", params={"minAmount": "0", **asked}).json()["meta"]
        assert meta["total"] == data_of(user.http.get("/v1/orders/my-stats"))["count"]
    error_of(user.http.get("/orders?total=maybe"), 400, "VALIDATION_ERROR")
    assert user.http.get("/users", params={"total": "true"}).json()["meta"]["total"] == 1


def test_an_order_id_that_is_no_uuid_is_400(callers):
    for bad in ("1", "00000000-0000-0000-0000-00000000000", "%00", "x" * 1000):
        error_of(callers["user"].http.get(f"/v1/orders/{bad}"), 400, "VALIDATION_ERROR")
    error_of(callers["user"].http.get(f"/v1/orders/{uuid.uuid4()}"), 404, "NOT_FOUND")


def test_status_changes_follow_the_roles_table_and_the_lifecycle(callers):
    engineer, admin = callers["engineer"], callers["admin"]
    own = data_of(engineer.create(), 201)
    theirs = data_of(admin.create(), 201)
    path = f"/v1/orders/{own['id']}/status"
    for word in ("in_progress", "PROCESSING", "", None, 1):
        error_of(engineer.http.put(path, json={"status": word}), 400, "VALIDATION_ERROR")
    error_of(
        engineer.http.put(path, json={"status": "processing", "x": 1}), 400, "VALIDATION_ERROR"
    )
    assert data_of(engineer.http.put(path, json={"status": "processing"}))["status"] == "processing"
    assert data_of(engineer.http.put(path, json={"status": "completed"}))["status"] == "completed"
    error_of(
        engineer.http.put(path, json={"status": "processing"}), 409, "INVALID_STATUS_TRANSITION"
    )
    # Our own route serves the same order with our word.
    assert data_of(admin.http.get(f"/orders/{own['id']}"))["status"] == "completed"
    other = f"/v1/orders/{theirs['id']}/status"
    error_of(engineer.http.put(other, json={"status": "cancelled"}), 403, "FORBIDDEN")
    for role in ("director", "customer", "user"):
        error_of(callers[role].http.put(other, json={"status": "cancelled"}), 403, "FORBIDDEN")
    assert data_of(admin.http.get(f"/v1/orders/{theirs['id']}"))["status"] == "created"
    error_of(
        admin.http.put(f"/v1/orders/{uuid.uuid4()}/status", json={"status": "cancelled"}),
        404,
        "NOT_FOUND",
    )


def test_who_may_create_read_and_report(callers):
    data_of(callers["admin"].create(), 201)  # one order at least, whatever ran before
    for role in ("director", "customer"):
        error_of(callers[role].create(), 403, "FORBIDDEN")
    for role in ("customer", "user"):  # the others read every user and every order
        error_of(callers[role].http.get("/v1/users"), 403, "FORBIDDEN")
        error_of(callers[role].http.get("/v1/orders/stats"), 403, "FORBIDDEN")
    for role in ("director", "customer"):
        mine = data_of(callers[role].http.get("/v1/orders/my-stats"))
        assert mine["count"] == 0
        assert {s["status"] for s in mine["by_status"]} == {
            "created",
            "processing",
            "completed",
            "cancelled",
        }
    # A director reads every user, every order and their figures (the roles table).
    assert len(data_of(callers["director"].http.get("/v1/users"))) >= 5
    assert data_of(callers["director"].http.get("/v1/orders"))
    assert data_of(callers["director"].http.get("/v1/orders/stats"))["count"] >= 1
    stats = data_of(callers["engineer"].http.get("/v1/orders/stats"))
    assert stats["count"] >= 1


def test_an_idempotency_key_creates_once_and_is_the_callers_own(callers):
    user, engineer = callers["user"], callers["engineer"]
    key = f"v1-{uuid.uuid4()}"
    first = user.create(**{"Idempotency-Key": key})
    again = user.create(**{"Idempotency-Key": key})
    assert data_of(first, 201) == data_of(again, 201)
    assert again.headers["idempotent-replayed"] == "true"
    reused = user.http.post(
        "/v1/orders", json={"items": [{**ITEM, "quantity": 4}]}, headers={"Idempotency-Key": key}
    )
    error_of(reused, 422, "IDEMPOTENCY_KEY_REUSED")
    # Another caller's same key is theirs: a new order of their own.
    theirs = data_of(engineer.create(**{"Idempotency-Key": key}), 201)
    assert theirs["id"] != data_of(first, 201)["id"]
    assert theirs["user_id"] == engineer.id


def test_a_deleted_callers_token_gets_no_profile(gateway, auth_services, callers):
    with Caller(gateway.url, auth_services[0].url, "user") as gone:
        data_of(callers["admin"].http.delete(f"/users/{gone.id}"))
        error_of(gone.http.get("/v1/users/profile"), 401, "UNAUTHENTICATED")
        error_of(gone.create(), 401, "UNAUTHENTICATED")  # the deletion ended the session


# ------------------------------------------------------------------ limits


@pytest.mark.slow
def test_twenty_creates_and_a_hundred_requests_a_minute_per_user(auth_services, logs_dir):
    users_url = auth_services[0].url
    with (
        another_gateway(auth_services, logs_dir, "v1-limits") as gateway,
        Caller(gateway.url, users_url, "engineer") as user,
        Caller(gateway.url, users_url, "engineer") as bystander,
    ):
        created = [user.create().status_code for _ in range(21)]
        assert created == [201] * 20 + [429]
        refused = user.create()
        error_of(refused, 429, "RATE_LIMITED")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        data_of(bystander.create(), 201)  # per user
        # 22 requests counted so far against the 100 of every /v1 route.
        reads = [user.http.get("/v1/users/profile").status_code for _ in range(79)]
        assert reads == [200] * 78 + [429]
        error_of(user.http.get("/v1/orders"), 429, "RATE_LIMITED")
        data_of(user.http.get("/auth/me"))  # our own routes have their own limits
        data_of(bystander.http.get("/v1/users/profile"))


# ------------------------------------------------------------------ switched off


def test_v1_on_with_authentication_off_is_refused():
    with pytest.raises(ValidationError, match="GATEWAY_V1_API=on needs GATEWAY_AUTH=on"):
        Settings(v1_api="on")
    assert not Settings().v1_enabled
    assert Settings(auth="on", jwt_secret=SECRET).v1_enabled


@pytest.mark.parametrize(
    ("settings", "routes", "absent"),
    [
        ({}, set(), {"/v1/users/register", "/v1/users/login", "/v1/orders"}),
        ({"auth": "on", "v1_api": "off"}, set(), {"/v1/users/register", "/v1/users/login"}),
        (
            {"auth": "on", "v1_registration": "off"},
            {"/v1/users/login", "/v1/orders"},
            {"/v1/users/register"},
        ),
    ],
)
async def test_switched_off_the_routes_do_not_exist(settings, routes, absent):
    if settings.get("auth") == "on":
        settings = {**settings, "jwt_secret": SECRET}
    closed = "http://127.0.0.1:9"  # no service is called
    async with gateway_for(closed, closed, **settings) as (client, app):
        paths = set(app.openapi()["paths"])
        assert routes <= paths
        assert not absent & paths
        for path in absent:
            body = {"email": "a@b.example", "password": "long enough 1", "name": "Nobody"}
            response = await client.post(path, json=body)
            assert response.status_code == 404, response.text
            assert response.json()["success"] is False
        # /health reads `status` at the top level whatever is switched.
        health = (await client.get("/health")).json()
        assert health["status"] == health["data"]["status"] == "DEGRADED"


def test_our_own_order_list_takes_the_amounts_too(callers):
    user, admin = callers["user"], callers["admin"]
    dear = {"items": [{**ITEM, "price": "5000.00"}]}
    own = data_of(user.http.post("/v1/orders", json=dear), 201)
    theirs = data_of(admin.http.post("/v1/orders", json=dear), 201)
    between = {"minAmount": "15000.00", "maxAmount": "15000"}  # 3 × 5000.00
    assert [o["id"] for o in data_of(user.http.get("/orders", params=between))] == [own["id"]]
    everyone = [o["id"] for o in data_of(admin.http.get("/orders", params=between))]
    assert {own["id"], theirs["id"]} <= set(everyone)
    error = error_of(admin.http.get("/orders?minAmount=2&maxAmount=1"), 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "minAmount"
    error_of(user.http.get("/orders?maxAmount=NaN"), 400, "VALIDATION_ERROR")


@pytest.mark.slow
def test_replicas_share_the_v1_limits_on_redis(auth_services, logs_dir):
    users_url = auth_services[0].url
    with redis_server() as redis_url:
        shared = {
            "GATEWAY_V1_RATE_LIMIT": "6/minute",
            "GATEWAY_V1_CREATE_RATE_LIMIT": "2/minute",
            "GATEWAY_REDIS_URL": redis_url,
            "GATEWAY_REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        }
        with (
            another_gateway(auth_services, logs_dir, "v1-replica-a", **shared) as a,
            another_gateway(auth_services, logs_dir, "v1-replica-b", **shared) as b,
            Caller(a.url, users_url, "engineer") as on_a,
            httpx.Client(base_url=b.url, headers=on_a.http.headers, timeout=10) as on_b,
        ):
            body = {"items": [ITEM]}
            created = [on_a.create(), on_b.post("/v1/orders", json=body), on_a.create()]
            assert [r.status_code for r in created] == [201, 201, 429]
            # Three requests counted of every route's six, by both replicas together.
            reads = [(on_a.http, on_b)[i % 2].get("/v1/users/profile") for i in range(4)]
            assert [r.status_code for r in reads] == [200, 200, 200, 429]
