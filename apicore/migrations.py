"""The body of each service's alembic/env.py: online migrations with a sync psycopg engine."""

from __future__ import annotations

from collections.abc import Callable

from alembic import context
from sqlalchemy import MetaData, create_engine, pool

from apicore.db import sqlalchemy_url


def run_migrations(target_metadata: MetaData, default_url: Callable[[], str]) -> None:
    config = context.config
    url = config.attributes.get("database_url") or default_url()
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
