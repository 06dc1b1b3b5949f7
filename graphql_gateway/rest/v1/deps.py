"""The /v1 API's per-route limits and numbered pages."""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any

from fastapi import Path, Query, Request
from limits import RateLimitItem, parse_many

from apicore.envelope import EnvelopeResponse
from apicore.errors import validation_error
from apicore.params import MAX_LIMIT, MAX_OFFSET
from graphql_gateway.auth.identity import identity_of
from graphql_gateway.auth.ratelimit import RateLimits
from graphql_gateway.config import Settings


class V1Limits:
    """That version's limits, per user: every route, and order creation on top."""

    def __init__(self, settings: Settings) -> None:
        self.each: list[RateLimitItem] = parse_many(settings.v1_rate_limit)
        self.creates: list[RateLimitItem] = parse_many(settings.v1_create_rate_limit)


async def _count(request: Request, name: str, kind: str) -> None:
    identity = identity_of(request)  # 401 for an anonymous caller, before any count
    rate_limits: RateLimits = request.app.state.rate_limits
    items = getattr(request.app.state.v1_limits, kind)
    await rate_limits.check_route(name, items, identity.user_id)


async def count_request(request: Request) -> None:
    """Every authenticated /v1 route: GATEWAY_V1_RATE_LIMIT per user (429 over it)."""
    await _count(request, "v1", "each")


async def count_create(request: Request) -> None:
    """POST /v1/orders: GATEWAY_V1_CREATE_RATE_LIMIT per user, besides the one above."""
    await _count(request, "v1-create", "creates")


PageNumber = Annotated[
    int, Query(alias="page", ge=1, le=MAX_OFFSET + 1, description="Page number, from 1")
]
PerPage = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1 to {MAX_LIMIT}, default 100)")
]
DEFAULT_PER_PAGE = 100
OrderId = Annotated[uuid.UUID, Path(alias="orderId", description="The order's id")]


def offset_of(page: int, per_page: int) -> int:
    """Rows to skip for a numbered page, within our bound on offsets (400 beyond it)."""
    offset = (page - 1) * per_page
    if offset > MAX_OFFSET:
        raise validation_error("page", f"At most {MAX_OFFSET} rows can be skipped")
    return offset


def numbered_page(items: Any, *, total: int | None, page: int, per_page: int) -> EnvelopeResponse:
    # /v1 lists always ask for their total (`total=true`, docs/totals.md): the services
    # answer it exactly then, so None here is a broken contract, not a client's doing.
    if total is None:
        raise RuntimeError("a /v1 list was answered without its total")
    meta = {
        "page": page,
        "per_page": per_page,
        "total": total,
        "total_pages": math.ceil(total / per_page),
    }
    return EnvelopeResponse({"success": True, "data": items, "meta": meta})
