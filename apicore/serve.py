"""Serve an app with uvicorn, our log format and the fastest loop available."""

from __future__ import annotations

import uvicorn

from apicore.logging import log_config


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
    )
