from apicore.migrations import run_migrations
from service_users.config import Settings
from service_users.models import Base

run_migrations(Base.metadata, lambda: Settings().database_url)
