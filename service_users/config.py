from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from apicore.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="USERS_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/users"
    port: int = 8001
    # The first administrator, created by `python -m service_users.init_db` when both are
    # set and no user has that email (service_users/init_db.py).
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    admin_name: str = "Administrator"
    # A login's session ends when nobody refreshes it for this long (service_users/sessions.py).
    session_ttl: int = Field(14 * 24 * 3600, ge=60, le=365 * 24 * 3600)
