from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/orders"
    host: str = "127.0.0.1"
    port: int = 8002
    db_pool_size: int = 10
    log_level: str = "info"
    access_log: bool = True
