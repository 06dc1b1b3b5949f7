"""Reports people can take away: CSV (RFC 4180) of the REST lists and reports.

`Accept: text/csv` or `?format=csv` on `GET /orders`, `/orders/stats` and
`/orders/stats/daily` answers `text/csv; charset=utf-8` instead of the JSON envelope:
a header row, then one row per record, fields quoted where RFC 4180 needs it, lines
ending CRLF. The text is UTF-8 and starts with a byte order mark, so spreadsheets open
Cyrillic as Cyrillic (Excel reads a CSV without it in the machine's legacy code page).
GraphQL stays JSON.

`GET /orders` as CSV is every matching order the caller may read, not a page: the gateway
asks the orders service for pages of 1,000 (the caller's filters, scope and sort) and
streams each as it arrives, so memory stays one page whatever the size. `offset` starts
later, and `limit` (if given) caps the rows. Errors found before the first row (a bad
parameter, a service down) are the usual JSON error envelope; a service failing later
cuts the stream short (the transfer ends without its last chunk: a client sees an
incomplete body, never a short file that looks whole). Pages follow the sort with the id
as tie-breaker; an order created or deleted while the export runs may shift a page
boundary (a row seen twice or not at all), as with any paging by offset.

Hand-written on top of the standard library's `csv` module (which does the quoting):
what is left is choosing the format and the columns, a dozen lines.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query, Request
from starlette.responses import Response, StreamingResponse

from graphql_gateway.clients.base import ServiceClient

CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"
BOM = "\ufeff"
EXPORT_PAGE = 1000

FormatQuery = Annotated[
    Literal["json", "csv"] | None,
    Query(alias="format", description="csv: RFC 4180 CSV (as `Accept: text/csv`); default json"),
]

# As documented in the OpenAPI contract: the 200 may be CSV too.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}

ORDER_COLUMNS = (
    "id",
    "user_id",
    "assignee_id",
    "status",
    "total_amount",
    "due_date",
    "overdue",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "items",
)


def _quality(part: str) -> float:
    for param in part.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def wants_csv(request: Request, format_: str | None) -> bool:
    """`?format=` decides; else `Accept` names text/csv, at least as wanted as JSON."""
    if format_ is not None:
        return format_ == "csv"
    accept = request.headers.get("accept", "")
    csv_q = json_q = 0.0
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media == "text/csv":
            csv_q = max(csv_q, _quality(part))
        elif media in ("application/json", "application/*", "*/*"):
            json_q = max(json_q, _quality(part))
    return csv_q > 0 and csv_q >= json_q


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()  # items: JSON, Cyrillic as it is
    return str(value)


def _lines(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def csv_response(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    return Response(BOM + _lines([columns, *rows]), media_type=CSV_MEDIA_TYPE)


def without_format(request: Request) -> list[tuple[str, str]]:
    """The client's query parameters less `format`, which only the gateway reads."""
    return [(k, v) for k, v in request.query_params.multi_items() if k != "format"]


async def orders_csv(
    client: ServiceClient,
    query: list[tuple[str, str]],
    *,
    offset: int,
    limit: int | None,
    columns: Sequence[str],
) -> Response:
    """Every order `query` matches (from `offset`, at most `limit`), streamed page by page."""
    base = [(k, v) for k, v in query if k not in ("limit", "offset", "fields")]
    size = EXPORT_PAGE if limit is None else min(limit, EXPORT_PAGE)

    async def fetch(start: int, count: int) -> tuple[list[dict[str, Any]], int | None]:
        params = [*base, ("limit", str(count)), ("offset", str(start))]
        body = (await client.fetch("GET", "/orders", params=params)).body
        return body["data"], body["meta"]["total"]

    first, total = await fetch(offset, size)  # errors before any row: the JSON envelope
    if total is None:  # not counted (a search: docs/totals.md): read until a short page
        wanted = sys.maxsize if limit is None else limit
    else:
        wanted = max(0, total - offset) if limit is None else min(limit, max(0, total - offset))

    async def body() -> AsyncIterator[bytes]:
        yield (BOM + _lines([columns])).encode()
        page, start, sent = first, offset, 0
        while True:
            page = page[: wanted - sent]
            yield _lines([[order.get(c) for c in columns] for order in page]).encode()
            sent += len(page)
            start += len(page)
            # Done at the count the first page gave; a shorter page means rows went away.
            if sent >= wanted or len(page) < min(size, wanted - sent + len(page)):
                return
            page, _ = await fetch(start, min(size, wanted - sent))

    return StreamingResponse(body(), media_type=CSV_MEDIA_TYPE)


def stats_rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """One row per status, then `all` with every figure of the report."""
    columns = ["status", "count", "total_amount", "overdue", "on_time", "late", "on_time_share"]
    rows: list[list[Any]] = [
        [s["status"], s["count"], s["total_amount"], None, None, None, None]
        for s in report["by_status"]
    ]
    rows.append(
        [
            "all",
            report["count"],
            report["total_amount"],
            report["overdue"],
            report.get("on_time"),
            report.get("late"),
            report.get("on_time_share"),
        ]
    )
    return columns, rows


def days_rows(days: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    return ["date", "created", "completed"], [
        [d["date"], d["created"], d["completed"]] for d in days
    ]
