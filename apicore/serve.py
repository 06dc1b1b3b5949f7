"""Serve an app with uvicorn, our log format and the fastest loop available."""

from __future__ import annotations

import uvicorn

from apicore.logging import log_config

KEEP_ALIVE_S = 30


def serve(
    app: str, *, host: str, port: int, log_level: str = "info", access_log: bool = True
) -> None:
    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        log_config=log_config(log_level.upper()),
        log_level=log_level,
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
        # Longer than any client pool keeps an idle connection (the gateway: 15 s), so a
        # client never reuses a connection the server is closing at the same moment.
        timeout_keep_alive=KEEP_ALIVE_S,
    )
