"""The garbage collector of a served process, tuned once its app has started (apicore/collector.py).

Each check runs in a Python process of its own (the collector is the whole process's):
an app of ours started through its lifespan, as uvicorn starts it, with the variable
`apicore.serve` sets for a served process, and without it (as in tests, which build apps
in one long process): frozen only
when served, and collecting as often as Python does either way (a less frequent young
collection kept refused documents in memory: tests/hostile/test_graphql.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from apicore import collector

CHECK = """
import asyncio, gc, json
from apicore.app import base_app

async def main():
    app = base_app(title="t", version="1", metrics=False)
    before = gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        print(json.dumps({"frozen_before": before, "frozen": gc.get_freeze_count(),
                          "threshold": gc.get_threshold()}))

asyncio.run(main())
"""


def _started(value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != collector.ENV}
    if value is not None:
        env[collector.ENV] = value
    out = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_served_process_freezes_what_startup_made() -> None:
    state = _started("1")
    assert state["frozen_before"] == 0
    assert state["frozen"] > 10_000  # the modules, the app, its routes
    assert state["threshold"] == [700, 10, 10]


@pytest.mark.parametrize("value", [None, "0", "", "true", "1 "])
def test_otherwise_the_collector_is_as_python_comes(value: str | None) -> None:
    state = _started(value)
    assert state["frozen"] == 0
    assert state["threshold"] == [700, 10, 10]
