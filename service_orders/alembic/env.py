from apicore.migrations import run_migrations
from service_orders.config import Settings
from service_orders.models import Base

run_migrations(Base.metadata, lambda: Settings().database_url)
