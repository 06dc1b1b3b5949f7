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
    # Checked after parsing, before validation (graphql/limits.py).
    graphql_max_document_bytes: int = Field(64 * 1024, ge=1)
    graphql_max_fields: int = Field(250, ge=1, description="Field selections, fragments expanded")
    graphql_max_cost: int = Field(50_000, ge=1, description="Estimated cost (demand control)")
    graphql_assumed_list_size: int = Field(10, ge=0, description="Items of a list with no limit")
    graphql_max_list_items: int = Field(500, ge=1, description="Items of any list argument")
    graphql_max_json_depth: int = Field(32, ge=1, description="Nesting of variables, extensions")
    graphql_document_cache_entries: int = Field(512, ge=0)
    graphql_document_cache_bytes: int = Field(4 * 1024 * 1024, ge=0)
    # None: on in development, off in production; set it to decide either way.
    graphql_introspection: bool | None = None
    graphql_compile: bool = Field(True, description="Run compiled plans where they apply")

    @property
    def graphql_introspection_enabled(self) -> bool:
        if self.graphql_introspection is not None:
            return self.graphql_introspection
        return self.env != "production"

    @property
    def graphql_suggestions(self) -> bool:
        """ "Did you mean …?" in error messages: a map of the schema, for developers only."""
        return self.env != "production"
