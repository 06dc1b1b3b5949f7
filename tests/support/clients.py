"""A users service client of the gateway's, alone, with a breaker of its own."""

from __future__ import annotations

from graphql_gateway.clients.breaker import Breaker
from graphql_gateway.clients.errors import is_service_fault
from graphql_gateway.clients.users import UsersClient


def users_client(
    url: str, *, fail_max: int = 3, reset: float = 30.0, transport: str = "raw"
) -> UsersClient:
    """Its breaker counts only the service's faults, as the gateway's do (`client.breaker`)."""
    breaker = Breaker(
        "users_service", fail_max=fail_max, reset_timeout=reset, is_fault=is_service_fault
    )
    return UsersClient(
        label="Users service", base_url=url, timeout=5, breaker=breaker, transport=transport
    )
