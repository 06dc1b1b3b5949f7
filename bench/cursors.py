"""Deep pages on a million orders: the offset page at the last 1 % against the cursor page
there, for every sort of the orders list (docs/pagination.md).

    python -m bench.cursors [--orders 1000000] [--users 200000] [--requests 5] [--plans]

Generates the orders in SQL into a scratch database of its own (bench/finding.py's data:
a third without a deadline, repeated amounts), which it drops at the end. For each sort,
both directions, it takes the row just before the last 1 % (the offset page's position),
makes the cursor the service would have given after it, and prints the scans and the
execution time of the page statement each way (`EXPLAIN (ANALYZE, BUFFERS)` of exactly
what the service sends), then the p50 of the whole HTTP request to a real service process
(which also counts every order for `meta.total`, the same second statement both ways).
Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import ExitStack
from typing import Any

from sqlalchemy import text

from apicore.db import create_engine
from apicore.finding import SORTABLE, parse_finding
from apicore.keyset import Keyset, decode, encode
from bench.environment import bench_database, bench_postgres
from bench.finding import _generate
from bench.reports import _execution_ms, _explain_with, _timed, _top, orders_service
from service_orders import repository
from service_orders.init_db import main as init_orders_db

PAGE = 100
# Every sort at the last 1 %; then the deadline's two NULL boundaries: going up, a cursor
# on a date halfway (its next rows are dates, then the NULLs); going down, a cursor among
# the NULLs that come first (the rest of the NULLs, then every date).
CASES = [(f"{sign}{key}", 0.99) for key in SORTABLE for sign in ("", "-")] + [
    ("due_date", 0.5),
    ("-due_date", 0.1),
]


async def _row_before(url: str, sort: str, offset: int) -> tuple[str | None, str]:
    """The sort key (as a cursor holds it) and id of the row just before `offset`."""
    key = sort.removeprefix("-")
    way = "DESC" if sort.startswith("-") else "ASC"
    shown = (
        f"to_char(timezone('UTC', {key}), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
        if key.endswith("_at")
        else f"to_char({key}, 'YYYY-MM-DD')"
        if key == "due_date"
        else f"{key}::text"
    )
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = await conn.execute(
                text(
                    f"SELECT {shown}, id::text FROM orders ORDER BY {key} {way}, id {way}"
                    " OFFSET :skip LIMIT 1"
                ),
                {"skip": offset - 1},
            )
            value, row_id = row.one()
    finally:
        await engine.dispose()
    return value, row_id


def _call(sort: str, offset: int, keyset: Keyset | None) -> Any:
    finding = parse_finding(sort=sort)

    def call(engine: Any) -> Any:
        return repository.list_orders(
            engine, limit=PAGE, offset=offset, finding=finding, keyset=keyset
        )

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cursors", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=5, help="timed requests per page")
    parser.add_argument("--plans", action="store_true", help="print every page plan in full")
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        server = bench_postgres(stack)
        url = bench_database(stack, server, "bench_cursors", init_orders_db)
        print(f"Generating {args.orders:,} orders of {args.users:,} users in SQL…", flush=True)
        took = asyncio.run(_generate(url, args.orders, args.users))
        print(f"  {took:.1f} s, indexes and VACUUM ANALYZE included\n", flush=True)
        service = orders_service(stack, url, "cursors")
        print(f"Pages of {PAGE}, by offset and by cursor at the same place:\n")
        print(
            "| sort | at | offset: page scans | offset: page SQL | cursor: page scans"
            " | cursor: page SQL | HTTP p50 offset | HTTP p50 cursor |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for sort, where in CASES:
            deep = int(args.orders * where)
            key, descending = sort.removeprefix("-"), sort.startswith("-")
            value, row_id = asyncio.run(_row_before(url, sort, deep))
            cursor = encode("orders", key, descending, [value, row_id])
            keyset = decode(cursor, kind="orders", key=key, descending=descending)
            results = []
            for offset, chosen in ((deep, None), (0, keyset)):
                _, plans = asyncio.run(_explain_with(url, _call(sort, offset, chosen)))
                results.append((plans[0], _execution_ms(plans[0])))
                if args.plans:
                    print("\n```\n" + plans[0] + "\n```\n")
            base = {"sort": sort, "limit": str(PAGE)}
            timed = [
                _timed(service.url, "/orders", {**base, **place}, args.requests)[0]
                for place in ({"offset": str(deep)}, {"after": cursor})
            ]
            (offset_plan, offset_ms), (cursor_plan, cursor_ms) = results
            print(
                f"| {sort} | {deep:,} (key {value}) | {_top(offset_plan)} | {offset_ms:.1f} ms"
                f" | {_top(cursor_plan)} | {cursor_ms:.1f} ms | {timed[0]:.1f} ms"
                f" | {timed[1]:.1f} ms |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
