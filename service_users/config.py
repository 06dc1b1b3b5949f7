from __future__ import annotations

from pydantic import SecretStr
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
