"""Finding work in a list of orders: sorting, date ranges, several statuses, a search.

Declared once for the orders service and the gateway (REST) and read the same way by
GraphQL's `orders(...)`: every value is checked here, so a bad one is 400
VALIDATION_ERROR naming its parameter before any query runs.

- `sort`: `created_at` (the default), `updated_at`, `due_date` or `total_amount`,
  ascending, or descending with a leading `-`; ties are broken by the id in the same
  direction, so pages never overlap or skip. Orders with no deadline come last going up
  and first going down (PostgreSQL's order, which the indexes keep).
- `createdFrom`/`createdTo`, `dueFrom`/`dueTo`: whole UTC days, both ends included.
- `statuses`: a comma-separated list of statuses (any of them).
- `q`: a case-insensitive search over the items' products (a substring, at most 100
  characters), served by a trigram index (service_orders/models.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, get_args

from fastapi import Query

from apicore.contract.orders import OrderStatus, parse_date
from apicore.errors import validation_error

SORTABLE = ("created_at", "updated_at", "due_date", "total_amount")
MAX_QUERY_CHARS = 100

SortQuery = Annotated[
    str | None,
    Query(
        description="created_at (default), updated_at, due_date or total_amount;"
        " a leading `-` sorts descending. Ties: by id, the same way"
    ),
]
CreatedFromQuery = Annotated[
    str | None, Query(alias="createdFrom", description="Created on or after (YYYY-MM-DD, UTC)")
]
CreatedToQuery = Annotated[
    str | None, Query(alias="createdTo", description="Created on or before (YYYY-MM-DD, UTC)")
]
DueFromQuery = Annotated[
    str | None, Query(alias="dueFrom", description="Due on or after (YYYY-MM-DD)")
]
DueToQuery = Annotated[
    str | None, Query(alias="dueTo", description="Due on or before (YYYY-MM-DD)")
]
StatusesQuery = Annotated[
    str | None, Query(description="Comma-separated statuses: orders in any of them")
]
SearchQuery = Annotated[
    str | None,
    Query(description="Case-insensitive search in the items' products (at most 100 characters)"),
]


@dataclass(frozen=True, slots=True)
class Finding:
    sort: str = "created_at"
    descending: bool = False
    created_from: date | None = None
    created_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    statuses: tuple[str, ...] | None = None
    q: str | None = None

    def query(self) -> dict[str, str]:
        """As query parameters again (the gateway forwards them)."""
        params: dict[str, str] = {}
        if (self.sort, self.descending) != ("created_at", False):
            params["sort"] = ("-" if self.descending else "") + self.sort
        for name, day in (
            ("createdFrom", self.created_from),
            ("createdTo", self.created_to),
            ("dueFrom", self.due_from),
            ("dueTo", self.due_to),
        ):
            if day is not None:
                params[name] = day.isoformat()
        if self.statuses is not None:
            params["statuses"] = ",".join(self.statuses)
        if self.q is not None:
            params["q"] = self.q
        return params


def _day(name: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return parse_date(raw)
    except ValueError as exc:
        raise validation_error(name, str(exc)) from None


def _range(names: tuple[str, str], first: date | None, last: date | None) -> None:
    if first is not None and last is not None and first > last:
        raise validation_error(names[0], f"Must not be after `{names[1]}`")


def parse_sort(raw: str | None) -> tuple[str, bool]:
    if raw is None:
        return "created_at", False
    descending = raw.startswith("-")
    key = raw.removeprefix("-")
    if key not in SORTABLE:
        raise validation_error("sort", f"Must be one of {', '.join(SORTABLE)}, `-` for descending")
    return key, descending


def parse_statuses(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    known = get_args(OrderStatus)
    asked = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [part for part in asked if part not in known]
    if unknown or not asked:
        raise validation_error("statuses", f"Must be statuses among {', '.join(known)}")
    return tuple(dict.fromkeys(asked))


def parse_search(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        raise validation_error("q", "Must not be blank")
    if len(text) > MAX_QUERY_CHARS:
        raise validation_error("q", f"At most {MAX_QUERY_CHARS} characters")
    if any(ord(char) < 32 or 0xD800 <= ord(char) <= 0xDFFF for char in text):
        # PostgreSQL text holds no NUL; control characters name no product.
        raise validation_error("q", "Must not contain control characters")
    return text


def parse_finding(
    *,
    sort: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    due_from: str | None = None,
    due_to: str | None = None,
    statuses: str | None = None,
    q: str | None = None,
) -> Finding:
    key, descending = parse_sort(sort)
    created = _day("createdFrom", created_from), _day("createdTo", created_to)
    _range(("createdFrom", "createdTo"), *created)
    due = _day("dueFrom", due_from), _day("dueTo", due_to)
    _range(("dueFrom", "dueTo"), *due)
    return Finding(key, descending, *created, *due, parse_statuses(statuses), parse_search(q))
