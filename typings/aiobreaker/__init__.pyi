# Type stubs for aiobreaker 1.2 (constraints.txt), which ships no `py.typed`: only what this
# project uses, as the library behaves (read from its source), for mypy (pyproject.toml).
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from . import storage as storage
from .state import CircuitBreakerBaseState
from .state import CircuitBreakerError as CircuitBreakerError
from .state import CircuitBreakerState as CircuitBreakerState
from .storage.base import CircuitBreakerStorage

_T = TypeVar("_T")

class CircuitBreakerListener:
    # The library annotates `old` and `new` as CircuitBreakerState, but calls this with its
    # state objects (the previous one and itself), whose `.state` is the CircuitBreakerState.
    def state_change(
        self,
        breaker: CircuitBreaker,
        old: CircuitBreakerBaseState | None,
        new: CircuitBreakerBaseState,
    ) -> None: ...

class CircuitBreaker:
    def __init__(
        self,
        fail_max: int = 5,
        timeout_duration: timedelta | None = None,
        exclude: Iterable[Callable[[Exception], bool] | type[Exception]] | None = None,
        listeners: Iterable[CircuitBreakerListener] | None = None,
        state_storage: CircuitBreakerStorage | None = None,
        name: str | None = None,
    ) -> None: ...
    _state_storage: CircuitBreakerStorage
    @property
    def fail_counter(self) -> int: ...
    @property
    def current_state(self) -> CircuitBreakerState: ...
    @property
    def name(self) -> str: ...
    def add_listeners(self, *listeners: CircuitBreakerListener) -> None: ...
    async def call_async(
        self, func: Callable[..., Awaitable[_T]], *args: Any, **kwargs: Any
    ) -> _T: ...
    def open(self) -> None: ...
    def half_open(self) -> None: ...
    def close(self) -> None: ...
