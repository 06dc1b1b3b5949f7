"""List totals and deep offset pages on a million orders and 100,000 users (docs/totals.md).

    python -m bench.totals [--orders 1000000] [--users 100000] [--requests 5]
                           [--before CHECKOUT]

Creates two scratch databases (dropped at the end), migrates them with this checkout's
init_db, generates the users (over two years) and the orders (bench/finding.py's data:
over a year, every status, deadlines on two thirds) in SQL, runs VACUUM ANALYZE, then
times each list below against real service processes: p50 and p95 of `--requests`
requests after one warm-up. With `--before`, the same requests also go to services
started from another checkout of this repository (e.g. one at the commit before this
work), over the same databases, and the table shows both. Figures only: nothing is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import text

from apicore.db import create_engine
from bench.environment import bench_database, bench_postgres
from bench.finding import _generate as generate_orders
from bench.processes import Proc, free_port, python_module, start
from bench.reports import _timed
from service_orders.init_db import main as init_orders_db
from service_users.init_db import main as init_users_db

USERS = """
INSERT INTO users (email, name, created_at, updated_at)
SELECT 'user' || n || '@example.com', 'Пользователь ' || n,
       now() - (n % 730) * interval '1 day' - (n % 86400) * interval '1 second',
       now()
FROM generate_series(1, :users) AS n
"""


async def _generate_users(url: str, users: int) -> float:
    started = time.perf_counter()
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(USERS), {"users": users})
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE users")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def _count(url: str, where: str) -> int:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(text(f"SELECT count(*) FROM orders WHERE {where}"))
            return int(found.scalar_one())
    finally:
        await engine.dispose()


def _service(stack: ExitStack, package: str, prefix: str, url: str, cwd: Path | None) -> Proc:
    """`python -m <package>` on `url`'s database, from `cwd`'s code (this checkout's if None)."""
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix=f"bench-totals-{package}-"))
    env = {
        f"{prefix}PORT": str(port),
        f"{prefix}DATABASE_URL": url,
        f"{prefix}ACCESS_LOG": "false",
    }
    extra: dict[str, Any] = {} if cwd is None else {"cwd": cwd}
    proc = start(
        package,
        python_module(package),
        env=env,
        url=f"http://127.0.0.1:{port}",
        health_path="/health",
        logs=logs,
        **extra,
    )
    stack.callback(proc.stop)
    return proc


def _cases(orders: int, users: int, created: int) -> list[tuple[str, str, str, dict[str, str]]]:
    """(title, service, path, query) of every list timed."""
    deep = {"limit": "100", "offset": str(orders * 99 // 100)}
    return [
        ("GET /orders?limit=100 (first page)", "orders", "/orders", {"limit": "100"}),
        ("GET /orders, offset at the last 1 %", "orders", "/orders", deep),
        (
            "GET /orders?sort=-created_at, last 1 %",
            "orders",
            "/orders",
            {**deep, "sort": "-created_at"},
        ),
        (
            "GET /orders?status=created, last 1 %",
            "orders",
            "/orders",
            {"limit": "100", "status": "created", "offset": str(created * 99 // 100)},
        ),
        (
            "GET /orders?overdue=true&limit=100",
            "orders",
            "/orders",
            {"overdue": "true", "limit": "100"},
        ),
        ("GET /orders?q=бетон&limit=100", "orders", "/orders", {"q": "бетон", "limit": "100"}),
        ("GET /users?limit=100 (first page)", "users", "/users", {"limit": "100"}),
        (
            "GET /users, offset at the last 1 %",
            "users",
            "/users",
            {"limit": "100", "offset": str(users * 99 // 100)},
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.totals", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5, help="timed requests per list")
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        server = bench_postgres(stack)
        users_url = bench_database(stack, server, "bench_totals_users", init_users_db)
        orders_url = bench_database(stack, server, "bench_totals_orders", init_orders_db)
        seconds = asyncio.run(_generate_users(users_url, args.users))
        seconds += asyncio.run(generate_orders(orders_url, args.orders, args.users))
        print(f"{args.users} users and {args.orders} orders generated in {seconds:.1f} s")
        created = asyncio.run(_count(orders_url, "status = 'created'"))
        checkouts: dict[str, Path | None] = {"after": None}
        if args.before is not None:
            checkouts = {"before": args.before.resolve(), **checkouts}
        urls: dict[str, dict[str, str]] = {}
        for name, cwd in checkouts.items():
            urls[name] = {
                "users": _service(stack, "service_users", "USERS_", users_url, cwd).url,
                "orders": _service(stack, "service_orders", "ORDERS_", orders_url, cwd).url,
            }
        header = " | ".join(f"{name} p50 / p95 ms" for name in checkouts)
        print(f"| request | {header} |")
        print("|---|" + "---|" * len(checkouts))
        for title, service, path, query in _cases(args.orders, args.users, created):
            cells = []
            for name in checkouts:
                p50, p95 = _timed(urls[name][service], path, query, args.requests)
                cells.append(f"{p50:.1f} / {p95:.1f}")
            print(f"| {title} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
