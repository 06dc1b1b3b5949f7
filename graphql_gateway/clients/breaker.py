"""A thin wrapper over aiobreaker that fixes what it gets wrong for us.

- aiobreaker stamps `opened_at` with `datetime.utcnow()` (naive UTC) but computes
  `opens_at` with local `datetime.now()`; we read only `opened_at` and compare it
  with naive UTC, so the answer is right in any time zone.
- It only moves OPEN → HALF_OPEN on the next call; `state` here answers as of now.
- It lets every concurrent call through while half-open; here one trial call goes
  through and the others are refused as if the circuit were still open.
- It counts every exception as a failure, and an excluded one as a success (which
  resets the count and closes a half-open circuit). Here only what the service did
  counts (`is_fault`: connection errors, timeouts, 5xx, garbage); anything else (an
  error building our own request, a bug of ours) passes through untouched: neither a
  failure nor a success. A cancelled call (the client went away) is a BaseException,
  which aiobreaker does not see either.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from aiobreaker import CircuitBreaker, CircuitBreakerListener, CircuitBreakerState

from graphql_gateway import metrics

logger = logging.getLogger("graphql_gateway.breaker")

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]

_STATE_NAMES: dict[CircuitBreakerState, State] = {
    CircuitBreakerState.CLOSED: "closed",
    CircuitBreakerState.OPEN: "open",
    CircuitBreakerState.HALF_OPEN: "half_open",
}


class _NotTheService(BaseException):
    """Carries an exception past aiobreaker, which only looks at `Exception`s."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class CircuitOpenError(Exception):
    """Refused without touching the network; `retry_after` seconds until a trial call."""

    def __init__(self, breaker: str, retry_after: float) -> None:
        super().__init__(f"circuit {breaker} is open")
        self.retry_after = retry_after


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # aiobreaker's clock: naive UTC


class _LogStateChanges(CircuitBreakerListener):
    def state_change(self, breaker: CircuitBreaker, old: object, new: object) -> None:
        old_name = _STATE_NAMES.get(getattr(old, "state", None), "closed")  # type: ignore[arg-type]
        new_name = _STATE_NAMES.get(getattr(new, "state", None), "?")  # type: ignore[arg-type]
        logger.warning("Circuit %s: %s -> %s", breaker.name, old_name, new_name)
        metrics.BREAKER_CHANGES(breaker.name, new_name).inc()
        metrics.breaker_state(breaker.name, new_name)


class Breaker:
    def __init__(
        self,
        name: str,
        *,
        fail_max: int,
        reset_timeout: float,
        is_fault: Callable[[Exception], bool] = lambda _: True,
    ) -> None:
        """`is_fault`: is this exception the service's doing? Only those count."""
        self.name = name
        self.is_fault = is_fault
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self._breaker = CircuitBreaker(
            fail_max=fail_max, timeout_duration=timedelta(seconds=reset_timeout), name=name
        )
        self._breaker.add_listener(_LogStateChanges())
        self._trial_in_flight = False
        metrics.breaker_state(name, "closed")

    @property
    def failures(self) -> int:
        return self._breaker.fail_counter

    def _seconds_until_trial(self) -> float:
        opened_at = self._breaker._state_storage.opened_at
        if opened_at is None:
            return 0.0
        reopens = opened_at + timedelta(seconds=self.reset_timeout)
        return max(0.0, (reopens - _utcnow()).total_seconds())

    @property
    def state(self) -> State:
        """The state as of now: an open circuit whose timeout has passed is half-open."""
        current = _STATE_NAMES[self._breaker.current_state]
        if current == "open" and self._seconds_until_trial() == 0.0:
            metrics.breaker_state(self.name, "half_open")  # aiobreaker moves it only later
            return "half_open"
        return current

    def retry_after(self) -> int:
        """Whole seconds a refused caller should wait (at least 1)."""
        return max(1, math.ceil(self._seconds_until_trial()))

    async def call(self, func: Callable[[], Awaitable[T]]) -> T:
        state = self.state
        if state == "open":
            raise CircuitOpenError(self.name, self._seconds_until_trial())
        if state == "closed":
            return await self._counted(func)
        if self._trial_in_flight:
            raise CircuitOpenError(self.name, 1.0)
        self._trial_in_flight = True
        try:
            return await self._counted(func)
        finally:
            self._trial_in_flight = False

    async def _counted(self, func: Callable[[], Awaitable[T]]) -> T:
        is_fault = self.is_fault

        async def guarded() -> T:
            try:
                return await func()
            except Exception as exc:
                if is_fault(exc):
                    raise
                raise _NotTheService(exc) from None

        try:
            return await self._breaker.call_async(guarded)
        except _NotTheService as carried:
            raise carried.error from None
