"""Who gets one of a service's pooled connections, and what a call that cannot get one hears.

Each service client sends at most `size` calls at once (its pool's connections). A call
that finds them all taken waits its turn, first come first served, for at most `timeout`
seconds; then it is *shed*: `Overloaded`, which the client answers with `503
SERVICE_UNAVAILABLE` and `Retry-After: 1`, and which is never held against the service
(its breaker does not see it: the service did nothing wrong, the gateway was busy). The
service's own time (`GATEWAY_UPSTREAM_TIMEOUT`) starts only once the call has its
connection, so time spent queueing here is never taken for a slow service.

**Bulk reads** (a list page that may hold more than the default 100 rows: a `limit` above
it, or a batch filter without a limit) may hold at most half of the connections. A few
clients asking for pages of a thousand large orders, each answer megabytes that the service
takes seconds to build, would otherwise take every connection, and everyone else's small
calls would queue behind them until shed or timed out: the other half is always left to
the ordinary calls. Measured with bench/shed.py (docs/resilience.md, "Load
shedding"): 40 concurrent readers of a 17 MB page and a manager polling a small page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from apicore.params import DEFAULT_LIMIT

# Query parameters that ask for every match of a list of ids (no page unless a limit).
_BATCH_FILTERS = ("userIds", "ids")


class Overloaded(Exception):
    """No connection to the service came free in time: shed, not the service's fault."""

    def __init__(self, service: str, waited: float) -> None:
        super().__init__(f"no connection to {service} free within {waited:g}s")


def is_bulk(method: str, path: str, params: Any) -> bool:
    """Does this call ask for a page that may exceed the default 100 rows?"""
    if method != "GET":
        return False
    query: Mapping[str, Any] | None
    if isinstance(params, Mapping):
        query = params
    elif params is None and "?" in path:
        query = dict(parse_qsl(path.partition("?")[2]))
    else:
        query = None
    if not query:
        return False
    limit = query.get("limit")
    if limit is not None:
        try:
            # float(): "1000.0" is a page of a thousand to the services' validation too.
            return float(limit) > DEFAULT_LIMIT
        except (TypeError, ValueError):
            return True  # not a number we can read: counted as the larger kind, to be safe
    return any(name in query for name in _BATCH_FILTERS)


class Admission:
    """`size` connections handed out in order; bulk calls hold at most half of them."""

    def __init__(self, service: str, size: int, timeout: float) -> None:
        self.service = service
        self.size = size
        self.timeout = timeout
        self._all = asyncio.Semaphore(size)
        self._bulk = asyncio.Semaphore(max(1, size // 2))

    async def _acquire(self, semaphore: asyncio.Semaphore, deadline: float) -> None:
        if not semaphore.locked():
            await semaphore.acquire()  # free: taken at once, no timer armed (the hot path)
            return
        try:
            async with asyncio.timeout_at(deadline):
                await semaphore.acquire()
        except TimeoutError:
            raise Overloaded(self.service, self.timeout) from None

    @asynccontextmanager
    async def slot(self, bulk: bool) -> AsyncIterator[None]:
        """Hold one connection for the body; `Overloaded` after `timeout` s of waiting."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        if bulk:
            await self._acquire(self._bulk, deadline)
        try:
            await self._acquire(self._all, deadline)
            try:
                yield
            finally:
                self._all.release()
        finally:
            if bulk:
                self._bulk.release()
