"""Rate limits with the `limits` package: in this process's memory, or on Redis for all of them.

- Login, per account: GATEWAY_LOGIN_RATE_LIMIT (default 10/minute) attempts at one
  account, successful ones included, counted on its canonical email (however it is typed,
  apicore.contract.users.canonical_email) with a moving window (exact: the 11th attempt
  in any 60 s fails). Against guessing one account's password.
- Login, per address: GATEWAY_LOGIN_ADDRESS_RATE_LIMIT (default 50/minute) failed logins
  from one client address, whichever accounts; successful ones are not counted, so a site
  office behind one address is not locked out by one person's typos. Against guessing
  across accounts. Checked before the attempt, counted after its failure: attempts in
  flight at once may pass it together (the per-account limit still holds each account).
- Everything: GATEWAY_RATE_LIMIT (optional) per user when authenticated, else per address,
  with a sliding-window counter (constant cost per request).
- A route's own: per user, exact like the logins' (check_route; the /v1 API's limits,
  graphql_gateway/rest/v1/deps.py).

With GATEWAY_REDIS_URL the counts live on Redis, shared by every worker and replica.
When Redis does not answer (0.5 s at most), the gateway does not wait for it on every
request: it logs once, skips Redis for a few seconds, then tries again. Meanwhile the
global limit fails open (availability first: it protects capacity, not secrets) and
the login limit falls back to this process's memory (brute force stays limited);
/health says so.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import (
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError

from apicore.errors import RATE_LIMITED, ApiError
from graphql_gateway import metrics
from graphql_gateway.config import Settings

logger = logging.getLogger("graphql_gateway.ratelimit")

REDIS_TIMEOUT_S = 0.5
REDIS_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class Limiters:
    """One storage's limiters: exact for logins, cheap for everything else."""

    login: RateLimiter
    requests: RateLimiter


def redis_uri(url: str) -> str:
    """`redis://…` as `limits` names its asyncio Redis storage (`async+redis://…`)."""
    return url if url.startswith("async+") else f"async+{url}"


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        memory = MemoryStorage()
        self._memory = Limiters(
            MovingWindowRateLimiter(memory), SlidingWindowCounterRateLimiter(memory)
        )
        self._redis_storage: RedisStorage | None = None
        self._shared: Limiters | None = None
        if settings.redis_url:
            self._redis_storage = RedisStorage(
                redis_uri(settings.redis_url),
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=settings.redis_key_prefix,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            self._shared = Limiters(
                MovingWindowRateLimiter(self._redis_storage),
                SlidingWindowCounterRateLimiter(self._redis_storage),
            )
        self.login_limits: list[RateLimitItem] = parse_many(settings.login_rate_limit)
        self.login_address_limits: list[RateLimitItem] = parse_many(
            settings.login_address_rate_limit
        )
        self.request_limits: list[RateLimitItem] = (
            parse_many(settings.rate_limit) if settings.rate_limit else []
        )
        self.backend = "redis" if self._shared is not None else "memory"
        self.redis_available = self._shared is not None
        self._skip_redis_until = 0.0

    async def aclose(self) -> None:
        if self._redis_storage is not None:
            bridge = getattr(self._redis_storage, "bridge", None)
            storage = getattr(bridge, "storage", None)
            if storage is not None:
                await storage.aclose()

    # ------------------------------------------------------------ checks

    async def check_login(self, address: str, email: str) -> None:
        """Before a login attempt: 429 RATE_LIMITED when the address has failed too often,
        else the attempt is counted against the account (`email`, canonical), 429 if over."""
        for item in self.login_address_limits:
            await self._hit(item, ("login-failed", address), fallback=True, test_only=True)
        for item in self.login_limits:
            await self._hit(item, ("login-account", email), fallback=True)

    async def login_failed(self, address: str) -> None:
        """After a failed login: one more against the address (never refused here)."""
        for item in self.login_address_limits:
            await self._hit(item, ("login-failed", address), fallback=True, count_only=True)

    async def check_request(self, key: str) -> None:
        """Count a request against the global limit (if any): 429 when over."""
        for item in self.request_limits:
            await self._hit(item, ("requests", key), fallback=False)

    async def check_route(self, name: str, items: Sequence[RateLimitItem], key: str) -> None:
        """Count a request against a route's own limits (exact, as logins): 429 when over."""
        for item in items:
            await self._hit(item, (name, key), fallback=True, label=name)

    async def _hit(
        self,
        item: RateLimitItem,
        identifiers: Sequence[str],
        *,
        fallback: bool,
        label: str | None = None,
        test_only: bool = False,
        count_only: bool = False,
    ) -> None:
        limiters: Limiters | None = self._memory
        if self._shared is not None and self._redis_usable():
            limiters = self._shared
        elif self._shared is not None and not fallback:
            limiters = None
        if limiters is None:
            return  # Redis unavailable: the global limit fails open
        limiter = limiters.login if fallback else limiters.requests
        try:
            if test_only:
                allowed = await limiter.test(item, *identifiers)
            else:
                allowed = await limiter.hit(item, *identifiers) or count_only
        except StorageError as exc:
            self._redis_failed(exc)
            if fallback:
                await self._hit(
                    item,
                    identifiers,
                    fallback=True,
                    label=label,
                    test_only=test_only,
                    count_only=count_only,
                )
            return
        if limiters is self._shared:
            self._redis_answered()
        if not allowed:
            metrics.RATE_LIMITED(label or ("login" if fallback else "requests")).inc()
            raise await self._rejection(limiter, item, identifiers)

    async def _rejection(
        self, limiter: RateLimiter, item: RateLimitItem, identifiers: Sequence[str]
    ) -> ApiError:
        try:
            reset_at = (await limiter.get_window_stats(item, *identifiers)).reset_time
        except StorageError:
            reset_at = time.time() + item.get_expiry()
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return ApiError(
            RATE_LIMITED,
            f"Too many requests: at most {item.amount} per {_window(item)}; "
            f"retry in {retry_after} s",
            headers={
                "Retry-After": str(retry_after),
                "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry_after),
                "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
            },
        )

    # ------------------------------------------------------------ Redis health

    def _redis_usable(self) -> bool:
        return self.redis_available or time.monotonic() >= self._skip_redis_until

    def _redis_failed(self, exc: Exception) -> None:
        self._skip_redis_until = time.monotonic() + REDIS_RETRY_S
        if self.redis_available:
            self.redis_available = False
            logger.warning(
                "Redis unavailable for rate limits (%s): the global limit is not enforced"
                " and logins are limited per process until it answers again",
                exc,
            )

    def _redis_answered(self) -> None:
        if not self.redis_available:
            self.redis_available = True
            logger.warning("Redis answers again: rate limits are shared again")

    async def report(self) -> dict[str, object] | None:
        """For /health: where the limits live, and whether that storage answers now."""
        if self._redis_storage is None:
            return None
        try:
            answered = await self._redis_storage.check()
        except Exception:  # check() swallows most errors itself; never fail /health
            answered = False
        if answered:
            self._redis_answered()
        else:
            self._redis_failed(RuntimeError("no answer to PING"))
        return {"storage": self.backend, "available": self.redis_available}


def _window(item: RateLimitItem) -> str:
    seconds = item.get_expiry()
    units = {86400: "day", 3600: "hour", 60: "minute", 1: "second"}
    for size, name in units.items():
        if seconds % size == 0:
            count = seconds // size
            return name if count == 1 else f"{count} {name}s"
    return f"{seconds} s"
