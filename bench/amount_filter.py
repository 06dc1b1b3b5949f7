"""What ix_orders_total_amount buys the order list's `minAmount`/`maxAmount`.

    python -m bench.amount_filter [--rows 300000] [--url postgresql://postgres@127.0.0.1:5432]

On a scratch database (migrated as the orders service's, dropped afterwards), fills
`orders` with rows whose totals spread over 0.00–9999.99, then times the service's own
list statement (a page of 100 and its count, repository.list_orders) for a narrow and a
wide amount range, with the index and without it. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from decimal import Decimal

from sqlalchemy import text

from apicore.db import create_engine, drop_database
from service_orders import init_db, repository

RANGES = {"narrow (0.1 %)": ("5000.00", "5009.99"), "wide (50 %)": ("0.00", "4999.99")}


async def _time(engine, low: str, high: str, repeats: int = 15) -> float:
    took = []
    for _ in range(repeats):
        start = time.perf_counter()
        await repository.list_orders(
            engine, limit=100, offset=0, min_amount=Decimal(low), max_amount=Decimal(high)
        )
        took.append(time.perf_counter() - start)
    return statistics.median(took) * 1000


async def _run(url: str, rows: int) -> None:
    engine = create_engine(url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO orders (user_id, items, total_amount, status)"
                " SELECT gen_random_uuid(), '[]'::json, (random() * 999999)::int / 100.0,"
                " 'created' FROM generate_series(1, :rows)"
            ),
            {"rows": rows},
        )
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE orders"))
    print(f"{rows} orders; median of 15 calls of repository.list_orders (page of 100 + count)")
    for label, index in (("with ix_orders_total_amount", True), ("without it", False)):
        if not index:
            async with engine.begin() as conn:
                await conn.execute(text("DROP INDEX ix_orders_total_amount"))
        for name, (low, high) in RANGES.items():
            print(f"  {label:28} {name:15} {await _time(engine, low, high):8.2f} ms")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    url = f"{args.url}/bench_amounts_{uuid.uuid4().hex[:8]}"
    try:
        init_db.main(url)  # creates the database, migrates it to head
        asyncio.run(_run(url, args.rows))
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
