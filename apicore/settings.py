"""Settings every process has; each adds its own prefix (USERS_, ORDERS_, GATEWAY_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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


class ServiceSettings(ProcessSettings):
    database_url: str
    db_pool_size: int = 10
