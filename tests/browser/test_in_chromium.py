"""The playground and the API docs render and work in Chromium with no other origin reachable.

Every test opens its page through `open_page` (conftest.py): a request to any origin
but the process's own is aborted and fails the test, as does a console error (a
Content-Security-Policy violation is one) or a same-origin answer of 400 or above.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from graphql_gateway.graphql.examples import EXAMPLES
from tests.browser.conftest import SEEDED_NAME, System

pytestmark = pytest.mark.slow  # Chromium, and a gateway started for it

# Set to a path to keep the playground's screenshot (docs/graphql.md shows docs/playground.png).
KEEP_SCREENSHOT = os.environ.get("PLAYGROUND_SCREENSHOT")


async def test_the_playground_runs_the_dashboard_example(
    system: System, open_page: Any, tmp_path: Path
) -> None:
    watched = await open_page(f"{system.gateway.url}/graphql")
    page = watched.page
    tabs = page.locator(".graphiql-tab")
    await tabs.first.wait_for()
    assert await tabs.all_inner_texts() == [example.name for example in EXAMPLES]
    assert await page.locator(".graphiql-tab-active").inner_text() == EXAMPLES[0].name

    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".result-window")
    await result.get_by_text(SEEDED_NAME).wait_for()
    await result.get_by_text('"IN_PROGRESS"').wait_for()

    shot = tmp_path / "playground.png"
    await page.screenshot(path=shot)
    if KEEP_SCREENSHOT:
        shutil.copyfile(shot, KEEP_SCREENSHOT)
    watched.assert_clean()


async def test_the_playground_has_the_explorer_plugin(
    system: System, open_page: Any, tmp_path: Path
) -> None:
    watched = await open_page(f"{system.gateway.url}/graphql")
    page = watched.page
    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    explorer = page.locator(".graphiql-explorer-root")
    await explorer.get_by_text("users", exact=True).wait_for()
    await page.screenshot(path=tmp_path / "explorer.png")
    watched.assert_clean()


@pytest.mark.parametrize(
    ("process", "operation"),
    [("gateway", "/users/{id}"), ("users", "/users/{id}"), ("orders", "/orders/{id}")],
)
async def test_swagger_ui_shows_the_operations(
    system: System, open_page: Any, tmp_path: Path, process: str, operation: str
) -> None:
    url = getattr(system, process).url
    watched = await open_page(f"{url}/docs")
    path = watched.page.locator(".opblock-summary-path", has_text=operation)
    await path.first.wait_for()
    await watched.page.screenshot(path=tmp_path / f"docs-{process}.png")
    watched.assert_clean()


async def test_redoc_shows_the_operations(system: System, open_page: Any, tmp_path: Path) -> None:
    watched = await open_page(f"{system.gateway.url}/redoc")
    page = watched.page
    await page.locator("h1", has_text="API Gateway").wait_for()
    await page.get_by_text("/users/{id}", exact=True).first.wait_for()
    await page.screenshot(path=tmp_path / "redoc.png")
    watched.assert_clean()
