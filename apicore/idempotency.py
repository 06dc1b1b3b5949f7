"""Idempotency keys on creates (`Idempotency-Key`), kept by the service that owns the row.

A client whose create timed out or lost its connection cannot know whether it happened;
with a key it can simply send it again. The key is stored in the same transaction as the
row it created, with a fingerprint of the request and the answer given, for 24 hours:

- the same key and the same request again: the original answer (same id, same status),
  with `Idempotent-Replayed: true`, and nothing is written;
- the same key with another request: 422 IDEMPOTENCY_KEY_REUSED;
- the same key while the first is still being served: 409 IDEMPOTENCY_KEY_IN_USE (a
  transaction-scoped advisory lock on the key, taken without waiting).

Only what was created is remembered: a create that failed wrote nothing, so sending it
again simply tries again. Each service keeps its keys in its own `idempotency_keys` table
(the same definition in both: `define_table`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from apicore.envelope import RawJson, ok
from apicore.errors import (
    IDEMPOTENCY_KEY_IN_USE,
    IDEMPOTENCY_KEY_REUSED,
    ApiError,
    validation_error,
)
from apicore.versions import with_etag

KEEP = "24 hours"
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# Visible ASCII, as RFC 9110 tokens and UUIDs are; bounded so the table stays small.
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
KEY_PROBLEM = "1 to 255 visible ASCII characters"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="Send a create again with the same key: it happens once (24 h)",
    ),
]


def define_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("key", Text, primary_key=True),
        Column("fingerprint", LargeBinary, nullable=False),
        Column("status", SmallInteger, nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )


def key_problem(key: str) -> str | None:
    """What is wrong with a key (None: nothing); apicore/headers.py checks the header."""
    return None if _KEY.fullmatch(key) else KEY_PROBLEM


def checked_key(key: str | None) -> str | None:
    """The key, or 400 (a GraphQL `idempotencyKey` is only checked here)."""
    if key is None:
        return None
    problem = key_problem(key)
    if problem is not None:
        raise validation_error(HEADER, problem)
    return key


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).digest()


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: str


@dataclass(frozen=True, slots=True)
class Idempotency:
    table: Table
    key: str
    fingerprint: bytes

    async def begin(self, conn: AsyncConnection) -> Replay | None:
        """In the create's transaction, first: the answer to replay, or None to go ahead."""
        lock = select(func.pg_try_advisory_xact_lock(func.hashtextextended(self.key, 0)))
        if not (await conn.execute(lock)).scalar_one():
            raise ApiError(
                IDEMPOTENCY_KEY_IN_USE,
                "A request with this Idempotency-Key is still being served; retry shortly",
                headers={"Retry-After": "1"},
            )
        c = self.table.c
        found = (
            await conn.execute(
                select(c.fingerprint, c.status, c.body).where(
                    c.key == self.key, c.created_at > func.now() - text(f"interval '{KEEP}'")
                )
            )
        ).first()
        if found is None:
            return None
        if found.fingerprint != self.fingerprint:
            raise ApiError(
                IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was used for another request",
            )
        return Replay(found.status, found.body)

    async def store(self, conn: AsyncConnection, status: int, body: str) -> None:
        """In the same transaction, last: remember the answer (replacing an expired one)."""
        c = self.table.c
        values = {"key": self.key, "fingerprint": self.fingerprint, "status": status, "body": body}
        statement = pg_insert(self.table).values(**values, created_at=func.now())
        statement = statement.on_conflict_do_update(
            index_elements=[c.key],
            set_={**values, "created_at": func.now()},
        )
        await conn.execute(statement)
        # Keys past their 24 hours go away as new ones come (a few at a time).
        expired = select(c.key).where(c.created_at < func.now() - text(f"interval '{KEEP}'"))
        await conn.execute(
            delete(self.table).where(c.key.in_(expired.limit(100).scalar_subquery()))
        )


@dataclass(frozen=True, slots=True)
class Created:
    """What a create answers: the row's JSON, and whether it is a replay of an earlier one."""

    body: str
    replayed: bool = False


async def create_once(
    conn: AsyncConnection, idempotency: Idempotency | None, create: Callable[[], Awaitable[str]]
) -> Created:
    """Run `create` in this transaction, once per key: or replay what it answered before."""
    if idempotency is None:
        return Created(await create())
    replay = await idempotency.begin(conn)
    if replay is not None:
        return Created(replay.body, replayed=True)
    body = await create()
    await idempotency.store(conn, 201, body)
    return Created(body)


def request_idempotency(
    table: Table, key: str | None, request: Request, body: bytes
) -> Idempotency | None:
    key = checked_key(key)
    if key is None:
        return None
    return Idempotency(table, key, fingerprint(request.method, request.url.path, body))


def created_response(created: Created) -> Response:
    response = with_etag(ok(RawJson(created.body), status=201), created.body)
    if created.replayed:
        response.headers[REPLAYED] = "true"
    return response
