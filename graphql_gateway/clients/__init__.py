"""Downstream services: one pooled client and one circuit breaker each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from pydantic import SecretStr

from graphql_gateway.clients.breaker import Breaker
from graphql_gateway.clients.errors import is_service_fault
from graphql_gateway.clients.orders import OrdersClient
from graphql_gateway.clients.users import UsersClient
from graphql_gateway.config import Settings


class _ClientOptions(TypedDict):
    """What both services' clients share (ServiceClient's keyword arguments)."""

    timeout: float
    max_connections: int
    pool_timeout: float
    transport: str


@dataclass(slots=True)
class Clients:
    users: UsersClient
    orders: OrdersClient
    delete_stale_after: float = 15.0  # see graphql_gateway/integrity.py

    @classmethod
    def from_settings(cls, settings: Settings) -> Clients:
        def breaker(name: str) -> Breaker:
            return Breaker(
                name,
                fail_max=settings.breaker_fail_max,
                reset_timeout=settings.breaker_reset_timeout,
                is_fault=is_service_fault,
                probe_interval=settings.breaker_probe_interval,
                window=settings.breaker_window,
                min_calls=settings.breaker_min_calls,
                failure_rate=settings.breaker_failure_rate,
            )

        common: _ClientOptions = {
            "timeout": settings.upstream_timeout,
            "max_connections": settings.pool_max_connections,
            "pool_timeout": settings.pool_timeout,
            "transport": settings.http_transport,
        }
        return cls(
            users=UsersClient(
                label="Users service",
                base_url=settings.users_url,
                breaker=breaker("users_service"),
                **common,
            ),
            orders=OrdersClient(
                label="Orders service",
                base_url=settings.orders_url,
                breaker=breaker("orders_service"),
                **common,
            ),
            delete_stale_after=settings.delete_stale_after,
        ).with_service_token(settings.service_token)

    def with_service_token(self, token: SecretStr | None) -> Clients:
        self.orders.service_token = token.get_secret_value() if token is not None else None
        return self

    async def aclose(self) -> None:
        await self.users.aclose()
        await self.orders.aclose()
