"""Deep offset pages that do not walk every row before them (docs/totals.md).

`OFFSET n` makes PostgreSQL read and throw away n rows: the last page of a million
orders reads a million index entries and their rows (~0.9 s). A list in the default
order (`created_at`, then `id`) whose filters a per-day count table can answer jumps
instead: the cumulative per-day counts say in which UTC day row number n falls and how
many rows come before that day, and the page is read from that day's start:

    WHERE created_at >= <that day, 00:00 UTC> ORDER BY created_at, id
    OFFSET n - <rows before that day> LIMIT size

(newest first: `created_at < <the day after>`, the rows after it counted instead). The
counts and the page are one statement, so one snapshot: with exact counts kept in the
same transaction as every write (triggers), the page is the one `OFFSET n` returns.
What it still reads: the day table's rows (days × slots [× statuses]) and, within one
day, the rows before the offset.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Select,
    cast,
    func,
    literal,
    literal_column,
    select,
)

# The matches per UTC day of `created_at`: (`day`, `n`) rows (several a day are summed).
DayCounts = Select[date, int]

# Below this offset a plain OFFSET costs less than summing the day table. Measured with
# 200,000 orders over a year and the orders' day table full (a year x 4 statuses x 16 slots:
# 21,960 rows), the page of 100 in process, median of 41 on the shared 2-core machine:
# offset 5,000 plain 27 ms / jump 48 ms; 10,000: 52 / 23; 20,000: 63 / 24; 40,000: 94 / 36.
JUMP_FROM = 10_000


def _utc_midnight(day: ColumnElement[Any]) -> ColumnElement[Any]:
    """The `timestamptz` at which a UTC day starts (`day::timestamp AT TIME ZONE 'UTC'`)."""
    return func.timezone(literal_column("'UTC'"), cast(day, DateTime))


def jump(
    counts: DayCounts,
    offset: int,
    created_at: ColumnElement[Any],
    *,
    descending: bool = False,
) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """The condition that starts the page at the right day, and the rows to skip from it.

    `counts`: a select of (`day`, `n`) rows of the list's matches per UTC day of
    `created_at` (several rows per day are summed: slots, statuses). Both results read one
    CTE, computed once in the page's statement. No day at all (an empty list): the
    condition is NULL (no row) and the skip NULL (none), so the page is empty.
    """
    source = counts.subquery("counted")
    days = (
        select(source.c.day, func.sum(source.c.n).label("n"))
        .group_by(source.c.day)
        .having(func.sum(source.c.n) > 0)
        .subquery("days")
    )
    direction = days.c.day.desc() if descending else days.c.day
    before = func.sum(days.c.n).over(order_by=direction) - days.c.n
    cumulative = select(days.c.day, before.label("before")).subquery("cumulative")
    latest = cumulative.c.day.asc() if descending else cumulative.c.day.desc()
    start = (
        select(cumulative.c.day, cumulative.c.before)
        .where(cumulative.c.before <= offset)
        .order_by(latest)
        .limit(1)
        .cte("jump")
    )
    if descending:
        edge = select(_utc_midnight(start.c.day + 1)).scalar_subquery()
        condition = created_at < edge
    else:
        edge = select(_utc_midnight(start.c.day)).scalar_subquery()
        condition = created_at >= edge
    skip = select(cast(literal(offset) - start.c.before, BigInteger)).scalar_subquery()
    return condition, skip
