"""Cursor (keyset) pagination: the opaque `after` cursor and the rows after it.

An offset page makes PostgreSQL read and throw away every row before it, so a deep page
costs as much as the whole list up to it; and a row inserted or deleted in front of it
shifts every later page by one (a row seen twice or never). A cursor instead names the
last row a client saw by its sort key and id, and the next page is "the rows after that
key" in the list's order: one read of the sort's index from that point (see
docs/pagination.md), whatever the depth, and rows inserted meanwhile never shift it.

The cursor is URL-safe base64 of compact JSON, `[version, list, sort, keys]`, where
`keys` are the last row's sort key (as text, exactly: timestamps with their
microseconds, amounts as decimal text, `null` for an order without a deadline) and its
id, followed by a short digest. It is opaque to clients and not trusted: its length is
capped, every part is decoded defensively and checked for type and range, and a cursor
made for another list or sort, edited, or malformed is 400 VALIDATION_ERROR naming
`after`. The digest is a checksum, not a secret: a hand-made cursor can only choose
where a page starts, which the filters can do anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import operator
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import Query
from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    Table,
    func,
    literal,
    select,
    tuple_,
    union_all,
)

from apicore.errors import validation_error

FIELD = "after"
MAX_CURSOR_CHARS = 512  # ours are under 200; anything longer is not one of ours
_VERSION = 1
_DIGEST_BYTES = 8
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00")
_AMOUNT = re.compile(r"\d{1,8}\.\d{2}")  # NUMERIC(10,2), never negative
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

AfterQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_CHARS,
        description="The cursor of the page before (`meta.next`): the page after it."
        " Not with `offset`",
    ),
]


def _timestamp(text: str) -> datetime:
    if not _TIMESTAMP.fullmatch(text):
        raise ValueError(text)
    return datetime.fromisoformat(text)


def _amount(text: str) -> Decimal:
    if not _AMOUNT.fullmatch(text):
        raise ValueError(text)
    return Decimal(text)


def _day(text: str) -> date:
    if not _DAY.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)


def _id(text: str) -> uuid.UUID:
    if not _UUID.fullmatch(text):
        raise ValueError(text)
    return uuid.UUID(text)


# How each sort key is read back from a cursor (its text is what `key_text` wrote).
READERS: dict[str, Callable[[str], Any]] = {
    "created_at": _timestamp,
    "updated_at": _timestamp,
    "due_date": _day,
    "total_amount": _amount,
}
NULLABLE = frozenset({"due_date"})  # NULLs last going up, first going down


@dataclass(frozen=True, slots=True)
class Keyset:
    """Where a list is read from: its sort (key, direction) and the last row seen."""

    key: str
    descending: bool
    after: tuple[Any, uuid.UUID] | None = None  # (the last row's key value, its id)


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_BYTES, person=b"apicore.keyset").digest()


def encode(kind: str, key: str, descending: bool, keys: Sequence[str | None]) -> str:
    """The cursor after a row whose sort key and id are `keys` (as text) in list `kind`."""
    sort = ("-" if descending else "") + key
    payload = orjson.dumps([_VERSION, kind, sort, list(keys)])
    return base64.urlsafe_b64encode(payload + _digest(payload)).rstrip(b"=").decode()


def _invalid(message: str = "Not a cursor of this list (use `meta.next` as it came)") -> Exception:
    return validation_error(FIELD, message)


def _payload(cursor: str) -> Any:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid(f"At most {MAX_CURSOR_CHARS} characters")
    if not _TOKEN.fullmatch(cursor):
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _invalid() from None
    payload, digest = raw[:-_DIGEST_BYTES], raw[-_DIGEST_BYTES:]
    if len(raw) <= _DIGEST_BYTES or _digest(payload) != digest:
        raise _invalid()
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise _invalid() from None


def decode(cursor: str, *, kind: str, key: str, descending: bool) -> Keyset:
    """The keyset a cursor names, for list `kind` sorted by `key`: 400 naming `after` when
    it does not decode, was edited, or was made for another list or another sort."""
    parsed = _payload(cursor)
    if not (
        isinstance(parsed, list)
        and len(parsed) == 4
        and type(parsed[0]) is int  # not `true`, which equals 1
        and parsed[0] == _VERSION
        and parsed[1] == kind
        and isinstance(parsed[3], list)
        and len(parsed[3]) == 2
    ):
        raise _invalid()
    sort = ("-" if descending else "") + key
    if parsed[2] != sort:
        raise _invalid(f"A cursor of another sort order (`{str(parsed[2])[:40]}`), not `{sort}`")
    value, row_id = parsed[3]
    try:
        if not isinstance(row_id, str) or not (value is None or isinstance(value, str)):
            raise ValueError
        if value is None and key not in NULLABLE:
            raise ValueError
        typed = None if value is None else READERS[key](value)
        return Keyset(key, descending, (typed, _id(row_id)))
    except ValueError:
        raise _invalid() from None


def _after(table: Table, keyset: Keyset) -> list[list[ColumnElement[bool]]]:
    """The rows after the cursor, as the conditions of one or two index range reads.

    Where the key has a value, a row-value comparison `(key, id) > (:key, :id)` (`<` going
    down) is one range of the `(key, id)` index. NULL keys sort after every value going up
    and before every value going down (PostgreSQL's order, which the index keeps), and a
    comparison with NULL is never true, so the NULL rows are a second range of their own:
    after a valued key going up, every NULL row follows; after a NULL key going down, the
    remaining NULL rows and then every valued row. Each range is read in index order and
    the two are concatenated (`page_rows`), never an `OR` that would filter a whole scan.
    """
    assert keyset.after is not None
    value, row_id = keyset.after
    column, ids = table.c[keyset.key], table.c.id
    later = operator.lt if keyset.descending else operator.gt
    if value is not None:
        bound = tuple_(literal(value, column.type), literal(row_id, ids.type))
        ranges = [[later(tuple_(column, ids), bound)]]
        if keyset.key in NULLABLE and not keyset.descending:
            ranges.append([column.is_(None)])
        return ranges
    ranges = [[column.is_(None), later(ids, literal(row_id, ids.type))]]
    if keyset.descending:
        ranges.append([column.is_not(None)])
    return ranges


ROW = "_row"  # each page row's place (1-based) in the page the query read


def page_rows(
    table: Table,
    *,
    where: Sequence[ColumnElement[bool]],
    keyset: Keyset,
    limit: int | None,
    offset: int,
    jump: tuple[ColumnElement[bool], ColumnElement[int]] | None = None,
) -> Subquery:
    """The page's rows, numbered (`_row`), plus one more when there is one (`limit` + 1):
    so whether a next page exists is known without counting. `jump`: a deep offset page's
    start condition and the rows to skip from there (apicore/paging.py), instead of
    `offset`."""
    fetch = None if limit is None else limit + 1

    def ordering(source: Any) -> list[ColumnElement[Any]]:
        columns = (source.c[keyset.key], source.c.id)
        return [column.desc() if keyset.descending else column for column in columns]

    def read(conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
        return select(table).where(*where, *conditions).order_by(*ordering(table)).limit(fetch)

    if keyset.after is None and jump is not None:
        condition, skip = jump
        rows = read([condition]).offset(skip).subquery("rows")
    elif keyset.after is None:
        rows = read([]).offset(offset).subquery("rows")
    else:
        ranges = [read(conditions) for conditions in _after(table, keyset)]
        rows = (ranges[0] if len(ranges) == 1 else union_all(*ranges)).subquery("rows")
    number = func.row_number().over(order_by=ordering(rows)).label(ROW)
    return select(rows, number).order_by(*ordering(rows)).limit(fetch).subquery("page")


def starting(
    after: str | None, *, offset: int, kind: str, key: str, descending: bool
) -> Keyset | None:
    """The keyset of a list request's `after` (None without one); 400 naming `after` for a
    cursor that is not one of this list and sort, or one sent with an offset."""
    if after is None:
        return None
    if offset > 0:
        raise validation_error(FIELD, "A cursor or an offset, not both")
    return decode(after, kind=kind, key=key, descending=descending)


def following(
    kind: str, key: str, descending: bool, last: tuple[str | None, str] | None
) -> str | None:
    """`meta.next`: the cursor after a page's last row, None when no row follows it."""
    return None if last is None else encode(kind, key, descending, last)
