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
- It opens only after `fail_max` failures in a row, so a service failing every other call
  (or four calls of five) never trips it. Here it also opens at a high failure *rate*: an
  `OutcomeWindow` keeps the outcomes of the last `window` seconds, and once it holds at
  least `min_calls` calls of which `failure_rate` percent or more failed, the circuit
  opens (aiobreaker's `open()`, so its states and listeners stay the ones used). The
  consecutive count stays as the fast path for a service that is plainly down. Only calls
  made while closed are in the window; it starts empty each time the circuit closes.
- It keeps counting failures past `fail_max` (each failed trial call, each call that was
  in flight when the circuit opened: 13 with fail_max 5); here the count is consecutive
  failures since the last success, at most `fail_max`.
- It waits out the whole reset timeout however soon the service is back. Here, while the
  circuit is open, a background task asks the service's /health every `probe_interval`
  seconds (outside the breaker); the first healthy answer makes the circuit half-open at
  once, so the next call is the trial. When /health says healthy but the trial fails
  anyway, the next probes wait twice as long each time (up to the reset timeout): a
  service whose /health lies cannot make the circuit flap twice a second.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from aiobreaker import CircuitBreaker, CircuitBreakerListener, CircuitBreakerState
from aiobreaker.state import CircuitBreakerBaseState
from aiobreaker.storage.memory import CircuitMemoryStorage

from graphql_gateway import metrics

logger = logging.getLogger("graphql_gateway.breaker")

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]
# `probe(timeout)`: is the service healthy? Never raises.
Probe = Callable[[float], Awaitable[bool]]

MAX_PROBE_TIMEOUT = 1.0

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


class _CappedCount(CircuitMemoryStorage):
    """aiobreaker's storage, whose failure count stops at what trips the circuit."""

    def __init__(self, cap: int) -> None:
        super().__init__(CircuitBreakerState.CLOSED)
        self._cap = cap

    def increment_counter(self) -> None:
        if self.counter < self._cap:
            super().increment_counter()


class OutcomeWindow:
    """Calls and failures of the last `seconds`, kept in `SLICES` slices of time.

    Recording is O(1) (one slice appended or bumped, expired ones dropped from the front),
    so the window costs a few attribute updates per call at any rate of calls. A slice is
    a tenth of the window: the window covers between 90 % and 100 % of `seconds`.
    """

    SLICES = 10

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._width = seconds / self.SLICES
        self._clock = clock
        self._slices: deque[list[int]] = deque()  # [slice number, calls, failures]
        self._calls = 0
        self._failures = 0

    def _now(self) -> int:
        current = int(self._clock() / self._width)
        oldest = current - self.SLICES + 1
        slices = self._slices
        while slices and slices[0][0] < oldest:
            _, calls, failures = slices.popleft()
            self._calls -= calls
            self._failures -= failures
        return current

    def record(self, failed: bool) -> tuple[int, int]:
        """Count one call; (calls, failures) in the window, this one included."""
        current = self._now()
        slices = self._slices
        if not slices or slices[-1][0] != current:
            slices.append([current, 0, 0])
        last = slices[-1]
        last[1] += 1
        self._calls += 1
        if failed:
            last[2] += 1
            self._failures += 1
        return self._calls, self._failures

    def counts(self) -> tuple[int, int]:
        """(calls, failures) in the window as of now."""
        self._now()
        return self._calls, self._failures

    def clear(self) -> None:
        self._slices.clear()
        self._calls = self._failures = 0


def _state_of(state: CircuitBreakerBaseState | None) -> CircuitBreakerState | None:
    return state.state if state is not None else None


class _LogStateChanges(CircuitBreakerListener):
    def state_change(
        self,
        breaker: CircuitBreaker,
        old: CircuitBreakerBaseState | None,
        new: CircuitBreakerBaseState,
    ) -> None:
        old_state = _state_of(old)
        old_name = _STATE_NAMES[old_state] if old_state is not None else "closed"
        new_name = _STATE_NAMES[new.state]
        logger.warning("Circuit %s: %s -> %s", breaker.name, old_name, new_name)
        metrics.BREAKER_CHANGES(breaker.name, new_name).inc()
        metrics.breaker_state(breaker.name, new_name)


class _WatchWhileOpen(CircuitBreakerListener):
    def __init__(self, owner: Breaker) -> None:
        self._owner = owner

    def state_change(
        self,
        breaker: CircuitBreaker,
        old: CircuitBreakerBaseState | None,
        new: CircuitBreakerBaseState,
    ) -> None:
        self._owner._state_changed(_state_of(old), new.state)


class Breaker:
    def __init__(
        self,
        name: str,
        *,
        fail_max: int,
        reset_timeout: float,
        is_fault: Callable[[Exception], bool] = lambda _: True,
        probe_interval: float = 0.5,
        window: float = 10.0,
        min_calls: int = 20,
        failure_rate: float = 50.0,
    ) -> None:
        """`is_fault`: is this exception the service's doing? Only those count.

        The circuit opens after `fail_max` failures in a row, or once the last `window`
        seconds hold at least `min_calls` calls of which `failure_rate` percent failed.
        """
        self.name = name
        self.is_fault = is_fault
        self.fail_max = fail_max
        self.min_calls = min_calls
        self.failure_rate = failure_rate
        self.window = OutcomeWindow(window)
        self._published_rate = 0.0
        self.reset_timeout = reset_timeout
        self.probe_interval = probe_interval
        self._breaker = CircuitBreaker(
            fail_max=fail_max,
            timeout_duration=timedelta(seconds=reset_timeout),
            state_storage=_CappedCount(fail_max),
            name=name,
        )
        self._breaker.add_listeners(_LogStateChanges(), _WatchWhileOpen(self))
        self._trial_in_flight = False
        self._probe: Probe | None = None
        self._watchers: set[asyncio.Task[None]] = set()  # one, and any still being cancelled
        self._closed = False
        self._probed_trial = False  # the circuit is half-open because a probe said healthy
        self._failed_probed_trials = 0  # in a row: each doubles the wait before a probe
        metrics.breaker_state(name, "closed")
        metrics.BREAKER_FAILURE_RATE(name).set(0.0)

    @property
    def failures(self) -> int:
        """Consecutive failures since the last success, at most `fail_max`."""
        return self._breaker.fail_counter

    def watch(self, probe: Probe) -> None:
        """While the circuit is open, `probe` the service; its first True half-opens it."""
        self._probe = probe

    async def aclose(self) -> None:
        """Stop watching: the probe task is cancelled and gone when this returns."""
        self._closed = True
        self._stop_watching()
        if self._watchers:
            await asyncio.wait(set(self._watchers))

    def _state_changed(self, old: CircuitBreakerState | None, new: CircuitBreakerState) -> None:
        if new is CircuitBreakerState.OPEN:
            if old is CircuitBreakerState.HALF_OPEN and self._probed_trial:
                self._failed_probed_trials += 1
            self._probed_trial = False
            self._start_watching()
        elif new is CircuitBreakerState.CLOSED:
            self.window.clear()  # a closed circuit starts over: old failures are not held
            self._publish_rate(0.0)
            self._probed_trial = False
            self._failed_probed_trials = 0
            self._stop_watching()

    def _start_watching(self) -> None:
        if self._probe is None or self._closed:
            return
        if any(not w.done() and not w.cancelling() for w in self._watchers):
            return  # opened again (a failed trial, a call in flight): one watcher is enough
        # A context of its own: its logs and spans are no request's, not even the one
        # whose failure opened the circuit.
        watcher = asyncio.get_running_loop().create_task(
            self._watch(self._probe),
            name=f"breaker-probe-{self.name}",
            context=contextvars.Context(),
        )
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    def _stop_watching(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()

    def _is_open(self) -> bool:
        return self._breaker.current_state is CircuitBreakerState.OPEN

    def _probe_wait(self) -> float:
        longest = max(self.probe_interval, self.reset_timeout)
        doublings = min(self._failed_probed_trials, 32)
        return min(self.probe_interval * 2.0**doublings, longest)

    async def _watch(self, probe: Probe) -> None:
        """Probe while open, one probe at a time: at most one every `probe_interval`."""
        timeout = min(self.probe_interval, MAX_PROBE_TIMEOUT)
        try:
            while self._is_open():
                await asyncio.sleep(self._probe_wait())
                # Re-checked after each wait: a trial may have gone through meanwhile.
                if self._is_open() and await probe(timeout) and self._is_open():
                    self._probed_trial = True
                    self._breaker.half_open()
        except Exception:
            logger.exception("Circuit %s: probing stopped", self.name)

    def _seconds_until_trial(self) -> float:
        if not self._is_open():
            return 0.0  # half-open (a probe said healthy, or a trial is in flight) or closed
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

    def window_report(self) -> dict[str, float | int]:
        """The failure window as of now: calls, failures, and their share in percent."""
        calls, failures = self.window.counts()
        share = failures / calls if calls else 0.0
        self._publish_rate(share)  # also as the window empties without calls
        rate = round(100.0 * share, 1)
        return {"calls": calls, "failures": failures, "failure_rate": rate}

    def _publish_rate(self, share: float) -> None:
        """The gauge, written only when it moves by a point or more: a write per call would
        cost every call a metrics file update (several workers share the files)."""
        if abs(share - self._published_rate) >= 0.01 or (share == 0.0) != (
            self._published_rate == 0.0
        ):
            self._published_rate = share
            metrics.BREAKER_FAILURE_RATE(self.name).set(share)

    def _record(self, failed: bool) -> None:
        """A call made while closed ended: into the window; open at a high failure rate."""
        calls, failures = self.window.record(failed)
        self._publish_rate(failures / calls)
        if (
            failed
            and calls >= self.min_calls
            and failures * 100 >= self.failure_rate * calls
            and self._breaker.current_state is CircuitBreakerState.CLOSED
        ):
            logger.warning(
                "Circuit %s: %d of the last %d calls failed (it opens at %g %%)",
                self.name,
                failures,
                calls,
                self.failure_rate,
            )
            self._breaker.open()

    def retry_after(self) -> int:
        """Whole seconds a refused caller should wait (at least 1)."""
        return max(1, math.ceil(self._seconds_until_trial()))

    async def call(self, func: Callable[[], Awaitable[T]]) -> T:
        state = self.state
        if state == "open":
            raise CircuitOpenError(self.name, self._seconds_until_trial())
        if state == "closed":
            return await self._counted(func, windowed=True)
        if self._trial_in_flight:
            raise CircuitOpenError(self.name, 1.0)
        self._trial_in_flight = True
        try:
            return await self._counted(func, windowed=False)
        finally:
            self._trial_in_flight = False

    async def _counted(self, func: Callable[[], Awaitable[T]], *, windowed: bool) -> T:
        """`windowed`: a call made while closed, whose outcome goes into the window (a
        half-open trial's outcome is aiobreaker's to judge alone)."""
        is_fault = self.is_fault

        async def guarded() -> T:
            try:
                return await func()
            except Exception as exc:
                if is_fault(exc):
                    raise
                raise _NotTheService(exc) from None

        try:
            result = await self._breaker.call_async(guarded)
        except _NotTheService as carried:
            raise carried.error from None
        except Exception:
            # The service's failure (or aiobreaker's CircuitBreakerError raised from it).
            if windowed:
                self._record(True)
            raise
        if windowed:
            self._record(False)
        return result
