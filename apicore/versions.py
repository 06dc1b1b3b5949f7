"""Versions of a resource, for ETag / If-Match (optimistic concurrency).

A resource's version is its `updated_at`, which moves on every real change and on
nothing else (a write that changes nothing does not touch the row), written as its
digits: `2026-12-01T19:13:07.123456+00:00` is version `20261201191307123456`. Every
timestamp leaves PostgreSQL in that one format (apicore.sqljson), so the version can be
read straight off a resource's JSON, by the service that wrote it or by the gateway that
passes it on, and turned back into the timestamp a conditional write compares with.

`If-Match` (RFC 9110 13.1.1): `*` matches any existing resource; otherwise a list of
strong entity tags, one of which must be the current version; a weak one never matches.
A mismatch is 412 PRECONDITION_FAILED, and nothing is written. A header that is not `*`
or a list of entity tags at all (unquoted, non-ASCII, empty) is 400 VALIDATION_ERROR,
before any route runs (`if_match_problem`, checked by apicore/headers.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Header
from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.responses import Response

from apicore.errors import PRECONDITION_FAILED, ApiError, validation_error

_UPDATED_AT = re.compile(
    rb'"updated_at":"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})\+00:00"'
)
_VERSION = re.compile(r"\d{20}")
ANY = "*"
# RFC 9110's entity-tag: optionally weak, quoted visible ASCII except `"` (obs-text, bytes
# over 0x7F, is refused: none of our tags has one, and a proxy cannot forward it safely).
_ETAG = re.compile(rb'(?:W/)?"[\x21\x23-\x7e]*"')
IF_MATCH_SYNTAX = 'Must be `*` or a comma-separated list of entity tags ("...") in visible ASCII'
# What `expectedVersion` may hold to become a tag (GraphQL): visible ASCII, no `"`.
_TAG_TEXT = re.compile(r"[\x21\x23-\x7e]*")


def version_of_json(body: bytes | str) -> str | None:
    """The version of the (last) resource in this JSON: the digits of its `updated_at`."""
    raw = body.encode() if isinstance(body, str) else body
    found = _UPDATED_AT.findall(raw)
    return b"".join(found[-1]).decode() if found else None


def version_of_timestamp(updated_at: str) -> str:
    """`2026-12-01T19:13:07.123456+00:00` -> `20261201191307123456` (GraphQL's `version`)."""
    return re.sub(r"\D", "", updated_at.removesuffix("+00:00"))


def etag(version: str) -> str:
    return f'"{version}"'


def timestamp_of(version: str) -> datetime:
    return datetime.strptime(version, "%Y%m%d%H%M%S%f").replace(tzinfo=UTC)


def if_match_problem(value: bytes) -> str | None:
    """What is wrong with an If-Match header's value (None: it is `*` or entity tags).

    `*`, or a comma list of entity tags: empty list elements are ignored, as RFC 9110
    asks of a list's recipient, but at least one tag (an empty condition names nothing).
    A scan, not one regular expression: a 64 KiB header of commas and spaces must not
    make a backtracking pattern take seconds.
    """
    text = value.strip(b" \t")
    if text == b"*":
        return None
    tags, position, separated = 0, 0, True
    while position < len(text):
        byte = text[position]
        if byte in b" \t,":
            separated = separated or byte == 0x2C
            position += 1
            continue
        tag = _ETAG.match(text, position) if separated else None
        if tag is None:
            return IF_MATCH_SYNTAX
        tags, position, separated = tags + 1, tag.end(), False
    return None if tags else IF_MATCH_SYNTAX


def checked_if_match(if_match: str | None) -> str | None:
    """400 VALIDATION_ERROR for an If-Match no service could read (before any write)."""
    if if_match is None:
        return None
    problem = if_match_problem(if_match.encode()) if if_match.isascii() else IF_MATCH_SYNTAX
    if problem is not None:
        raise validation_error("If-Match", problem)
    return if_match


def tag_of_version(version: str, *, field: str) -> str:
    """The If-Match tag of a version a client names (a `version` read before), or 400."""
    if not _TAG_TEXT.fullmatch(version):
        raise validation_error(field, "A version as read (`version`): visible ASCII, no quotes")
    return etag(version)


def parse_if_match(header: str | None) -> list[datetime] | None:
    """None: no condition; []: only `*` (any version); else the versions that may match."""
    if header is None:
        return None
    versions: list[datetime] = []
    for tag in (part.strip() for part in header.split(",")):
        if tag == ANY:
            return []
        if tag.startswith('"') and tag.endswith('"') and _VERSION.fullmatch(tag[1:-1]):
            try:
                versions.append(timestamp_of(tag[1:-1]))
            except ValueError:
                continue  # not a real moment: matches nothing
    if not versions:
        raise precondition_failed()  # weak or malformed tags never match
    return versions


def precondition_failed() -> ApiError:
    return ApiError(
        PRECONDITION_FAILED,
        "The resource has changed since that version (If-Match): read it again",
    )


_Response = TypeVar("_Response", bound=Response)


def with_etag(response: _Response, body: bytes | str) -> _Response:
    """The response, with the ETag of the resource in `body` (when it has a version)."""
    version = version_of_json(body)
    if version is not None:
        response.headers["etag"] = etag(version)
    return response


def matches(current: datetime, wanted: list[datetime] | None) -> None:
    """412 unless the current version is one If-Match names (None or `*`: any)."""
    if wanted and current not in wanted:
        raise precondition_failed()


# `If-Match` as a route reads it (documented in OpenAPI with the route).
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="Write only if the resource is at this ETag"),
]


async def delete_at_version(
    engine: AsyncEngine,
    table: Table,
    row_id: uuid.UUID,
    if_match: list[datetime] | None,
    deleted: Callable[[AsyncConnection], Awaitable[None]] | None = None,
) -> bool:
    """Delete a row (`id`, `updated_at`): False if there is none; 412 if it is not at a
    version `if_match` names (the condition is part of the DELETE: nothing in between).
    `deleted`: run in the delete's transaction once the row is gone (a history entry)."""
    c = table.c
    async with engine.begin() as conn:
        condition = [c.id == row_id]
        if if_match:
            condition.append(c.updated_at.in_(if_match))
        result = await conn.execute(delete(table).where(*condition).returning(c.id))
        if result.first() is not None:
            if deleted is not None:
                await deleted(conn)
            return True
        if if_match and (await conn.execute(select(c.id).where(c.id == row_id))).first():
            raise precondition_failed()
        return False
