"""Settings every process has; each adds its own prefix (USERS_, ORDERS_, GATEWAY_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from apicore.addresses import PRIVATE, networks


class ProcessSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int
    log_level: str = "info"
    access_log: bool = True
    workers: int = Field(1, ge=1, description="Server processes (each with its own state)")
    # `production` turns off what helps a developer and helps an attacker as much:
    # GraphQL field suggestions and introspection, the interactive API docs.
    env: Literal["development", "production"] = "development"
    # The interactive API docs (/docs, /redoc); unset: on in development, off in production.
    # /openapi.json stays: the contract is public, and clients and tests read it.
    docs: bool | None = None
    # Slow clients: the request line and headers must arrive within header_timeout of
    # the first byte (of the connection, for a new one), and a body may pause at most
    # body_timeout between two reads; otherwise 408 REQUEST_TIMEOUT (apicore/protocol.py).
    header_timeout: float = Field(10.0, gt=0, description="Seconds to receive the headers")
    body_timeout: float = Field(30.0, gt=0, description="Seconds between two reads of a body")
    # GET /metrics and the series behind it (off: for measuring what they cost), answered
    # only to these addresses (others: 404), so a public gateway does not publish them.
    metrics: bool = True
    metrics_allow: str = PRIVATE
    # A response's head and body leave in one write, not two (apicore/protocol.py,
    # docs/performance.md); off: as uvicorn writes them.
    coalesce_writes: bool = True
    # Once started, startup's objects frozen out of the garbage collector's walks
    # (apicore/collector.py); off: as Python comes.
    gc_freeze: bool = True
    # SIGTERM: stop accepting, /readyz 503, finish what is in flight for at most this long.
    shutdown_grace: float = Field(20.0, ge=0, description="Seconds to drain on SIGTERM")

    @field_validator("metrics_allow")
    @classmethod
    def _allow_parses(cls, value: str) -> str:
        networks(value)
        return value

    @property
    def docs_enabled(self) -> bool:
        return self.docs if self.docs is not None else self.env == "development"


class ServiceSettings(ProcessSettings):
    database_url: str
    db_pool_size: int = 10
