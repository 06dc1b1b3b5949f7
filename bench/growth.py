"""Growth: the same lists, pages and reports at two sizes of data, and how much slower each
gets at the larger one.

    python -m bench.growth [--small 5000x5] [--large 100000x10] [--requests 5]
    python -m bench.growth --smoke    # seconds, tiny sizes: fails if a request errors (CI)

For each size it creates its own two databases (users, orders) on the PostgreSQL the other
benchmarks use (BENCH_PG_URL or TEST_PG_URL, else an embedded one), migrates them, seeds
them in SQL (bench/growth_data.py), and starts the users service, the orders service and
our gateway as real processes on 127.0.0.1. Every request goes to the gateway, as a
client's would: REST routes that the gateway passes to a service, or GraphQL. Each request
is sent once to warm up, then `--requests` times to each size in alternation; the table
gives the p50 of each size and their ratio. A request whose route or parameter the code
under measurement does not have (cursors before they exist) prints "n/a"; any other
failure fails the run. Then it checks the reports against a plain SQL count over the rows.
Figures only: nothing about time is asserted. Databases and processes are removed at the
end, on errors and on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import environment
from bench.environment import bench_database, bench_postgres, start_ours
from bench.growth_data import (
    Size,
    plain_count,
    plain_daily,
    plain_page,
    plain_stats,
    seed,
    user_id,
)
from bench.processes import free_port, python_module, start
from bench.reports import orders_service
from bench.scenarios import DASHBOARD_OURS
from service_orders.init_db import main as init_orders_db
from service_users.init_db import main as init_users_db

DEFAULT_SMALL = "5000x5"
DEFAULT_LARGE = "100000x10"
SMOKE_SMALL = "40x3"
SMOKE_LARGE = "300x4"

UPSTREAM_TIMEOUT = "120"
GATEWAY_REST = "gateway REST"
GATEWAY_GRAPHQL = "gateway GraphQL"

DASHBOARD_STATS = (
    "{ users(limit: 100) { items { id name orderStats { count totalAmount overdue } } } }"
)
REPORTS_366 = """query ($from: Date!, $to: Date!) {
  orderStats(from: $from, to: $to) {
    count totalAmount overdue onTime late byStatus { status count totalAmount }
  }
  ordersByDay(from: $from, to: $to) { date created completed }
}"""
CONNECTION = """query ($after: String) {
  ordersConnection(first: 100, after: $after) {
    edges { cursor node { id status totalAmount } }
    pageInfo { hasNextPage endCursor }
  }
}"""


# What GraphQL says of a field or argument its schema does not have.
MISSING_IN_SCHEMA = ("Cannot query field", "Unknown argument")


class NotAvailable(Exception):
    """The code under measurement has no such route or parameter (yet): the row is n/a."""


class RequestFailed(Exception):
    """A request that should have worked did not: the run fails."""


@dataclass(frozen=True)
class Call:
    """One HTTP request to a gateway."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass
class Site:
    """One size's databases and processes."""

    size: Size
    users_db: str
    orders_db: str
    gateway: str
    client: httpx.Client
    seconds: float
    steps: str = ""  # the seeding's steps and their seconds

    @property
    def one_user(self) -> str:
        """A user of this size (every user has the same number of orders)."""
        return user_id(min(7, self.size.users))

    def send(self, call: Call, *, optional: bool = False) -> dict[str, Any]:
        """The response's JSON; NotAvailable when `optional` and the gateway says the route,
        parameter or field does not exist; RequestFailed for any other failure."""
        response = self.client.request(call.method, call.path, params=call.params, json=call.body)
        try:
            body = response.json()
        except ValueError:
            body = None
        if call.path == "/graphql":
            answered = isinstance(body, dict) and body.get("data") is not None
            errors = body.get("errors") if isinstance(body, dict) else None
            if response.status_code == 200 and answered and not errors:
                return body
            message = _first_message(errors)
            if optional and message.startswith(MISSING_IN_SCHEMA):
                raise NotAvailable(message[:80])
        else:
            if response.status_code == 200 and isinstance(body, dict) and body.get("success"):
                return body
            if optional and response.status_code == 400 and _names_unknown_parameter(body):
                raise NotAvailable(_error_text(body))
        raise RequestFailed(
            f"{self.size}: {call.method} {call.path} {call.params} -> "
            f"{response.status_code} {response.text[:300]}"
        )

    def timed(self, call: Call, *, optional: bool = False) -> float:
        started = time.perf_counter()
        self.send(call, optional=optional)
        return (time.perf_counter() - started) * 1000


@dataclass(frozen=True)
class Probe:
    """A row of the table: what it sends (prepared per size), and through what."""

    title: str
    via: str
    prepare: Callable[[Site], Call]
    optional: bool = False  # a route or parameter the code may not have yet: n/a, not failure


def _last_percent(total: int) -> int:
    """The offset of the page that starts at the last 1 % of `total` rows."""
    return total - max(total // 100, 1) if total > 1 else 0


def _rest(path: str, **params: Any) -> Callable[[Site], Call]:
    return lambda site: Call("GET", path, {k: str(v) for k, v in params.items()})


def _graphql(query: str, variables: Callable[[Site], dict[str, Any]] | None = None):
    def prepare(site: Site) -> Call:
        return Call(
            "POST",
            "/graphql",
            body={"query": query, "variables": variables(site) if variables else {}},
        )

    return prepare


def _next_cursor(site: Site, path: str, total: int) -> str:
    """`meta.next` of the page that ends where the last 1 % begins: the cursor of the page
    that `offset=` at the last 1 % reads. NotAvailable when the lists give no `meta.next`."""
    start = _last_percent(total)
    before = min(100, start)
    if before == 0:
        raise NotAvailable("too few rows for a page before the last 1 %")
    call = Call("GET", path, {"limit": str(before), "offset": str(start - before)})
    meta = site.send(call, optional=True).get("meta") or {}
    if "next" not in meta:
        raise NotAvailable("no meta.next on list pages")
    if not meta["next"]:
        raise RequestFailed(f"{site.size}: {path} at offset {start - before}: meta.next is null")
    return meta["next"]


def _after(path: str, total: Callable[[Size], int]) -> Callable[[Site], Call]:
    def prepare(site: Site) -> Call:
        cursor = _next_cursor(site, path, total(site.size))
        return Call("GET", path, {"limit": "100", "after": cursor})

    return prepare


def _connection(site: Site) -> Call:
    cursor = _next_cursor(site, "/orders", site.size.orders)
    return Call("POST", "/graphql", body={"query": CONNECTION, "variables": {"after": cursor}})


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _days_ago(days: int) -> str:
    return (_today() - dt.timedelta(days=days)).isoformat()


def probes() -> list[Probe]:
    return [
        Probe("`GET /orders?limit=100` (first page)", GATEWAY_REST, _rest("/orders", limit=100)),
        Probe(
            "`GET /orders?limit=100&offset=` last 1 %",
            GATEWAY_REST,
            lambda s: _rest("/orders", limit=100, offset=_last_percent(s.size.orders))(s),
        ),
        Probe(
            "`GET /users?limit=100&offset=` last 1 %",
            GATEWAY_REST,
            lambda s: _rest("/users", limit=100, offset=_last_percent(s.size.users))(s),
        ),
        Probe(
            "`GET /orders?overdue=true&limit=100`",
            GATEWAY_REST,
            _rest("/orders", overdue="true", limit=100),
        ),
        Probe("`GET /orders/stats` (all)", GATEWAY_REST, _rest("/orders/stats")),
        Probe(
            "`GET /orders/stats?from=` 200 days",
            GATEWAY_REST,
            lambda s: _rest("/orders/stats", **{"from": _days_ago(200)})(s),
        ),
        Probe("`GET /orders/stats/daily` (30 days)", GATEWAY_REST, _rest("/orders/stats/daily")),
        Probe(
            "GraphQL `orderStats` + `ordersByDay` over 366 days",
            GATEWAY_GRAPHQL,
            _graphql(REPORTS_366, lambda s: {"from": _days_ago(365), "to": _today().isoformat()}),
        ),
        # Bounded by one user or one page: these should not grow at all.
        Probe(
            "`GET /orders?userId=`", GATEWAY_REST, lambda s: _rest("/orders", userId=s.one_user)(s)
        ),
        Probe(
            "`GET /orders/stats?userId=`",
            GATEWAY_REST,
            lambda s: _rest("/orders/stats", userId=s.one_user)(s),
        ),
        Probe(
            "`GET /users/{id}/details`",
            GATEWAY_REST,
            lambda s: _rest(f"/users/{s.one_user}/details")(s),
        ),
        Probe("GraphQL page of 100 users with orders", GATEWAY_GRAPHQL, _graphql(DASHBOARD_OURS)),
        Probe(
            "GraphQL page of 100 users with orderStats", GATEWAY_GRAPHQL, _graphql(DASHBOARD_STATS)
        ),
        # The sorts and filters of "Finding work".
        Probe(
            "`GET /orders?limit=100&sort=-updated_at`",
            GATEWAY_REST,
            _rest("/orders", limit=100, sort="-updated_at"),
        ),
        Probe(
            "`GET /orders?limit=100&sort=due_date`",
            GATEWAY_REST,
            _rest("/orders", limit=100, sort="due_date"),
        ),
        Probe(
            "`GET /orders?limit=100&q=бетон` (2 products of 12)",
            GATEWAY_REST,
            _rest("/orders", limit=100, q="бетон"),
        ),
        Probe(
            "`GET /orders?limit=100&statuses=created,in_progress`",
            GATEWAY_REST,
            _rest("/orders", limit=100, statuses="created,in_progress"),
        ),
        Probe(
            "`GET /orders?limit=100&minAmount=10000`",
            GATEWAY_REST,
            _rest("/orders", limit=100, minAmount=10000),
        ),
        # Cursor pages (n/a until the code has them): the cursor from the page before.
        Probe(
            "`GET /orders?limit=100&after=` last 1 %",
            GATEWAY_REST,
            _after("/orders", lambda size: size.orders),
            optional=True,
        ),
        Probe(
            "`GET /users?limit=100&after=` last 1 %",
            GATEWAY_REST,
            _after("/users", lambda size: size.users),
            optional=True,
        ),
        Probe(
            "GraphQL `ordersConnection(first: 100, after:)` last 1 %",
            GATEWAY_GRAPHQL,
            _connection,
            optional=True,
        ),
    ]


def _first_message(errors: Any) -> str:
    first = errors[0] if isinstance(errors, list) and errors else None
    return str(first.get("message", "")) if isinstance(first, dict) else ""


def _names_unknown_parameter(body: Any) -> bool:
    """A 400 VALIDATION_ERROR naming `after`: the code's lists have no cursors (yet)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("code") != "VALIDATION_ERROR":
        return False
    return any(
        isinstance(detail, dict) and detail.get("field") == "after"
        for detail in error.get("details") or []
    )


def _error_text(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('code')}: {str(error.get('message'))[:80]}"
    return ""


@dataclass
class Row:
    probe: Probe
    p50: list[float | None]  # per site; None: n/a, or failed
    note: str = ""
    failed: bool = False


def measure(probe: Probe, sites: list[Site], requests: int) -> Row:
    """Warm each size once, then `requests` rounds alternating the sizes (drift hits both)."""
    try:
        calls = [probe.prepare(site) for site in sites]
        for site, call in zip(sites, calls, strict=True):
            site.send(call, optional=probe.optional)
        times: list[list[float]] = [[] for _ in sites]
        for _ in range(requests):
            for i, (site, call) in enumerate(zip(sites, calls, strict=True)):
                times[i].append(site.timed(call, optional=probe.optional))
    except NotAvailable as exc:
        return Row(probe, [None] * len(sites), f"n/a: {exc}")
    except (RequestFailed, httpx.HTTPError) as exc:
        return Row(probe, [None] * len(sites), f"FAILED: {str(exc)[:400]}", failed=True)
    return Row(probe, [statistics.median(each) for each in times])


def _ms(value: float | None, failed: bool = False) -> str:
    if value is None:
        return "FAILED" if failed else "n/a"
    return f"{value:.1f} ms"


def table(rows: list[Row], sites: list[Site]) -> str:
    small, large = sites
    lines = [
        f"| request | via | {small.size.orders:,} orders | {large.size.orders:,} orders | growth |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        a, b = row.p50
        growth = _ms(None, row.failed) if a is None or b is None else f"{b / a:.1f}×"
        a_ms, b_ms = _ms(a, row.failed), _ms(b, row.failed)
        lines.append(f"| {row.probe.title} | {row.probe.via} | {a_ms} | {b_ms} | {growth} |")
    notes = [f"- {row.probe.title}: {row.note}" for row in rows if row.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def check_reports(site: Site) -> list[str]:
    """Every figure of the reports, the lists' totals and their deep pages against plain
    SQL over the rows; the differences."""
    problems: list[str] = []
    first = _today() - dt.timedelta(days=200)
    for label, params, expected in (
        ("stats", {}, plain_stats(site.orders_db)),
        ("stats from", {"from": first.isoformat()}, plain_stats(site.orders_db, first=first)),
        (
            "stats userId",
            {"userId": site.one_user},
            plain_stats(site.orders_db, owner=site.one_user),
        ),
    ):
        got = _stats_figures(site.send(Call("GET", "/orders/stats", params))["data"])
        if got != expected:
            problems.append(f"{label}: service {got} != SQL {expected}")
    last = _today()
    month = {"from": (last - dt.timedelta(days=29)).isoformat(), "to": last.isoformat()}
    daily = site.send(Call("GET", "/orders/stats/daily", month))["data"]
    expected_daily = plain_daily(site.orders_db, last - dt.timedelta(days=29), last)
    if daily != expected_daily:
        problems.append(f"daily: service {daily} != SQL {expected_daily}")
    for path, url, rows in (
        ("/orders", site.orders_db, site.size.orders),
        ("/users", site.users_db, site.size.users),
    ):
        table = path.strip("/")
        total = site.send(Call("GET", path, {"limit": "1"}))["meta"].get("total")
        if total is not None and total != plain_count(url, table):
            problems.append(f"{table} total: service {total} != SQL {plain_count(url, table)}")
        # The deep page, however the service finds it, holds the rows a plain OFFSET does.
        offset = _last_percent(rows)
        page = site.send(Call("GET", path, {"limit": "100", "offset": str(offset)}))["data"]
        if [row["id"] for row in page] != plain_page(url, table, offset):
            problems.append(f"{table} page at offset {offset}: not the rows of a plain OFFSET")
    return problems


def _stats_figures(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "count": data["count"],
        "total_amount": data["total_amount"],
        "overdue": data["overdue"],
        "on_time": data["on_time"],
        "late": data["late"],
        "by_status": {
            each["status"]: {"count": each["count"], "total_amount": each["total_amount"]}
            for each in sorted(data["by_status"], key=lambda each: each["status"])
            if each["count"]
        },
    }


def bring_up(stack: ExitStack, server: str, size: Size, name: str, logs: Path) -> Site:
    """One size's databases, seeded, and its three processes."""
    users_db = bench_database(stack, server, f"growth_users_{name}", init_users_db)
    orders_db = bench_database(stack, server, f"growth_orders_{name}", init_orders_db)
    print(f"Seeding {name}: {size} = {size.orders:,} orders…", flush=True)
    seconds, steps = seed(users_db, orders_db, size)
    print(f"  {seconds:.1f} s: {_steps(steps)}", flush=True)
    _unless_interrupted()
    port = free_port()
    users = start(
        f"users-{name}",
        python_module("service_users"),
        env={"USERS_DATABASE_URL": users_db, "USERS_PORT": str(port), "USERS_ACCESS_LOG": "false"},
        url=f"http://127.0.0.1:{port}",
        health_path="/health",
        logs=logs,
    )
    stack.callback(users.stop)
    _unless_interrupted()
    orders = orders_service(stack, orders_db, f"orders-{name}", logs)
    env = environment.Environment(logs=logs)
    stack.enter_context(env.stack)
    # A deep offset page on a million orders can take longer than the gateway's 5 s
    # default (graphql_gateway/config.py): measured as it is, not cut into a 504.
    gateway = start_ours(
        env, f"gateway-{name}", users.url, orders.url, GATEWAY_UPSTREAM_TIMEOUT=UPSTREAM_TIMEOUT
    )
    client = stack.enter_context(httpx.Client(base_url=gateway.url, timeout=150))
    return Site(size, users_db, orders_db, gateway.url, client, seconds, _steps(steps))


def _steps(steps: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())


def _stop_strays() -> None:
    """Stop any process of this run still running: one that a Ctrl-C caught while it was
    being started (inside `subprocess.Popen`) never became a Proc with a stop of its own.
    Each was started in its own process group (bench/processes.py), its workers with it."""
    strays = psutil.Process().children()
    for each in strays:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(each.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(strays, timeout=10)
    for each in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(each.pid, signal.SIGKILL)


_interrupted: list[int] = []  # the signals received (SIGINT, SIGTERM)


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM unwind, so the databases and processes are removed.

    The handler raises KeyboardInterrupt where the main thread happens to be; when that is a
    garbage collector's callback, Python swallows it ("Exception ignored in ..."), so the
    signal is also remembered and `_unless_interrupted` raises it again at the next step."""

    def stop(signum: int, frame: Any) -> None:
        _interrupted.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _unless_interrupted() -> None:
    if _interrupted:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__)
    parser.add_argument("--small", type=Size.parse, default=None, help="USERSxORDERS (5000x5)")
    parser.add_argument("--large", type=Size.parse, default=None, help="USERSxORDERS (100000x10)")
    parser.add_argument(
        "--requests", type=int, default=None, help="timed requests per size and row (5; smoke 2)"
    )
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SMALL} and {SMOKE_LARGE}")
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    requests = args.requests or (2 if args.smoke else 5)
    small = args.small or Size.parse(SMOKE_SMALL if args.smoke else DEFAULT_SMALL)
    large = args.large or Size.parse(SMOKE_LARGE if args.smoke else DEFAULT_LARGE)
    _stop_on_signals()

    started = time.perf_counter()
    with ExitStack() as stack:
        stack.callback(_stop_strays)  # last of all
        logs = Path(tempfile.mkdtemp(prefix="bench-growth-"))
        print(f"The processes' logs: {logs} (removed after a clean run)", flush=True)
        server = bench_postgres(stack)
        sites = []
        for size, name in ((small, "small"), (large, "large")):
            _unless_interrupted()
            sites.append(bring_up(stack, server, size, name, logs))
        print(f"\nTiming: 1 warm-up, then p50 of {requests} requests per size…", flush=True)
        rows = []
        for probe in probes():
            _unless_interrupted()
            rows.append(measure(probe, sites, requests))
            row = rows[-1]
            figures = ", ".join(_ms(p, row.failed) for p in row.p50)
            print(f"  {probe.title}: {figures} {row.note}", flush=True)
        print("Checking reports, totals and deep pages against plain SQL…", flush=True)
        checks = {site.size: check_reports(site) for site in sites}
        _unless_interrupted()

    print(_header(sites, argv, requests))
    print(table(rows, sites))
    print()
    for site in sites:
        print(
            f"Seeding {site.size} ({site.size.orders:,} orders): {site.seconds:.1f} s"
            f" ({site.steps}; users alongside the orders)"
        )
    for size, problems in checks.items():
        verdict = "yes" if not problems else "no"
        print(
            f"Reports exact at {size.orders:,} orders (figures, list totals and deep pages"
            f" vs plain SQL count/sum/OFFSET): {verdict}"
        )
        for problem in problems:
            print(f"  {problem[:2000]}")
    failed = [row.probe.title for row in rows if row.failed]
    if failed:
        print(f"FAILED requests: {', '.join(failed)}")
    ok = not failed and all(not problems for problems in checks.values())
    if ok:  # the processes' logs matter only when something went wrong
        shutil.rmtree(logs, ignore_errors=True)
    where = "" if ok else f"; the processes' logs are in {logs}"
    print(f"Whole run: {time.perf_counter() - started:.0f} s{where}")
    return 0 if ok else 1


def _header(sites: list[Site], argv: list[str] | None, requests: int) -> str:
    machine = (
        f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    command = " ".join(["python -m bench.growth", *(sys.argv[1:] if argv is None else argv)])
    return (
        f"\n## Growth, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC ({machine})\n\n"
        f"`{command}`. Every request is sent to our gateway, as a client's would be: "
        '"gateway REST" rows are REST routes the gateway passes to the users or orders '
        'service, "gateway GraphQL" rows are queries it resolves with calls to them. '
        f"p50 of {requests} requests after a warm-up; growth = large / small.\n"
    )


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except RequestFailed as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("\nInterrupted: its databases are dropped and its processes stopped", file=sys.stderr)
        raise SystemExit(130) from None
