"""Test databases: uniquely named for the run, migrated with init_db, dropped afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from apicore.db import drop_database
from tools.embedded import server_url, start_embedded, stop_embedded


@contextmanager
def postgres_server() -> Iterator[str]:
    """URL of a server: TEST_PG_URL when set, else an embedded one for this run."""
    url = os.environ.get("TEST_PG_URL")
    if url:
        yield url
        return
    # Not under pytest's basetemp: pytest prunes old runs' folders, even one in use.
    parent = Path(tempfile.mkdtemp(prefix="pgtest-"))
    handle = start_embedded(parent / "pgdata", keep_data=False)
    try:
        yield server_url(handle)
    finally:
        stop_embedded(handle)
        shutil.rmtree(parent, ignore_errors=True)


def database_url(server: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    return make_url(server).set(database=name).render_as_string(hide_password=False)


@contextmanager
def migrated_database(server: str, prefix: str, init_db) -> Iterator[str]:
    url = database_url(server, prefix)
    init_db(url)
    try:
        yield url
    finally:
        drop_database(url)
