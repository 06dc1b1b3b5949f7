"""No request waits for a worker thread: FastAPI and Starlette run a plain `def` endpoint
or dependency in a thread pool, a thread hop (and its CPU) on every request that reaches
it. Every endpoint and dependency of the three apps is `async def`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Route

from graphql_gateway.app import create_app as create_gateway_app
from service_orders.app import create_app as create_orders_app
from service_users.app import create_app as create_users_app

# In a thread on purpose: a scrape every few seconds, which reads every worker's metric
# files in multiprocess mode (blocking file I/O, kept off the event loop).
THREADED_ON_PURPOSE = {"/metrics"}


def _routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def _calls(dependant: Any) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _is_async(call: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 (an instance with an async __call__)
    )


def _threaded(app: FastAPI) -> tuple[int, list[str]]:
    checked, threaded = 0, []
    for route in _routes(app.routes):
        if isinstance(route, APIRoute):
            calls = [route.endpoint, *_calls(route.dependant)]
        elif isinstance(route, Route):
            calls = [route.endpoint]
        else:
            continue  # a mounted ASGI app (the static files) runs no endpoint of ours
        for call in calls:
            checked += 1
            if not _is_async(call) and route.path not in THREADED_ON_PURPOSE:
                threaded.append(f"{sorted(route.methods or [])} {route.path}: {call!r}")
    return checked, threaded


@pytest.mark.parametrize(
    "create_app",
    [create_users_app, create_orders_app, create_gateway_app],
    ids=["users", "orders", "gateway"],
)
def test_no_endpoint_or_dependency_runs_in_a_worker_thread(
    create_app: Callable[[], FastAPI],
) -> None:
    checked, threaded = _threaded(create_app())
    assert checked > 10  # the routes were found (FastAPI nests included routers)
    assert threaded == []
