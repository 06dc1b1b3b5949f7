"""Finding work on a million orders: the SQL plan and time of each new sort, filter and search.

    python -m bench.finding [--orders 1000000] [--users 200000] [--requests 10]

Generates the orders in SQL (as bench/reports.py, with products in Russian cycling through
a catalogue and a quarter of the orders assigned), runs VACUUM ANALYZE, then for each
list prints `EXPLAIN (ANALYZE, BUFFERS)` of exactly the statements the orders service
sends for it (captured from the service's own code: the page, then the count) and the
p50/p95 of the HTTP request to a real service process. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from apicore.db import create_engine
from apicore.finding import parse_finding
from bench.environment import bench_database, bench_postgres
from bench.reports import _execution_ms, _explain_with, _timed, _top, orders_service, user_id
from service_orders import reports, repository
from service_orders.init_db import main as init_orders_db

CATALOGUE = [
    "Бетон М300",
    "Бетон В25",
    "Щебень гранитный 5-20",
    "Арматура А500С",
    "Кирпич керамический",
    "Цемент М500",
    "Песок карьерный",
    "Доска обрезная",
    "Гипсокартон",
    "Утеплитель минвата",
    "Профлист С8",
    "Саморезы по металлу",
]

GENERATE = """
INSERT INTO orders (user_id, assignee_id, items, status, total_amount, due_date, created_at,
                    updated_at, completed_at)
SELECT owner,
       CASE WHEN n % 4 = 0 THEN ('00000000-0000-4000-9000-' || lpad(to_hex(n % 500), 12, '0'))::uuid
       END,
       json_build_array(json_build_object(
           'product', (CAST(:catalogue AS text[]))[1 + n % :products],
           'quantity', 1 + n % 50, 'price', '52.00')),
       status,
       (1 + n % 50) * 52.00,
       CASE WHEN n % 3 = 0 THEN NULL ELSE created::date + (n % 60) END,
       created,
       created + (n % 7) * interval '1 hour',
       CASE WHEN status = 'completed' THEN created + interval '3 days' END
FROM (
    SELECT n,
           ('00000000-0000-4000-8000-' || lpad(to_hex(n % :users), 12, '0'))::uuid AS owner,
           (ARRAY['created', 'in_progress', 'completed', 'cancelled'])[1 + n % 4] AS status,
           now() - (n % 365) * interval '1 day' - (n % 86400) * interval '1 second' AS created
    FROM generate_series(1, :orders) AS n
) AS generated
"""


async def _generate(url: str, orders: int, users: int) -> float:
    started = time.perf_counter()
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(GENERATE),
                {
                    "users": users,
                    "orders": orders,
                    "catalogue": CATALOGUE,
                    "products": len(CATALOGUE),
                },
            )
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE orders")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


def _case(title: str, **params: str) -> tuple[str, dict[str, str], Any]:
    """A list asked for with these query parameters, and the service's call for it."""
    finding = parse_finding(
        sort=params.get("sort"),
        created_from=params.get("createdFrom"),
        created_to=params.get("createdTo"),
        due_from=params.get("dueFrom"),
        due_to=params.get("dueTo"),
        statuses=params.get("statuses"),
        q=params.get("q"),
    )
    assignee = params.get("assigneeId")

    def call(engine: Any) -> Any:
        return repository.list_orders(
            engine,
            limit=100,
            offset=0,
            assignee_id=None if assignee is None else uuid.UUID(assignee),
            finding=finding,
        )

    return title, {**params, "limit": "100"}, call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.finding", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=10, help="timed requests per list")
    parser.add_argument("--plans", action="store_true", help="print every plan in full")
    args = parser.parse_args(argv)

    assignee = "00000000-0000-4000-9000-000000000008"  # 1 in 4 orders: n % 500 over 125
    cases = [
        _case("default page (created_at)"),
        _case("sort=-updated_at", sort="-updated_at"),
        _case("sort=due_date", sort="due_date"),
        _case("sort=-total_amount", sort="-total_amount"),
        _case("q=бетон (1/6 match)", q="бетон"),
        _case("q=саморезы, sort=-due_date", q="саморезы", sort="-due_date"),
        _case("q=нет-такого (no match)", q="нет-такого"),
        _case("dueFrom/dueTo, one week", dueFrom="2026-12-01", dueTo="2026-12-07"),
        _case(
            "dueFrom/dueTo, one week, sort=due_date",
            dueFrom="2026-12-01",
            dueTo="2026-12-07",
            sort="due_date",
        ),
        _case("q=бетон, sort=-created_at", q="бетон", sort="-created_at"),
        _case("createdFrom, last 7 days", createdFrom=_days_ago(7)),
        _case("statuses=created,in_progress", statuses="created,in_progress"),
        _case("assigneeId, one engineer", assigneeId=assignee),
        _case(
            "assigneeId + statuses + sort=due_date",
            assigneeId=assignee,
            statuses="created,in_progress",
            sort="due_date",
        ),
    ]
    report_cases = [
        ("stats, every order (on time, late)", "/orders/stats", {}, reports.order_stats),
        (
            "stats, one user",
            "/orders/stats",
            {"userId": str(user_id(7))},
            lambda e: reports.order_stats(e, user_id=user_id(7)),
        ),
    ]

    with ExitStack() as stack:
        server = bench_postgres(stack)
        url = bench_database(stack, server, "bench_finding", init_orders_db)
        print(f"Generating {args.orders:,} orders of {args.users:,} users in SQL…", flush=True)
        took = asyncio.run(_generate(url, args.orders, args.users))
        print(f"  {took:.1f} s, indexes and VACUUM ANALYZE included\n", flush=True)

        service = orders_service(stack, url, "finding")

        print("| list | statements | plans (scans) | SQL execution | HTTP p50 | HTTP p95 |")
        print("|---|---|---|---|---|---|")
        rows = [(t, "/orders", p, c) for t, p, c in cases] + report_cases
        for title, path, params, call in rows:
            statements, plans = asyncio.run(_explain_with(url, call))
            p50, p95 = _timed(service.url, path, params, args.requests)
            executions = [_execution_ms(plan) for plan in plans]
            tops = [_top(plan) for plan in plans]
            sql = " + ".join(f"{ms:.1f} ms" for ms in executions)
            print(
                f"| {title} | {len(statements)} | {'; '.join(tops)} | {sql} | "
                f"{p50:.1f} ms | {p95:.1f} ms |",
                flush=True,
            )
            if args.plans:
                for plan in plans:
                    print("\n```\n" + plan + "\n```\n")
    return 0


def _days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


if __name__ == "__main__":
    raise SystemExit(main())
