"""Responses built as JSON by PostgreSQL, in C: rows never become Python objects.

A list page is one query whose single value is the page's JSON array (plus its length);
the text goes into the envelope as an `orjson.Fragment`, untouched. Timestamps come out
as ISO 8601 with the session's UTC offset (`2026-11-27T10:00:00.123+00:00`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

Columns = Mapping[str, ColumnElement[Any]]
PublicColumns = Callable[[FromClause], Columns]  # the public fields, read from a table or page


def _build_object(columns: Columns) -> ColumnElement[Any]:
    pairs: list[Any] = []
    for key, column in columns.items():
        pairs.extend((key, column))
    return func.json_build_object(*pairs)


def json_object(columns: Columns) -> ColumnElement[str]:
    """One row's public JSON: `json_build_object('key', column, ...)::text`."""
    return cast(_build_object(columns), Text)


async def json_array_page(
    conn: AsyncConnection,
    table: Table,
    public: PublicColumns,
    *,
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[str],
    limit: int | None,
    offset: int,
    fields: Sequence[str] | None = None,
) -> tuple[str, int]:
    """A page of rows as one JSON array (only `fields`, when given) and the count of matches.

    One round trip for the page; a second for the count unless the page is every match.
    """
    ordering = [table.c[key] for key in order_by]
    rows = select(table).where(*where).order_by(*ordering).offset(offset).limit(limit)
    page = rows.subquery("page")
    columns = public(page)
    if fields is not None:
        columns = {key: columns[key] for key in fields}
    ordered = aggregate_order_by(_build_object(columns), *(page.c[key] for key in order_by))
    agg = func.coalesce(func.json_agg(ordered), literal_column("'[]'::json"))
    statement = select(cast(agg, Text), func.count()).select_from(page)
    text, length = (await conn.execute(statement)).one()
    if limit is None and offset == 0:
        return text, length
    count = select(func.count()).select_from(table).where(*where)
    return text, (await conn.execute(count)).scalar_one()
