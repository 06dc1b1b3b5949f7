"""Serve an app with uvicorn, our log format and the fastest loop available."""

from __future__ import annotations

from functools import partial

import uvicorn

from apicore.logging import log_config
from apicore.protocol import GuardedHttpProtocol, ReadTimeouts
from apicore.settings import ProcessSettings

KEEP_ALIVE_S = 30


def serve(app: str, settings: ProcessSettings) -> None:
    """Run the `module:create_app` factory with the process's host, port and logging."""
    timeouts = ReadTimeouts(header=settings.header_timeout, body=settings.body_timeout)
    uvicorn.run(
        app,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=log_config(settings.log_level.upper()),
        log_level=settings.log_level,
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
        # Longer than any client pool keeps an idle connection (the gateway: 15 s), so a
        # client never reuses a connection the server is closing at the same moment.
        timeout_keep_alive=KEEP_ALIVE_S,
        workers=settings.workers,
        # Our guards over uvicorn's httptools protocol (a partial: workers unpickle it).
        http=partial(GuardedHttpProtocol, timeouts=timeouts),  # type: ignore[arg-type]
        ws="none",  # no WebSocket route: an upgrade request is served as plain HTTP
    )
