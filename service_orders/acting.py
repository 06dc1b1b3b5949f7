"""Who is acting: the user the gateway says a write is made for, recorded in the history.

The gateway authenticates callers; the services do not. So the orders service takes the
acting user from the gateway only: `X-Acting-User` counts when the same request carries
`X-Gateway-Token` equal to the token both are configured with (ORDERS_GATEWAY_TOKEN,
GATEWAY_SERVICE_TOKEN). Without the header the write is recorded with no actor (an
internal call, or a gateway with authentication off). With the header but no valid token
(none configured here, or another one) the request is refused (403): someone other than
the gateway is claiming to be a user, and silently dropping the claim would record a
lie by omission. The headers are internal: not in the OpenAPI contract.
"""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated

from fastapi import Depends, Request

from apicore.errors import FORBIDDEN, ApiError, validation_error
from apicore.headers import ACTING_USER, GATEWAY_TOKEN


# `async def`: FastAPI runs a plain `def` dependency in a worker thread.
async def acting_user(request: Request) -> uuid.UUID | None:
    claimed = request.headers.get(ACTING_USER)
    if claimed is None:
        return None
    expected: str | None = getattr(request.app.state, "gateway_token", None)
    given = request.headers.get(GATEWAY_TOKEN, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(FORBIDDEN, "X-Acting-User is accepted only from the gateway")
    try:
        return uuid.UUID(claimed)
    except ValueError:
        raise validation_error("X-Acting-User", "Must be a user id (UUID)") from None


ActorDep = Annotated[uuid.UUID | None, Depends(acting_user)]
