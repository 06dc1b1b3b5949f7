"""The reports on a million orders: each report's SQL plan and its time through the service.

    python -m bench.reports [--orders 1000000] [--users 200000] [--requests 30]

Generates the orders in SQL (one INSERT … SELECT generate_series: statuses, amounts, due
dates and creation times spread over the last year), runs VACUUM ANALYZE as autovacuum
would, then for each report prints `EXPLAIN (ANALYZE, BUFFERS)` of exactly the statement
the orders service sends (captured from the service's own code) and the p50/p95 of the
HTTP request to a real service process. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from apicore.db import create_engine
from bench.environment import bench_database, bench_postgres
from bench.processes import Proc, free_port, python_module, start
from service_orders import reports, repository
from service_orders.init_db import main as init_orders_db

GENERATE = """
INSERT INTO orders (user_id, items, status, total_amount, due_date, created_at, updated_at,
                    completed_at)
SELECT owner,
       ('[{"product":"Бетон","quantity":' || (1 + n % 50) || ',"price":"52.00"}]')::json,
       status,
       (1 + n % 50) * 52.00,
       CASE WHEN n % 3 = 0 THEN NULL ELSE created::date + (n % 60) END,
       created,
       created,
       CASE WHEN status = 'completed' THEN created + interval '3 days' END
FROM (
    SELECT n,
           ('00000000-0000-4000-8000-' || lpad(to_hex(n % :users), 12, '0'))::uuid AS owner,
           (ARRAY['created', 'in_progress', 'completed', 'cancelled'])[1 + n % 4] AS status,
           now() - (n % 365) * interval '1 day' - (n % 86400) * interval '1 second' AS created
    FROM generate_series(1, :orders) AS n
) AS generated
"""


def user_id(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012x}")


async def _generate(url: str, orders: int, users: int) -> float:
    started = time.perf_counter()
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(GENERATE), {"users": users, "orders": orders})
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE orders")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def _explain(engine: AsyncEngine, call: Any) -> tuple[list[str], list[str]]:
    """The statements `call` sends, and EXPLAIN ANALYZE of each, run the same way."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", record)
    try:
        await call()
    finally:
        event.remove(sync, "before_cursor_execute", record)
    plans = []
    async with engine.connect() as conn:
        for statement, parameters in sent:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection  # None only once the connection is closed
            assert driver is not None
            cursor = driver.cursor()
            await cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plans.append("\n".join(row[0] for row in await cursor.fetchall()))
    return [s for s, _ in sent], plans


def _timed(url: str, path: str, params: dict[str, str], requests: int) -> tuple[float, float]:
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get(path, params=params).raise_for_status()  # warm
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path, params=params).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per report")
    parser.add_argument("--plans", action="store_true", help="print every plan in full")
    args = parser.parse_args(argv)

    today = datetime.now(UTC).date()
    month = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    long = {"from": (today - timedelta(days=199)).isoformat(), "to": today.isoformat()}
    page = ",".join(str(user_id(n)) for n in random.Random(3).sample(range(args.users), 100))
    one = str(user_id(7))
    cases: list[tuple[str, str, dict[str, str], Any]] = [
        ("stats, every order", "/orders/stats", {}, lambda e: reports.order_stats(e)),
        (
            "stats, last 30 days",
            "/orders/stats",
            month,
            lambda e: reports.order_stats(e, period=reports.Period(*_days(month))),
        ),
        (
            "stats, last 200 days",
            "/orders/stats",
            long,
            lambda e: reports.order_stats(e, period=reports.Period(*_days(long))),
        ),
        (
            "stats, one user",
            "/orders/stats",
            {"userId": one},
            lambda e: reports.order_stats(e, user_id=uuid.UUID(one)),
        ),
        (
            "stats of a page of 100 users",
            "/orders/stats/by-user",
            {"userIds": page},
            lambda e: reports.order_stats_by_user(
                e, user_ids=[uuid.UUID(u) for u in page.split(",")]
            ),
        ),
        (
            "per day, last 30 days",
            "/orders/stats/daily",
            month,
            lambda e: reports.orders_by_day(e, first=_days(month)[0], last=today),
        ),
        (
            "per day, last 366 days",
            "/orders/stats/daily",
            {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()},
            lambda e: reports.orders_by_day(e, first=today - timedelta(days=365), last=today),
        ),
        (
            "overdue orders, first page",
            "/orders",
            {"overdue": "true", "limit": "100"},
            lambda e: repository.list_orders(e, limit=100, offset=0, overdue=True),
        ),
    ]

    with ExitStack() as stack:
        server = bench_postgres(stack)
        url = bench_database(stack, server, "bench_reports", init_orders_db)
        print(f"Generating {args.orders:,} orders of {args.users:,} users in SQL…", flush=True)
        took = asyncio.run(_generate(url, args.orders, args.users))
        print(f"  {took:.1f} s, VACUUM ANALYZE included\n", flush=True)

        service = orders_service(stack, url, "reports")

        print("| report | statements | plan (top node) | SQL execution | HTTP p50 | HTTP p95 |")
        print("|---|---|---|---|---|---|")
        for title, path, params, call in cases:
            statements, plans = asyncio.run(_explain_with(url, call))
            p50, p95 = _timed(service.url, path, params, args.requests)
            executions = [_execution_ms(plan) for plan in plans]
            tops = [_top(plan) for plan in plans]
            print(
                f"| {title} | {len(statements)} | {'; '.join(tops)} | "
                f"{' + '.join(f'{ms:.1f} ms' for ms in executions)} | {p50:.1f} ms | {p95:.1f} ms |"
            )
            if args.plans:
                for plan in plans:
                    print("\n```\n" + plan + "\n```\n")
    return 0


def orders_service(stack: ExitStack, url: str, name: str, logs: Path | None = None) -> Proc:
    """The orders service on `url`'s database, stopped with `stack`; its log in `logs`
    (a new temporary folder when not given)."""
    port = free_port()
    logs = logs or Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    service = start(
        "orders",
        python_module("service_orders"),
        env={
            "ORDERS_PORT": str(port),
            "ORDERS_DATABASE_URL": url,
            "ORDERS_ACCESS_LOG": "false",
        },
        url=f"http://127.0.0.1:{port}",
        health_path="/health",
        logs=logs,
    )
    stack.callback(service.stop)
    return service


async def _explain_with(url: str, call: Any) -> tuple[list[str], list[str]]:
    engine = create_engine(url, pool_size=1)
    try:
        return await _explain(engine, lambda: call(engine))
    finally:
        await engine.dispose()


def _days(period: dict[str, str]) -> tuple[date, date]:
    return date.fromisoformat(period["from"]), date.fromisoformat(period["to"])


def _execution_ms(plan: str) -> float:
    line = next(line for line in plan.splitlines() if line.startswith("Execution Time"))
    return float(line.split(":")[1].split()[0])


def _top(plan: str) -> str:
    """The scans the plan uses: which index (or a Seq Scan), once each."""
    scans = []
    for line in plan.splitlines():
        text = line.strip().removeprefix("->").strip()
        parallel = "Parallel " if text.startswith("Parallel ") else ""
        text = text.removeprefix("Parallel ")
        for kind in ("Index Only Scan", "Index Scan", "Bitmap Index Scan", "Seq Scan"):
            if text.startswith(kind):
                name = text.split(" on ")[0] if kind == "Bitmap Index Scan" else text
                scans.append(parallel + name.split("  (")[0])
    return ", ".join(dict.fromkeys(scans)) or "—"


if __name__ == "__main__":
    raise SystemExit(main())
