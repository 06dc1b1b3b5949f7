"""The success envelope: serialised once, with orjson, straight to bytes."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import orjson
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

T = TypeVar("T")


class ListMeta(BaseModel):
    # null where the exact figure would be a count of every match (a search, an amount or
    # due range) and the request did not say `?total=true` (docs/totals.md).
    total: int | None
    limit: int | None
    offset: int


class CursorListMeta(ListMeta):
    next: str | None = Field(
        description="The cursor of the page after this one (send it as `after`); null on the"
        " last page (docs/pagination.md)"
    )


class Envelope(BaseModel, Generic[T]):
    """Documentation model of a success response (the bytes are built by hand)."""

    success: Literal[True] = True
    data: T


class ListEnvelope(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: list[T]
    meta: ListMeta


class CursorListEnvelope(BaseModel, Generic[T]):
    """A list that pages by offset or by cursor (`after`, `meta.next`)."""

    success: Literal[True] = True
    data: list[T]
    meta: CursorListMeta


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorEnvelope(BaseModel):
    success: Literal[False] = False
    error: ErrorBody


class IdOnly(BaseModel):
    id: str


class EnvelopeResponse(JSONResponse):
    """JSON with orjson. A JSONResponse, so FastAPI documents each route's response_model."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


RawJson = orjson.Fragment  # JSON text that goes into a response as it is


def ok(data: Any, *, status: int = 200, meta: dict[str, Any] | None = None) -> EnvelopeResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if meta is not None:
        body["meta"] = meta
    return EnvelopeResponse(body, status_code=status)


def page(items: Any, *, total: int | None, limit: int | None, offset: int) -> EnvelopeResponse:
    return ok(items, meta={"total": total, "limit": limit, "offset": offset})


def cursor_page(
    items: Any, *, total: int | None, limit: int | None, offset: int, next: str | None
) -> EnvelopeResponse:
    """A list that pages by cursor too: `next` is the following page's cursor (None on the
    last page), apicore/keyset.py."""
    meta = {"total": total, "limit": limit, "offset": offset, "next": next}
    return ok(items, meta=meta)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error envelope."""
    return {status: {"model": ErrorEnvelope} for status in statuses}
