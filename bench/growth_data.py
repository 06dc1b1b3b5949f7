"""The growth benchmark's data: users and orders written in SQL, and the plain SQL figures
its reports are checked against (bench/growth.py).

Seeding goes through the tables with plain INSERTs, so whatever triggers the migrations
put on them (summary tables kept by the database) see every row and stay exact. Only the
orders' secondary indexes are dropped for the load and built again from their own
definitions afterwards, two at a time: measured on the shared 2-core machine (load
average 9 to 15, other work running), 200,000 orders took 29 to 36 s to seed with the
indexes kept and 11 to 12 s with them rebuilt; a million take about 50 s that way, the
trigram index's build most of it.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from apicore.db import libpq_url
from bench.finding import CATALOGUE

# Users 1..N get these ids, so the orders can name their owners without reading them back.
USER_ID_PREFIX = "00000000-0000-4000-8000-"
ASSIGNEES = 500  # users 1..500 are the engineers a quarter of the orders are assigned to
MAX_USERS = 10_000_000
MAX_ORDERS = 100_000_000
BILLS = 997  # distinct item lists (a prime: they do not line up with owners or dates)

FIRST_NAMES = ["Анна", "Пётр", "Мария", "Иван", "Ольга", "Сергей", "Елена", "Дмитрий"]
SURNAMES = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Волков"]

# Emails as `POST /users` stores them (trimmed, lower-case: apicore.contract.users
# .canonical_email), unique; roles among service_users.models.ROLES; created over the
# last two years, oldest first.
USERS = """
INSERT INTO users (id, email, name, roles, created_at, updated_at)
SELECT id, email, name, roles, created, created
FROM (
    SELECT (%(prefix)s || lpad(to_hex(n), 12, '0'))::uuid AS id,
           'user' || n || '@growth.example' AS email,
           (%(first)s::text[])[1 + n %% cardinality(%(first)s::text[])] || ' '
               || (%(last)s::text[])[1 + n %% cardinality(%(last)s::text[])] || ' ' || n
               AS name,
           CASE WHEN n <= %(assignees)s THEN '{engineer}'
                WHEN n %% 1000 = 0 THEN '{manager}'
                ELSE '{customer}' END::text[] AS roles,
           now() - (%(users)s - n + 1) * (interval '730 days' / %(users)s) AS created
    FROM generate_series(1, %(users)s) AS n
) AS drawn
"""

# Orders of users 1..N in turn, created over the last 400 days (random, seeded: the same
# data every run). Old orders are mostly completed or cancelled, recent ones mostly open;
# 10 % have no deadline, the others one 3 to 60 days after creation, so the open ones past
# it are overdue. Completed orders finish 1 to 61 days after creation: on time or late.
# Items: one to three lines of the catalogue of bench/finding.py, compact JSON as the
# service writes it (service_orders migration 0002), and total_amount their exact sum.
ORDERS = """
WITH bill AS (
    SELECT b,
           concat('[', string_agg(concat('{"product":', to_json(line.product),
                                         ',"quantity":', line.quantity,
                                         ',"price":"', line.price, '"}'), ',' ORDER BY k),
                  ']')::json AS items,
           sum(line.quantity * line.price::numeric) AS total
    FROM generate_series(0, %(bills)s - 1) AS b
    CROSS JOIN LATERAL generate_series(1, 1 + b %% 3) AS k
    CROSS JOIN LATERAL (
        SELECT (%(catalogue)s::text[])[1 + (b + 5 * k) %% %(products)s] AS product,
               1 + (b * k) %% 40 AS quantity,
               to_char(50 + ((b + 5 * k) %% %(products)s) * 37.5, 'FM99990.00') AS price
    ) AS line
    GROUP BY b
)
INSERT INTO orders (user_id, assignee_id, items, status, total_amount, due_date, created_at,
                    updated_at, completed_at)
SELECT o.owner, o.assignee, bill.items, o.status, bill.total, o.due, o.created,
       coalesce(o.done, o.created + (now() - o.created) * o.touch), o.done
FROM (
    SELECT s.*,
           CASE WHEN s.status = 'completed'
                THEN least(s.created + (1 + s.pace * 60) * interval '1 day', now()) END AS done
    FROM (
        SELECT n, created, touch, pace,
               (%(prefix)s || lpad(to_hex(1 + n %% %(users)s), 12, '0'))::uuid AS owner,
               CASE WHEN n %% 4 = 0 THEN (%(prefix)s
                   || lpad(to_hex(1 + (n / 4) %% least(%(users)s, %(assignees)s)), 12, '0'))::uuid
               END AS assignee,
               CASE WHEN now() - created > interval '60 days'
                    THEN CASE WHEN fate < 0.80 THEN 'completed' WHEN fate < 0.95 THEN 'cancelled'
                              WHEN fate < 0.98 THEN 'in_progress' ELSE 'created' END
                    ELSE CASE WHEN fate < 0.30 THEN 'created' WHEN fate < 0.65 THEN 'in_progress'
                              WHEN fate < 0.90 THEN 'completed' ELSE 'cancelled' END
               END AS status,
               CASE WHEN touch < 0.10 THEN NULL
                    ELSE (created AT TIME ZONE 'UTC')::date + 3 + (n / 10) %% 58 END AS due
        FROM (
            SELECT n, now() - random() * interval '400 days' AS created,
                   random() AS fate, random() AS touch, random() AS pace
            FROM generate_series(%(first)s::integer, %(last)s::integer) AS n
        ) AS drawn
    ) AS s
) AS o
JOIN bill ON bill.b = o.n %% %(bills)s
"""

# The orders' indexes that no constraint owns (the primary key stays), with their definitions.
SECONDARY_INDEXES = """
SELECT i.relname, pg_get_indexdef(x.indexrelid)
FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
WHERE x.indrelid = 'orders'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = x.indexrelid)
ORDER BY i.relname
"""

# Room for each index build (the default is 64 MB); 1 GB built a million orders' indexes no
# faster here.
BUILD_MEMORY = "SET maintenance_work_mem = '256MB'"


@dataclass(frozen=True)
class Size:
    users: int
    per_user: int

    @property
    def orders(self) -> int:
        return self.users * self.per_user

    @classmethod
    def parse(cls, text: str) -> Size:
        """`5000x5` or `5000×5`: users × orders per user, each at least 1, within bounds
        (MAX_USERS: seeded users' ids; MAX_ORDERS: what this machine can seed)."""
        match = re.fullmatch(r"([0-9]{1,12})[x×]([0-9]{1,12})", text.strip().lower())
        if match is None:
            raise ValueError(f"{text!r}: expected USERSxORDERS, e.g. 5000x5")
        size = cls(int(match[1]), int(match[2]))
        if size.users < 1 or size.per_user < 1:
            raise ValueError(f"{text!r}: users and orders per user must be at least 1")
        if size.users > MAX_USERS or size.orders > MAX_ORDERS:
            raise ValueError(
                f"{text!r}: at most {MAX_USERS:,} users and {MAX_ORDERS:,} orders in all"
            )
        return size

    def __str__(self) -> str:
        return f"{self.users:,} users × {self.per_user} orders"


def user_id(n: int) -> str:
    """The id of seeded user n (1-based)."""
    return f"{USER_ID_PREFIX}{n:012x}"


def seed_users(url: str, size: Size) -> dict[str, float]:
    params = {
        "prefix": USER_ID_PREFIX,
        "first": FIRST_NAMES,
        "last": SURNAMES,
        "assignees": ASSIGNEES,
        "users": size.users,
    }
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(USERS, params)
        conn.execute("VACUUM ANALYZE")  # every table, whatever the migrations added
    return {"users": time.perf_counter() - started}


def seed_orders(url: str, size: Size) -> dict[str, float]:
    """The orders, their secondary indexes rebuilt after the load, then VACUUM ANALYZE of
    every table, summaries included (what autovacuum would have done: index-only scans
    need the visibility map). The seconds each step took."""
    params = {
        "prefix": USER_ID_PREFIX,
        "assignees": ASSIGNEES,
        "users": size.users,
        "bills": BILLS,
        "catalogue": CATALOGUE,
        "products": len(CATALOGUE),
    }
    steps = {}
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        indexes = conn.execute(SECONDARY_INDEXES).fetchall()
        with conn.transaction():
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
    _insert(url, params, size.orders)
    steps["orders insert"] = time.perf_counter() - started
    _build(url, [definition for _, definition in indexes])
    steps["orders indexes"] = time.perf_counter() - started - steps["orders insert"]
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    steps["VACUUM ANALYZE"] = time.perf_counter() - started - sum(steps.values())
    return steps


def _insert(url: str, params: dict[str, Any], orders: int) -> None:
    """The orders in two halves, side by side (the machine's cores: an INSERT … SELECT is
    not parallel in PostgreSQL), each with its own random seed: the same data every run."""

    def insert(half: int) -> None:
        first, last = half * orders // 2, (half + 1) * orders // 2 - 1
        with psycopg.connect(libpq_url(url), autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT setseed(%s)", [0.25 + half / 4])
            conn.execute(ORDERS, {**params, "first": first, "last": last})

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(insert, half) for half in (0, 1)]:
            future.result()


def _build(url: str, definitions: list[str]) -> None:
    """Build the indexes two at a time (the machine's cores), the trigram one first."""

    def build(definition: str) -> None:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(BUILD_MEMORY)
            conn.execute(definition)

    slowest_first = sorted(definitions, key=lambda d: " USING gin " not in d)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(build, definition) for definition in slowest_first]:
            future.result()


def seed(users_url: str, orders_url: str, size: Size) -> tuple[float, dict[str, float]]:
    """Both databases, side by side: the seconds taken, and each step's (users alongside)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        users = pool.submit(seed_users, users_url, size)
        orders = pool.submit(seed_orders, orders_url, size)
        steps = {**users.result(), **orders.result()}
    return time.perf_counter() - started, steps


# The figures of GET /orders/stats, as a plain count and sum over the rows
# (service_orders/reports.py: overdue as repository.is_overdue; on time or late: completed
# with a deadline, by the UTC day it was completed).
PLAIN_STATS = """
SELECT status, count(*) AS count, coalesce(sum(total_amount), 0) AS amount,
       count(*) FILTER (WHERE due_date < (now() AT TIME ZONE 'UTC')::date
                          AND status IN ('created', 'in_progress')) AS overdue,
       count(*) FILTER (WHERE status = 'completed' AND due_date IS NOT NULL
                          AND (completed_at AT TIME ZONE 'UTC')::date <= due_date) AS on_time,
       count(*) FILTER (WHERE status = 'completed' AND due_date IS NOT NULL
                          AND (completed_at AT TIME ZONE 'UTC')::date > due_date) AS late
FROM orders
WHERE (%(first)s::date IS NULL OR created_at >= %(first)s::date::timestamp AT TIME ZONE 'UTC')
  AND (%(owner)s::uuid IS NULL OR user_id = %(owner)s::uuid)
GROUP BY status
"""

# GET /orders/stats/daily's figures: orders created, and completed, on each UTC day.
PLAIN_DAILY = """
SELECT day::date AS date,
       (SELECT count(*) FROM orders
        WHERE created_at >= day AT TIME ZONE 'UTC'
          AND created_at < (day + interval '1 day') AT TIME ZONE 'UTC') AS created,
       (SELECT count(*) FROM orders
        WHERE completed_at >= day AT TIME ZONE 'UTC'
          AND completed_at < (day + interval '1 day') AT TIME ZONE 'UTC') AS completed
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS day
ORDER BY day
"""


def plain_stats(url: str, *, first: Any = None, owner: str | None = None) -> dict[str, Any]:
    """GET /orders/stats's body as it should be, counted over the rows."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(PLAIN_STATS, {"first": first, "owner": owner}).fetchall()
    by_status = {status: (count, amount) for status, count, amount, *_ in rows}
    return {
        "count": sum(row[1] for row in rows),
        "total_amount": _money(sum((row[2] for row in rows), Decimal(0))),
        "overdue": sum(row[3] for row in rows),
        "on_time": sum(row[4] for row in rows),
        "late": sum(row[5] for row in rows),
        "by_status": {
            status: {"count": count, "total_amount": _money(amount)}
            for status, (count, amount) in sorted(by_status.items())
            if count
        },
    }


def plain_daily(url: str, first: Any, last: Any) -> list[dict[str, Any]]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(PLAIN_DAILY, {"first": first, "last": last}).fetchall()
    return [{"date": day.isoformat(), "created": c, "completed": d} for day, c, d in rows]


def plain_count(url: str, table: str = "orders") -> int:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None  # a count is one row
        return int(row[0])


def plain_page(url: str, table: str, offset: int, limit: int = 100) -> list[str]:
    """The ids of a list's default page (oldest first, ties by id), by plain OFFSET."""
    query = f"SELECT id FROM {table} ORDER BY created_at, id OFFSET %s LIMIT %s"
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        return [str(row[0]) for row in conn.execute(query, [offset, limit])]


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"
