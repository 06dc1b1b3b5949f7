"""Serve an app with uvicorn, our log format and the fastest loop available.

Shutdown (docs/operations.md, "Shutdown"): on SIGTERM (or Ctrl-C) the server stops accepting
connections, /readyz answers 503 on the connections still open, the requests in flight
finish (for at most `*_SHUTDOWN_GRACE` seconds, then they are cancelled), the app's
lifespan closes its pools, and the process exits 0.

Several workers (`*_WORKERS`): uvicorn's supervisor starts them; each is such a server.
Their metrics are added up through PROMETHEUS_MULTIPROC_DIR (apicore/metrics.py), a
fresh directory made here before any worker starts, unless one is given.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from functools import partial

import uvicorn

from apicore import collector
from apicore.logging import log_config
from apicore.metrics import MULTIPROCESS_ENV
from apicore.protocol import GuardedHttpProtocol, ReadTimeouts
from apicore.settings import ProcessSettings

KEEP_ALIVE_S = 30


def _metrics_directory(workers: int) -> None:
    """Several workers share their metrics through files in a directory of this run's own."""
    if workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        return
    directory = tempfile.mkdtemp(prefix="sitetrack-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    atexit.register(shutil.rmtree, directory, True)


def serve(app: str, settings: ProcessSettings) -> None:
    """Run the `module:create_app` factory with the process's host, port and logging."""
    _metrics_directory(settings.workers)
    # Read by each worker once its app has started (apicore/collector.py).
    os.environ[collector.ENV] = "1" if settings.gc_freeze else "0"
    # uvicorn raises the signal again once it has shut down cleanly, to end the process
    # "as the signal would"; with the default handler that is death by SIGTERM (exit
    # status -15). This one ignores it, so a clean shutdown exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    timeouts = ReadTimeouts(header=settings.header_timeout, body=settings.body_timeout)
    uvicorn.run(
        app,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=log_config(settings.log_level.upper()),
        log_level=settings.log_level,
        # Our own access log (apicore/metrics.py) has the route, status and duration.
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # Longer than any client pool keeps an idle connection (the gateway: 15 s), so a
        # client never reuses a connection the server is closing at the same moment.
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=int(settings.shutdown_grace) or None,
        workers=settings.workers,
        # Our guards over uvicorn's httptools protocol (a partial: workers unpickle it).
        http=partial(  # type: ignore[arg-type]  # uvicorn: typed as a class, only called
            GuardedHttpProtocol, timeouts=timeouts, coalesce=settings.coalesce_writes
        ),
        ws="none",  # no WebSocket route: an upgrade request is served as plain HTTP
    )
