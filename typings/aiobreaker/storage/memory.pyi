# See ../__init__.pyi.
from ..state import CircuitBreakerState
from .base import CircuitBreakerStorage

class CircuitMemoryStorage(CircuitBreakerStorage):
    def __init__(self, state: CircuitBreakerState) -> None: ...
