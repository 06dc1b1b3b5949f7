"""Responses built as JSON by PostgreSQL, in C: rows never become Python objects.

A list page is one query whose single value is the page's JSON array (plus its length);
the text goes into the envelope as an `orjson.Fragment`, untouched. So the text must
already be what orjson writes around it: compact. PostgreSQL's own object builders are
not (`json_build_object` writes `{"id" : 1, "a" : 2}`, `json_agg` puts `, ` and newlines
between elements, `jsonb` prints `{"a": 1}`), so an object is concatenated from
`"key":` prefixes and `to_json(value)` (compact for scalars and arrays; a `json` value
passes as written, so store JSON compactly), and a page is `string_agg` of its objects.
Timestamps are formatted here too, one way whatever the session's time zone:
`2026-11-27T10:00:00.123000+00:00` (always 6 fractional digits).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    FromClause,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import QueryableAttribute

from apicore import paging
from apicore.keyset import ROW, Keyset, page_rows

Columns = Mapping[str, ColumnElement[Any]]
PublicColumns = Callable[[FromClause], Columns]  # the public fields, read from a table or page

# `to_char` pattern of every timestamp we serve (microseconds, UTC).
TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'


def _sql_text(value: str) -> ColumnElement[str]:
    """A constant of ours as an SQL string literal (rendered inline, not a parameter)."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def utc_timestamp(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A `timestamptz` as `2026-11-27T10:00:00.123456+00:00`, whatever the session's zone."""
    return func.to_char(func.timezone(_sql_text("UTC"), column), _sql_text(TIMESTAMP_FORMAT))


def json_object(columns: Columns) -> ColumnElement[str]:
    """One row's public JSON, compact: `{"key":value,…}` (`to_json` of each value)."""
    parts: list[Any] = []
    for index, (key, column) in enumerate(columns.items()):
        prefix = ("{" if index == 0 else ",") + orjson.dumps(key).decode() + ":"
        parts.append(_sql_text(prefix))
        # A NULL would make the whole concatenation NULL.
        parts.append(func.coalesce(func.to_json(column).cast(Text), _sql_text("null")))
    parts.append(_sql_text("}"))
    return func.concat(*parts)


class CountRows:
    """`meta.total` counted over the rows (a second statement): exact, and a scan of every
    match, so only for lists an owner bounds or when the caller asks (`?total=true`)."""


COUNT_ROWS = CountRows()
# How a page's total is had: counted over the rows; a scalar SQL expression read in the
# page's own statement (a summary table's sum: one snapshot, no scan); None: no total.
Total = CountRows | ColumnElement[Any] | None


class JsonPage(NamedTuple):
    """A page as JSON text, the count of matches, and the last row's sort key and id (as
    text, for its cursor: apicore/keyset.py) when more rows follow it, else None."""

    text: str
    total: int | None
    next: tuple[str | None, str] | None


def key_text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A sort key as a cursor holds it: a timestamp to the microsecond in UTC (as served),
    an amount as its exact decimal text, a day as `YYYY-MM-DD`, an id as text."""
    if isinstance(column.type, DateTime):
        return utc_timestamp(column)
    if isinstance(column.type, Date):  # as `to_json` writes it, whatever the DateStyle
        return func.to_char(column, _sql_text("YYYY-MM-DD"))
    return cast(column, Text)


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
    descending: bool = False,
    keyset: Keyset | None = None,
    total: Total = COUNT_ROWS,
    days: paging.DayCounts | None = None,
) -> JsonPage:
    """A page of rows as one JSON array (only `fields`, when given), its total (`total`),
    and the last row's key for the next page's cursor.

    One round trip for the page (and a summary's total); a second for a count over the rows
    unless the page is every match. `order_by` is a sort key then `id` (the tie-breaker);
    `descending`: both go down. `keyset`: the rows after a cursor's row instead of an
    offset (apicore/keyset.py). `days`: the matches per UTC day of `created_at` (`day`,
    `n`), when a table keeps them: a deep offset page in the default order then jumps to
    its day instead of walking every row before it (apicore/paging.py).
    """
    key = order_by[0]
    keyset = keyset or Keyset(key, descending)
    jumped = None
    if (
        days is not None
        and keyset.after is None
        and offset >= paging.JUMP_FROM
        and tuple(order_by) == JUMPABLE
    ):
        jumped = paging.jump(days, offset, table.c.created_at, descending=descending)
    page = page_rows(table, where=where, keyset=keyset, limit=limit, offset=offset, jump=jumped)
    columns = public(page)
    if fields is not None:
        columns = {name: columns[name] for name in fields}
    row = page.c[ROW]
    shown = row <= limit if limit is not None else true()
    separator = aggregate_order_by(_sql_text(","), row)
    objects = func.string_agg(json_object(columns), separator).filter(shown)
    joined = func.coalesce(objects, _sql_text(""))
    last = row == limit if limit else false()  # the page's last row, if one follows it
    summary = [] if total is None or isinstance(total, CountRows) else [total]
    statement = select(
        func.concat(_sql_text("["), joined, _sql_text("]")),
        func.count().filter(shown),
        func.count(),  # limit + 1 when a row follows the page
        func.string_agg(key_text(page.c[key]), _sql_text("")).filter(last),
        func.string_agg(cast(page.c.id, Text), _sql_text("")).filter(last),
        *summary,
    )
    text, length, fetched, last_key, last_id, *summed = (
        await conn.execute(statement.select_from(page))
    ).one()
    following = (last_key, last_id) if limit and fetched > limit else None
    if limit is None and offset == 0 and keyset.after is None:
        return JsonPage(text, length, following)
    if summed:
        return JsonPage(text, int(summed[0] or 0), following)
    if total is None:
        return JsonPage(text, None, following)
    count = select(func.count()).select_from(table).where(*where)
    return JsonPage(text, (await conn.execute(count)).scalar_one(), following)


# The order a deep page can jump in: the one the per-day counts follow.
JUMPABLE = ("created_at", "id")


def among(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column = ANY(:values)`: the list as one array parameter (`column`: a table's column
    or a model's attribute, `Order.user_id`). `IN` would make a parameter of each value,
    each coerced by SQLAlchemy and the statement's text a new one for psycopg to convert at
    every list length: a tenth of the orders service's CPU for a page of 100 users
    (`python -m bench.profile --only S1`). The same rows, the same index use; an empty list
    matches nothing, as `IN ()` would."""
    array = _ARRAYS.get(column.type)
    if array is None:  # one type object per element type: SQLAlchemy caches by it
        array = _ARRAYS[column.type] = ARRAY(column.type)
    return column == any_(bindparam(None, list(values), type_=array))


_ARRAYS: dict[Any, ARRAY[Any]] = {}  # by the column's type object (they live as long)
