"""Rebuild the reports' summary tables: `python -m service_orders.rebuild_summaries`.

A repair tool. PostgreSQL triggers keep the summaries exact in every write's transaction
(migration 0009, docs/reports.md), SQL loaded behind the service included, so in normal
running there is nothing to rebuild. It is for when the triggers could not see the
writes: a restore of `orders` alone, a load with the triggers disabled
(`ALTER TABLE orders DISABLE TRIGGER …`, `session_replication_role = replica`), or a
summary table edited by hand. It recomputes every table from the rows in one transaction,
holding writes off meanwhile (reads go on), and prints, per table, how many of its groups
differed from the rows and its rows before and after.

The database is ORDERS_DATABASE_URL's (as the service's), or `--database-url`.
"""

from __future__ import annotations

import argparse
import asyncio

from apicore.db import create_engine
from service_orders.config import Settings
from service_orders.summaries import Rebuilt, rebuild


async def run(database_url: str) -> list[Rebuilt]:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            return await rebuild(conn)
    finally:
        await engine.dispose()


def describe(rebuilt: Rebuilt) -> str:
    groups = "group" if rebuilt.differed == 1 else "groups"
    return (
        f"{rebuilt.table}: {rebuilt.differed} {groups} differed from the orders;"
        f" {rebuilt.rows_before} rows before, {rebuilt.rows_after} after"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m service_orders.rebuild_summaries",
        description="Recompute the reports' summary tables from the orders (a repair tool).",
    )
    parser.add_argument("--database-url", help="default: ORDERS_DATABASE_URL")
    arguments = parser.parse_args(argv)
    url = arguments.database_url or Settings().database_url
    for each in asyncio.run(run(url)):
        print(describe(each))


if __name__ == "__main__":
    main()
