from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from apicore.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="USERS_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/users"
    port: int = 8001
