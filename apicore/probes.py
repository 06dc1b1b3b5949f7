"""Liveness and readiness (docs/operations.md, "Probes"), the same on all three processes.

- `GET /livez`: 200 while the process serves at all (a liveness probe restarts it when not).
- `GET /readyz`: 200 when it can do its job now; 503 SERVICE_UNAVAILABLE while starting
  (before its lifespan startup finished), while shutting down (from SIGTERM on,
  apicore/serve.py), or when its own check fails (a service: its database answers).
  A readiness probe takes it out of the load balancer, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType

from fastapi import APIRouter, FastAPI, Request

from apicore.envelope import EnvelopeResponse, ok
from apicore.errors import SERVICE_UNAVAILABLE, ApiError

logger = logging.getLogger("apicore.probes")

READY_CHECK_TIMEOUT_S = 1.0
Check = Callable[[FastAPI], Awaitable[None]]  # raises when not ready


class Lifecycle:
    """This process's state; `stopping` is set by the SIGTERM handler (apicore.serve)."""

    stopping = False


lifecycle = Lifecycle()


def watch_for_shutdown() -> None:
    """From the first SIGTERM or SIGINT on, /readyz answers 503.

    Called once the server runs (lifespan startup), when uvicorn has put its own signal
    handlers in place: they are wrapped, not replaced, so uvicorn still drains and stops.
    Only the main thread may set handlers; elsewhere (an app under test) nothing is done.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous) or isinstance(previous, _MarkStopping):
            continue
        signal.signal(sig, _MarkStopping(previous))


class _MarkStopping:
    """A signal handler: marks the process as stopping, then calls the one it wraps."""

    def __init__(self, previous: Callable[[int, FrameType | None], object]) -> None:
        self.previous = previous

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        lifecycle.stopping = True
        self.previous(signum, frame)


def not_ready(reason: str) -> ApiError:
    return ApiError(SERVICE_UNAVAILABLE, f"Not ready: {reason}", headers={"Retry-After": "1"})


def probe_router(check: Check | None) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/livez")
    async def livez() -> EnvelopeResponse:
        return ok({"status": "alive"})

    @router.get("/readyz")
    async def readyz(request: Request) -> EnvelopeResponse:
        if lifecycle.stopping:
            raise not_ready("shutting down")
        if not getattr(request.app.state, "started", False):
            raise not_ready("starting")
        if check is not None:
            try:
                await asyncio.wait_for(check(request.app), READY_CHECK_TIMEOUT_S)
            except ApiError:
                raise
            except Exception as exc:
                logger.warning("Readiness check failed: %r", exc)
                raise not_ready("a dependency does not answer") from None
        return ok({"status": "ready"})

    return router
