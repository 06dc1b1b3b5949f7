"""Our loaders' base (`graphql_gateway/loaders/batching.py`, `Loader`) against Strawberry's
DataLoader: the same steps on both give the same answers, the same failures and the same
batches sent, key for key.

The steps are random (seeded) runs of loads, pages of loads, primes (forced or not),
clears and event loop turns, over keys whose batch answers a value, an exception in
place of a value, or fails whole.
"""

from __future__ import annotations

import asyncio
import gc
import random
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from strawberry.dataloader import DataLoader

from graphql_gateway.loaders import DataLoaders
from graphql_gateway.loaders.batching import Loader

KEYS = [f"k{n}" for n in range(8)]
FAILS_ONE = "k6"  # its batch answers an exception in its place
FAILS_BATCH = "k7"  # its batch fails whole


class Failed(Exception):
    pass


def _loader(kind: type[DataLoader[str, Any]], sent: list[list[str]]) -> DataLoader[str, Any]:
    async def load_fn(keys: Sequence[str]) -> list[Any]:
        sent.append(list(keys))
        await asyncio.sleep(0)
        if FAILS_BATCH in keys:
            raise Failed(f"batch of {len(keys)}")
        return [Failed(key) if key == FAILS_ONE else f"loaded {key}" for key in keys]

    return kind(load_fn=load_fn)


def _outcome(task: asyncio.Task[Any]) -> Any:
    if not task.done():
        return "pending"  # a cancelled batch leaves some waiting: the same ones either way
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return ("raised", type(error).__name__, str(error)) if error else task.result()


async def _play(kind: type[DataLoader[str, Any]], seed: int) -> tuple[Any, ...]:
    steps = random.Random(seed)
    sent: list[list[str]] = []
    loader = _loader(kind, sent)
    waiting: list[asyncio.Task[Any]] = []
    log: list[Any] = []

    async def wait(awaitable: Any) -> Any:
        return await awaitable

    for _ in range(40):
        step = steps.choice(
            ["load", "many", "many", "prime", "force", "clear", "all", "turn", "cancel"]
        )
        if step == "load":
            waiting.append(asyncio.ensure_future(wait(loader.load(steps.choice(KEYS)))))
        elif step == "many":
            keys = steps.choices(KEYS, k=steps.randint(0, 6))
            waiting.append(asyncio.ensure_future(wait(loader.load_many(keys))))
        elif step in ("prime", "force"):
            data = {key: f"primed {key} {len(log)}" for key in steps.sample(KEYS, 3)}
            try:
                loader.prime_many(data, force=step == "force")
            except asyncio.InvalidStateError as exc:
                # Strawberry's own: a key of the unsent batch whose future was cancelled.
                log.append(("InvalidStateError", str(exc)))
        elif step == "clear":
            try:
                loader.clear(steps.choice(KEYS))
                log.append("cleared")
            except KeyError as exc:
                log.append(("KeyError", str(exc)))
        elif step == "all":
            loader.clear_all()
        elif step == "cancel" and waiting:  # a request that ends early (its client left)
            steps.choice(waiting).cancel()
        for _ in range(steps.randint(0, 3) if step == "turn" else 0):
            await asyncio.sleep(0)
    await asyncio.wait(waiting, timeout=0.05) if waiting else None
    # What each key loads as now, after every step.
    now = [await asyncio.gather(loader.load(key), return_exceptions=True) for key in KEYS]
    final = [repr(each) for each in now]
    return (
        tuple(_outcome(task) for task in waiting),
        tuple(log),
        tuple(map(tuple, sent)),
        tuple(final),
    )


@pytest.mark.parametrize("seed", range(300))
async def test_the_same_steps_give_the_same_answers_and_batches(seed: int) -> None:
    theirs = await _play(DataLoader, seed)
    ours = await _play(Loader, seed)
    assert ours == theirs


async def test_a_page_primed_then_loaded_is_one_future_each_and_no_call() -> None:
    sent: list[list[str]] = []
    loader = _loader(Loader, sent)
    loader.prime_many({key: f"primed {key}" for key in KEYS})
    assert await loader.load_many(KEYS[:3]) == [f"primed {key}" for key in KEYS[:3]]
    assert loader.load(KEYS[0]) is loader.load(KEYS[0])  # cached once loaded
    assert sent == []


@contextmanager
def _no_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def test_a_requests_loaders_are_freed_when_it_ends_without_the_collector(
    gateway_app: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    """No loader is in a reference cycle (its batch function holds the client, not the
    loader): what a request loaded is freed by reference counting when the request ends,
    not by the next full collection (docs/performance.md)."""
    _, app = gateway_app
    ids = [str(uuid.uuid4()) for _ in range(3)]
    with _no_collector():
        loaders = DataLoaders.for_request(app.state.clients)
        assert await loaders.user_by_id.load_many(ids) == [None] * 3
        assert await loaders.orders_by_user.load_many(ids) == [[]] * 3
        assert await loaders.orders_by_assignee.load_many(ids) == [[]] * 3
        stats = loaders.order_stats_by_user((None, None))
        assert [each["count"] for each in await stats.load_many(ids)] == [0] * 3
        loaders.user_by_id.prime_many({ids[0]: None})
        refs = [
            weakref.ref(each)
            for each in (
                loaders.user_by_id,
                loaders.orders_by_user,
                loaders.orders_by_assignee,
                stats,
            )
        ]
        del loaders, stats
        await asyncio.sleep(0)  # the batches' own tasks end
        assert [ref() for ref in refs] == [None] * len(refs)
