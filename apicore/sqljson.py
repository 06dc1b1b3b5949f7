"""Responses built as JSON by PostgreSQL, in C: rows never become Python objects.

A list page is one query whose single value is the page's JSON array (plus its length);
the text goes into the envelope as an `orjson.Fragment`, untouched. Timestamps come out
as ISO 8601 with the session's UTC offset (`2026-11-27T10:00:00.123+00:00`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

Columns = Mapping[str, ColumnElement[Any]]


def json_object(columns: Columns) -> ColumnElement[str]:
    """One row's public JSON: `json_build_object('key', column, ...)::text`."""
    pairs: list[Any] = []
    for key, column in columns.items():
        pairs.extend((key, column))
    return cast(func.json_build_object(*pairs), Text)


async def json_array_page(
    conn: AsyncConnection,
    columns: Columns,
    *,
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[str],
    limit: int | None,
    offset: int,
) -> tuple[str, int]:
    """A page of rows as one JSON array (`row_to_json`, compact), and its length."""
    labelled = [column.label(key) for key, column in columns.items()]
    rows = select(*labelled).where(*where)
    rows = rows.order_by(*(literal_column(key) for key in order_by)).offset(offset).limit(limit)
    page = rows.subquery("page")
    ordered = aggregate_order_by(
        func.row_to_json(literal_column("page")), *(page.c[key] for key in order_by)
    )
    agg = func.coalesce(func.json_agg(ordered), literal_column("'[]'::json"))
    statement = select(cast(agg, Text), func.count()).select_from(page)
    text, length = (await conn.execute(statement)).one()
    return text, length
