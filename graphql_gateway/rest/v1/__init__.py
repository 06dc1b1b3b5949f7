"""The original API's later version under /v1, translated onto our services and rules.

Its clients log in (`POST /v1/users/login` answers `{token, user}`), may register
themselves (`POST /v1/users/register`, as a `user`: auth/policy.py), and read and write
their own orders with that version's words and numbered pages (schemas.py). Every route
asks the same roles table, creates through the same integrity rules and Idempotency-Key,
and calls the same clients (breakers, retries) as the unprefixed routes. Mounted only with
authentication on (GATEWAY_V1_API; config.py); registration can be turned off on its own
(GATEWAY_V1_REGISTRATION). Limits: the logins' for registration, and per user
GATEWAY_V1_RATE_LIMIT on every other route, GATEWAY_V1_CREATE_RATE_LIMIT on creation.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from graphql_gateway.config import Settings
from graphql_gateway.rest.v1 import orders, users
from graphql_gateway.rest.v1.deps import count_request

PREFIX = "/v1"


def v1_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    if settings.v1_registration_enabled:
        router.include_router(users.registration)
    router.include_router(users.open_router)
    limited = [Depends(count_request)]
    router.include_router(users.router, dependencies=limited)
    router.include_router(orders.router, dependencies=limited)
    return router
