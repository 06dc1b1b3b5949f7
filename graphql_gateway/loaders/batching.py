from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from apicore.params import MAX_BATCH_IDS

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

# Type name -> the comma-separated fields this request reads of it (absent: all of them).
# Compiled plans know the whole request's needs up front; the stock executor does not.
Projection = dict[str, str]

_ABSENT: Any = object()


class Loader(DataLoader[K, T]):
    """Strawberry's DataLoader, whose `prime_many` keeps the values it is given and makes
    one the cached future Strawberry would have made only when that key is loaded.

    The same cache, batches and answers, key for key
    (tests/graphql_gateway/test_loaders.py runs both on the same steps). A page of 100
    users primes 100 keys that a dashboard never loads again: a resolved future each, ~2 %
    of the gateway's CPU on it (docs/performance.md, "Primed values made futures only
    when loaded").
    """

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[Sequence[T]]]) -> None:
        super().__init__(load_fn=load_fn)
        # Primed values not loaded yet: never a key the cache holds a future for.
        self._primed: dict[K, T] = {}

    def load(self, key: K) -> Awaitable[T]:
        if self._primed:
            value = self._primed.pop(key, _ABSENT)
            if value is not _ABSENT:
                future: asyncio.Future[T] = self.loop.create_future()
                future.set_result(value)
                self.cache_map.set(key, future)
                return future
        return super().load(key)

    def prime_many(self, data: Mapping[K, T], force: bool = False) -> None:
        if not self.cache:
            super().prime_many(data, force)
            return
        primed = self._primed
        for key, value in data.items():
            cached = self.cache_map.get(key)
            if force:
                if cached is not None:
                    self.cache_map.delete(key)
                primed[key] = value
            elif cached is None and key not in primed:
                primed[key] = value
        # As DataLoader.prime_many: a key in the batch not sent yet takes the value given.
        if self.batch is not None and not self.batch.dispatched:
            updated = False
            for task in self.batch.tasks:
                if task.key in data:
                    updated = True
                    task.future.set_result(data[task.key])
            if updated:
                self.batch.tasks = [task for task in self.batch.tasks if not task.future.done()]

    def clear(self, key: K) -> None:
        if self._primed.pop(key, _ABSENT) is not _ABSENT:
            return  # primed, never loaded: the cache has no future for it
        super().clear(key)

    def clear_many(self, keys: Iterable[K]) -> None:
        for key in keys:
            self.clear(key)

    def clear_all(self) -> None:
        self._primed.clear()
        super().clear_all()


async def in_chunks(
    keys: Sequence[str], fetch: Callable[[Sequence[str]], Awaitable[list[T]]]
) -> list[T]:
    """One call per 500 keys (the services' batch limit), made concurrently."""
    if len(keys) <= MAX_BATCH_IDS:
        return await fetch(keys)
    chunks = [keys[i : i + MAX_BATCH_IDS] for i in range(0, len(keys), MAX_BATCH_IDS)]
    results = await asyncio.gather(*(fetch(chunk) for chunk in chunks))
    return [row for chunk in results for row in chunk]


def grouped(
    keys: Sequence[str], rows: Iterable[T], key_of: Callable[[T], str | None]
) -> list[list[T]]:
    """`rows` in one list per key, in the order of `keys` (rows of no asked key left out):
    what a batch of "the orders of each user" answers."""
    by_key: dict[str, list[T]] = {key: [] for key in keys}
    for row in rows:
        bucket = by_key.get(key_of(row) or "")
        if bucket is not None:
            bucket.append(row)
    return [by_key[key] for key in keys]
