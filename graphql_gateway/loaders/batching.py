from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from apicore.params import MAX_BATCH_IDS

T = TypeVar("T")

# Type name -> the comma-separated fields this request reads of it (absent: all of them).
# Compiled plans know the whole request's needs up front; the stock executor does not.
Projection = dict[str, str]


async def in_chunks(
    keys: Sequence[str], fetch: Callable[[Sequence[str]], Awaitable[list[T]]]
) -> list[T]:
    """One call per 500 keys (the services' batch limit), made concurrently."""
    if len(keys) <= MAX_BATCH_IDS:
        return await fetch(keys)
    chunks = [keys[i : i + MAX_BATCH_IDS] for i in range(0, len(keys), MAX_BATCH_IDS)]
    results = await asyncio.gather(*(fetch(chunk) for chunk in chunks))
    return [row for chunk in results for row in chunk]
