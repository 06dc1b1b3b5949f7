"""The growth benchmark's own parts (bench/growth.py, bench/growth_data.py): its sizes, its
table, and data seeded in SQL that the real services read as their own, with reports the
plain SQL of the benchmark's exactness check agrees with. Timings are never asserted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from sqlalchemy.engine import make_url

from apicore.contract.orders import OrderItemCreate
from apicore.contract.users import canonical_email
from apicore.db import libpq_url
from bench import growth
from bench.growth_data import (
    SECONDARY_INDEXES,
    Size,
    plain_count,
    plain_daily,
    plain_page,
    plain_stats,
    seed,
    user_id,
)
from bench.processes import ROOT
from service_orders.init_db import main as init_orders_db
from service_users.init_db import main as init_users_db
from service_users.models import ROLES
from tests.support.pg import migrated_database
from tests.support.procs import RunningProcess, running

SIZE = Size(60, 4)


@pytest.mark.parametrize(
    ("text", "users", "per_user"),
    [("5000x5", 5000, 5), ("100000×10", 100000, 10), ("1X1", 1, 1), ("007x02", 7, 2)],
)
def test_a_size_is_users_by_orders(text: str, users: int, per_user: int) -> None:
    size = Size.parse(text)
    assert (size.users, size.per_user, size.orders) == (users, per_user, users * per_user)


@pytest.mark.parametrize(
    "text",
    ["", "x", "5000", "5000x", "x5", "0x5", "5x0", "-5x5", "5x-5", "5.5x5", "5x5x5", "ab×cd",
     "5\x00x5", "５x5", "1e3x5", " x ", "5 x 5 x", "5 x 5", "0x0", "99999999999x1",
     "1000x100001", "1" * 5000 + "x1", "5x5\n5"],
)  # fmt: skip
def test_a_bad_size_is_refused_with_its_text(text: str) -> None:
    with pytest.raises(ValueError, match=r"USERSxORDERS|at least 1|at most"):
        Size.parse(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["--small", "0x5"],
        ["--large", "many"],
        ["--requests", "0"],
        ["--requests", "-3"],
        ["--requests", "9" * 40 + ".5"],
        ["--small", "5x5", "--unknown"],
    ],
)
def test_bad_arguments_stop_before_anything_starts(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        growth.main(argv)
    assert stopped.value.code == 2
    assert "python -m bench.growth" in capsys.readouterr().err


@pytest.mark.parametrize(("total", "offset"), [(0, 0), (1, 0), (2, 1), (150, 149), (10**6, 990000)])
def test_the_last_percent_starts_a_page_inside_the_rows(total: int, offset: int) -> None:
    assert growth._last_percent(total) == offset


def test_the_table_gives_growth_and_says_what_is_not_available() -> None:
    def site(users: int) -> growth.Site:
        return growth.Site(Size(users, 5), "", "", "", httpx.Client(), 0.0)

    sites = [site(5000), site(100000)]
    measured = growth.Probe("first page", growth.GATEWAY_REST, growth._rest("/orders"))
    missing = growth.Probe("cursor", growth.GATEWAY_REST, growth._rest("/orders"), optional=True)
    text = growth.table(
        [growth.Row(measured, [7.5, 74.9]), growth.Row(missing, [None, None], "n/a: no next")],
        sites,
    )
    assert "| request | via | 25,000 orders | 500,000 orders | growth |" in text
    assert "| first page | gateway REST | 7.5 ms | 74.9 ms | 10.0× |" in text
    assert "| cursor | gateway REST | n/a | n/a | n/a |" in text
    assert "- cursor: n/a: no next" in text


@pytest.fixture(scope="module")
def seeded(pg_server: str) -> Iterator[tuple[str, str, float]]:
    """Fresh users and orders databases with SIZE seeded in SQL, and the seconds it took."""
    with (
        migrated_database(pg_server, "growth_users", init_users_db) as users_db,
        migrated_database(pg_server, "growth_orders", init_orders_db) as orders_db,
    ):
        seconds, steps = seed(users_db, orders_db, SIZE)
        assert set(steps) == {"users", "orders insert", "orders indexes", "VACUUM ANALYZE"}
        yield users_db, orders_db, seconds


@pytest.fixture(scope="module")
def seeded_orders(seeded: tuple[str, str, float], tmp_path_factory) -> Iterator[RunningProcess]:
    """The real orders service on the seeded orders."""
    log = str(Path(tmp_path_factory.mktemp("growth")) / "orders.log")
    env = {"ORDERS_DATABASE_URL": seeded[1], "ORDERS_DB_POOL_SIZE": "2"}
    with running("service_orders", "ORDERS_", env, log_path=log) as proc:
        yield proc


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        return conn.execute(query).fetchall()


def test_users_are_seeded_as_the_users_service_stores_them(seeded) -> None:
    users_db = seeded[0]
    rows = _rows(users_db, "SELECT id, email, name, roles, created_at FROM users ORDER BY id")
    assert [str(row[0]) for row in rows] == [user_id(n) for n in range(1, SIZE.users + 1)]
    for _, email, name, roles, created in rows:
        assert canonical_email(email) == email
        assert 1 <= len(name) <= 200
        assert roles
        assert set(roles) <= set(ROLES)
        assert created <= datetime.now(UTC)
    assert len({row[1] for row in rows}) == SIZE.users


def test_orders_are_seeded_as_the_orders_service_writes_them(seeded) -> None:
    orders_db = seeded[1]
    query = (
        "SELECT user_id, items::text, total_amount, status, due_date, created_at, updated_at,"
        " completed_at, assignee_id FROM orders"
    )
    rows = _rows(orders_db, query)
    assert len(rows) == SIZE.orders
    owners: dict[str, int] = {}
    for owner, items, total, status, due, created, updated, completed, assignee in rows:
        owners[str(owner)] = owners.get(str(owner), 0) + 1
        parsed = json.loads(items)
        assert 1 <= len(parsed) <= 3
        # Exactly what POST /orders would have stored, compact as the service writes it.
        assert [OrderItemCreate.model_validate(item).stored() for item in parsed] == parsed
        assert items == json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))
        assert total == sum(item["quantity"] * Decimal(item["price"]) for item in parsed)
        now = datetime.now(UTC)
        assert now - timedelta(days=401) < created <= now
        assert created <= updated <= now
        assert (completed is not None) == (status == "completed")
        assert completed is None or created <= completed <= now
        assert due is None or due > created.date()
        assert assignee is None or str(assignee) in {user_id(n) for n in range(1, 501)}
    assert owners == {user_id(n): SIZE.per_user for n in range(1, SIZE.users + 1)}


def test_the_seed_has_every_kind_of_order_the_reports_count(seeded) -> None:
    stats = plain_stats(seeded[1])
    assert set(stats["by_status"]) == {"created", "in_progress", "completed", "cancelled"}
    assert stats["overdue"] > 0
    assert stats["on_time"] > 0
    assert stats["late"] > 0
    without = _rows(seeded[1], "SELECT count(*) FROM orders WHERE due_date IS NULL")[0][0]
    assert 0 < without < SIZE.orders // 4  # about 10 %


def test_the_orders_indexes_are_rebuilt_as_the_migrations_made_them(seeded, pg_server: str) -> None:
    with migrated_database(pg_server, "growth_fresh", init_orders_db) as fresh:
        assert _rows(seeded[1], SECONDARY_INDEXES) == _rows(fresh, SECONDARY_INDEXES)
    valid = _rows(
        seeded[1],
        "SELECT bool_and(indisvalid) FROM pg_index WHERE indrelid = 'orders'::regclass",
    )
    assert valid == [(True,)]


def test_the_plain_sql_figures_equal_the_services_reports(seeded, seeded_orders) -> None:
    orders_db = seeded[1]
    today = datetime.now(UTC).date()
    first = today - timedelta(days=200)
    owner = user_id(7)
    with httpx.Client(base_url=seeded_orders.url, timeout=30) as client:
        for params, expected in (
            ({}, plain_stats(orders_db)),
            ({"from": first.isoformat()}, plain_stats(orders_db, first=first)),
            ({"userId": owner}, plain_stats(orders_db, owner=owner)),
        ):
            response = client.get("/orders/stats", params=params)
            assert response.status_code == 200, response.text
            assert growth._stats_figures(response.json()["data"]) == expected
        year = {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()}
        daily = client.get("/orders/stats/daily", params=year).json()["data"]
        assert daily == plain_daily(orders_db, today - timedelta(days=365), today)
        assert sum(day["created"] for day in daily) > 0
        listed = client.get("/orders", params={"limit": "1"}).json()["meta"]["total"]
        assert listed in (None, plain_count(orders_db))


def _gateway(answer) -> growth.Site:
    """A Site whose gateway answers with `answer(request) -> (status, body)`."""

    def handle(request: httpx.Request) -> httpx.Response:
        status, body = answer(request)
        return httpx.Response(status, json=body)

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://gateway")
    return growth.Site(Size(5000, 5), "", "", "http://gateway", client, 0.0)


CONNECTION_CALL = growth.Call("POST", "/graphql", body={"query": growth.CONNECTION})
AFTER_CALL = growth.Call("GET", "/orders", {"after": "abc"})


def _validation(field: str) -> dict:
    details = [{"field": field, "message": "Unknown query parameter"}]
    return {
        "success": False,
        "error": {"code": "VALIDATION_ERROR", "message": "x", "details": details},
    }


@pytest.mark.parametrize(
    "message",
    ["Cannot query field 'ordersConnection' on type 'Query'.", "Unknown argument 'after'."],
)
def test_a_field_the_schema_lacks_is_not_available_only_where_optional(message: str) -> None:
    site = _gateway(lambda _: (200, {"data": None, "errors": [{"message": message}]}))
    with pytest.raises(growth.NotAvailable, match=message[:10]):
        site.send(CONNECTION_CALL, optional=True)
    with pytest.raises(growth.RequestFailed):
        site.send(CONNECTION_CALL)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"data": None, "errors": [{"message": "Invalid cursor"}]}),
        (200, {"data": None, "errors": [{"message": ""}]}),
        (200, {"data": None, "errors": [{"extensions": {"code": "INTERNAL"}}]}),
        (200, {"data": {"x": 1}, "errors": ["Cannot query field"]}),
        (200, {"data": {"x": 1}, "errors": "Cannot query field"}),
        (200, {"data": None}),
        (200, None),
        (200, ["Cannot query field"]),
        (500, {"data": {"x": 1}}),
        (400, {"errors": [{"message": "Syntax Error: Unexpected Name"}]}),
    ],
)
def test_any_other_graphql_error_fails_even_where_optional(status: int, body: object) -> None:
    site = _gateway(lambda _: (status, body))
    with pytest.raises(growth.RequestFailed):
        site.send(CONNECTION_CALL, optional=True)


def test_a_rest_parameter_the_code_lacks_is_not_available_only_where_optional() -> None:
    site = _gateway(lambda _: (400, _validation("after")))
    with pytest.raises(growth.NotAvailable, match="VALIDATION_ERROR"):
        site.send(AFTER_CALL, optional=True)
    with pytest.raises(growth.RequestFailed, match="400"):
        site.send(AFTER_CALL)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, _validation("limit")),
        (400, {"success": False, "error": {"code": "VALIDATION_ERROR", "details": None}}),
        (400, ["not", "an", "envelope"]),
        (404, {"success": False, "error": {"code": "NOT_FOUND"}}),
        (500, {"success": False, "error": {"code": "INTERNAL_ERROR"}}),
        (504, {"success": False, "error": {"code": "UPSTREAM_TIMEOUT"}}),
        (200, {"success": False}),
        (200, None),
    ],
)
def test_any_other_rest_failure_fails_even_where_optional(status: int, body: object) -> None:
    site = _gateway(lambda _: (status, body))
    with pytest.raises(growth.RequestFailed, match=str(status)):
        site.send(AFTER_CALL, optional=True)


def test_the_cursor_is_taken_from_the_page_ending_at_the_last_percent() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> tuple[int, dict]:
        asked.append(request)
        return 200, {"success": True, "data": [], "meta": {"total": 25000, "next": "CURSOR"}}

    site = _gateway(answer)
    assert growth._next_cursor(site, "/orders", 25000) == "CURSOR"
    assert dict(asked[0].url.params) == {"limit": "100", "offset": "24650"}
    assert growth._next_cursor(site, "/users", 40) == "CURSOR"
    assert dict(asked[1].url.params) == {"limit": "39", "offset": "0"}
    with pytest.raises(growth.NotAvailable, match="too few rows"):
        growth._next_cursor(site, "/users", 1)


@pytest.mark.parametrize(
    ("meta", "raised"),
    [({"total": 5}, growth.NotAvailable), ({"total": 5, "next": None}, growth.RequestFailed)],
)
def test_a_missing_cursor_is_not_available_and_a_null_one_fails(meta: dict, raised) -> None:
    site = _gateway(lambda _: (200, {"success": True, "data": [], "meta": meta}))
    with pytest.raises(raised):
        growth._next_cursor(site, "/orders", 1000)


def test_a_failing_request_is_a_failed_row_and_the_run_goes_on() -> None:
    site = _gateway(lambda _: (500, {"success": False, "error": {"code": "INTERNAL_ERROR"}}))
    probe = growth.Probe("stats", growth.GATEWAY_REST, growth._rest("/orders/stats"))
    row = growth.measure(probe, [site, site], 3)
    assert row.failed
    assert row.p50 == [None, None]
    assert "500" in row.note
    assert "| stats | gateway REST | FAILED | FAILED | FAILED |" in growth.table(
        [row], [site, site]
    )


def _bench_databases(pg_server: str) -> set[str]:
    query = (
        "SELECT datname FROM pg_database"
        " WHERE datname ~ '^growth_(users|orders)_(small|large)_[0-9a-f]{8}$'"
    )
    maintenance = libpq_url(make_url(pg_server).set(database="postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        return {row[0] for row in conn.execute(query)}


def _marked(mark: str) -> list[psutil.Process]:
    """The processes whose environment holds `mark` (a run's, and its children's)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("GROWTH_TEST_MARK") == mark:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "after_line"),
    [
        # Once the small size's processes run and the large size seeds.
        (signal.SIGINT, "Seeding large"),
        (signal.SIGTERM, "Seeding large"),
        # At once after the small size is seeded: while its processes start.
        (signal.SIGINT, "  "),
    ],
    ids=["ctrl-c-running", "sigterm-running", "ctrl-c-starting"],
)
def test_ctrl_c_or_sigterm_drops_its_databases_and_stops_its_processes(
    pg_server: str, signum: int, after_line: str
) -> None:
    before = _bench_databases(pg_server)
    mark = uuid.uuid4().hex
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench.growth", "--smoke"],
        cwd=ROOT,
        env={
            **os.environ,
            "BENCH_PG_URL": pg_server,
            "PYTHONUNBUFFERED": "1",
            "GROWTH_TEST_MARK": mark,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert bench.stdout is not None
        seen = []
        for line in bench.stdout:
            seen.append(line)
            if line.startswith(after_line):
                break
        assert seen[-1].startswith(after_line), "".join(seen)
        assert _bench_databases(pg_server) - before
        bench.send_signal(signum)
        output = bench.communicate(timeout=120)[0]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    # 130 as the run says it; a Ctrl-C can also end Python by the signal itself once the
    # run has cleaned up (-SIGINT): either way the cleanup below is what matters.
    assert bench.returncode in (130, -signal.SIGINT), output
    assert "Interrupted" in output
    assert _bench_databases(pg_server) - before == set()
    _, alive = psutil.wait_procs(_marked(mark), timeout=10)
    assert alive == []
    # An interrupted run keeps its processes' logs, in the folder it named at the start.
    logs = Path(seen[0].removeprefix("The processes' logs: ").split(" (")[0])
    assert logs.is_dir()
    shutil.rmtree(logs)


def test_the_plain_offset_page_is_the_services_page(seeded, seeded_orders) -> None:
    offset = growth._last_percent(SIZE.orders) - 50
    with httpx.Client(base_url=seeded_orders.url, timeout=30) as client:
        params = {"limit": "100", "offset": str(offset)}
        page = client.get("/orders", params=params).json()["data"]
    ids = [row["id"] for row in page]
    assert len(ids) == SIZE.orders - offset
    assert ids == plain_page(seeded[1], "orders", offset)
    assert plain_count(seeded[0], "users") == SIZE.users
