from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from apicore.settings import ProcessSettings


class Settings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    port: int = 8000
    users_url: str = "http://127.0.0.1:8001"
    orders_url: str = "http://127.0.0.1:8002"

    breaker_fail_max: int = Field(5, ge=1)
    breaker_reset_timeout: float = Field(30.0, gt=0, description="Seconds until a half-open trial")
    upstream_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a service")
    health_probe_timeout: float = Field(1.0, gt=0, le=1.0)
    # httpcore checks every pooled connection on each request: a pool much larger than
    # the concurrency a service can serve costs CPU and buys nothing.
    pool_max_connections: int = Field(8, ge=1)

    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 2000
    graphql_introspection: bool = True
    graphql_compile: bool = Field(True, description="Run compiled plans where they apply")
