from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from apicore.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/orders"
    port: int = 8002
    # Shared with the gateway (GATEWAY_SERVICE_TOKEN): only requests carrying it may name
    # an acting user (service_orders/acting.py). Unset: no request may.
    gateway_token: SecretStr | None = Field(None, description="The gateway's shared token")

    @field_validator("gateway_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value
