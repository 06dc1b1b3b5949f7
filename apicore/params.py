"""Query parameters both services (and the gateway) read the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Path, Query

from apicore.contract.orders import MAX_TOTAL, OrderStatus, parse_date
from apicore.errors import validation_error

MAX_BATCH_IDS = 500
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Limit = Annotated[int | None, Query(ge=0, le=MAX_LIMIT, description="Page size (default 100)")]
MAX_OFFSET = 1_000_000_000  # far beyond any table here, far below PostgreSQL's bigint
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]

# `?total=true`: an exact `meta.total` even where it is a count of every match (a search, an
# amount or due range): without it such a list's total is null (docs/totals.md). Only the
# two words: `1`, `yes` or `TRUE` are 400, so the gateway and a service never read it apart.
TotalQuery = Annotated[
    Literal["true", "false"] | None,
    Query(description="true: count every match for meta.total where no summary knows it"),
]


def wants_total(raw: str | None) -> bool:
    return raw == "true"


# The filters of the list routes, declared once for the services and the gateway.
IdsQuery = Annotated[
    str | None, Query(description="Comma-separated user ids (at most 500): every match")
]
UserIdQuery = Annotated[uuid.UUID | None, Query(alias="userId", description="Orders of one user")]
UserIdsQuery = Annotated[
    str | None,
    Query(alias="userIds", description="Comma-separated user ids (at most 500): every match"),
]
AssigneeIdQuery = Annotated[
    uuid.UUID | None, Query(alias="assigneeId", description="Orders assigned to one user")
]
AssigneeIdsQuery = Annotated[
    str | None,
    Query(alias="assigneeIds", description="Comma-separated assignee ids (at most 500)"),
]
StatusQuery = Annotated[OrderStatus | None, Query(description="Only orders in this status")]
OverdueQuery = Annotated[
    bool | None,
    Query(description="true: only overdue orders (past due, still open); false: only the others"),
]


# An order's total between two amounts, both included (`total_amount`, in cents).
def amount_query(alias: str, description: str) -> Any:
    """An amount filter's parameter: money as our orders hold it (NUMERIC(10,2), >= 0)."""
    return Annotated[
        Decimal | None,
        Query(
            alias=alias,
            ge=0,
            # FastAPI types the bound as a float; Pydantic compares it as given, and a
            # Decimal bound is exact where a float one is not.
            le=MAX_TOTAL,  # type: ignore[arg-type]  # fastapi: `le` typed float (see above)
            max_digits=10,
            decimal_places=2,
            allow_inf_nan=False,
            description=description,
        ),
    ]


MinAmountQuery = amount_query("minAmount", "Only orders whose total is at least this")
MaxAmountQuery = amount_query("maxAmount", "Only orders whose total is at most this")


def checked_amounts(
    low: Decimal | None, high: Decimal | None, *, field: str = "minAmount"
) -> tuple[Decimal | None, Decimal | None]:
    """`minAmount` and `maxAmount` (either may be absent): 400 unless low <= high."""
    if low is not None and high is not None and low > high:
        raise validation_error(field, "Must not be more than the maximum amount")
    return low, high


# Reports' periods: whole UTC days, both ends included.
FromQuery = Annotated[
    str | None, Query(alias="from", description="First day (YYYY-MM-DD, UTC), included")
]
ToQuery = Annotated[
    str | None, Query(alias="to", description="Last day (YYYY-MM-DD, UTC), included")
]
MAX_REPORT_DAYS = 366  # a per-day series: a year at most
DEFAULT_REPORT_DAYS = 30


def parse_period(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    """The days of `from` and `to` (either may be absent): 400 unless `from` <= `to`."""
    days: list[date | None] = []
    for name, raw in (("from", first), ("to", last)):
        try:
            days.append(None if raw is None else parse_date(raw))
        except ValueError as exc:
            raise validation_error(name, str(exc)) from None
    return checked_period(*days)


def checked_period(start: date | None, end: date | None) -> tuple[date | None, date | None]:
    if start is not None and end is not None and start > end:
        raise validation_error("from", "Must not be after `to`")
    return start, end


def day_after(day: date) -> date | None:
    """The day after `day`, or None after 9999-12-31 (`date.max`, the calendar's last day).

    A period whose last day is `date.max` therefore has no upper bound: `to=9999-12-31` is a
    valid date and asks for everything up to the end of time, so it is answered (200) with
    those figures rather than refused. The one place this edge is handled, for every report.
    """
    return None if day == date.max else day + timedelta(days=1)


def days_back(day: date, days: int) -> date:
    """`day` minus `days` days, clamped at 0001-01-01 (`date.min`): never an overflow."""
    return date.min + timedelta(days=max(0, (day - date.min).days - days))


def daily_period(first: str | None, last: str | None) -> tuple[date, date]:
    return daily_days(*parse_period(first, last))


def daily_days(start: date | None, end: date | None) -> tuple[date, date]:
    """A per-day series' days: by default the 30 days up to today (UTC); a year at most."""
    start, end = checked_period(start, end)
    if end is None:
        today = datetime.now(UTC).date()
        end = today if start is None else max(today, start)
    if start is None:
        # The default series is the 30 days up to `end`, clamped at the calendar's first day:
        # `to=0001-01-01` alone is a valid 1-day series (0001-01-01 only), not an error.
        start = days_back(end, DEFAULT_REPORT_DAYS - 1)
    if (end - start).days >= MAX_REPORT_DAYS:
        raise validation_error("to", f"A series covers at most {MAX_REPORT_DAYS} days")
    return start, end


def parse_id_list(raw: str | None, *, field: str) -> list[uuid.UUID] | None:
    """`a,b,c` -> UUIDs, at most 500, duplicates dropped; None when the filter is absent."""
    if raw is None:
        return None
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if len(parts) > MAX_BATCH_IDS:
        raise validation_error(field, f"At most {MAX_BATCH_IDS} ids per request")
    ids: dict[uuid.UUID, None] = {}
    for part in parts:
        try:
            ids[uuid.UUID(part)] = None
        except ValueError:
            raise validation_error(field, f"Not a valid UUID: {part[:64]}") from None
    return list(ids)


FieldsQuery = Annotated[
    str | None,
    Query(description="Comma-separated public fields to return (default: all); id always"),
]


def parse_fields(raw: str | None, *, allowed: tuple[str, ...]) -> list[str] | None:
    """`a,b` -> the public fields asked for, in their usual order, with `id` always first."""
    if raw is None:
        return None
    asked = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(asked.difference(allowed))
    if unknown:
        raise validation_error("fields", f"Unknown field(s): {', '.join(unknown)[:200]}")
    return [field for field in allowed if field in asked or field == "id"]


def effective_limit(limit: int | None, *, batch: bool) -> int | None:
    """A batch filter returns every match unless a limit is given; a plain list pages by 100."""
    if limit is not None:
        return limit
    return None if batch else DEFAULT_LIMIT


# `/users/{id}`, as the original API spells it (and generated clients call the argument).
ResourceId = Annotated[uuid.UUID, Path(alias="id", description="The resource's id")]
