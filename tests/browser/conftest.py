"""The pages in a real browser: Debian's Chromium driven by Playwright, nothing else online.

The system runs as real processes (a gateway over services of its own, with a user and
orders in them). Each page is opened in a fresh context whose every request to another
origin is aborted and recorded, so a test sees at once anything that would need the
internet; console errors (a Content-Security-Policy violation is one) are recorded too.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response, Route, async_playwright

from tests.support.procs import RunningProcess
from tests.support.services import own_gateway

# Debian's Chromium: Playwright's own browser builds are never downloaded.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium", path="/usr/bin")

TIMEOUT_MS = 30_000
SEEDED_NAME = "Grace Hopper"


@dataclass
class System:
    gateway: RunningProcess
    users: RunningProcess
    orders: RunningProcess
    user: dict[str, Any]


@dataclass
class Watched:
    """A page, and what it tried that a page working offline never does."""

    page: Page
    origin: str
    foreign: list[str] = field(default_factory=list)  # requests to another origin, aborted
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    failed: list[str] = field(default_factory=list)  # same-origin answers of 400 and above

    def assert_clean(self) -> None:
        assert self.foreign == [], "the page reached for another origin"
        assert self.errors == [], "the page logged errors"
        assert self.failed == [], "the page loaded something that failed"


def _seed(users_url: str, orders_url: str) -> dict[str, Any]:
    with httpx.Client(timeout=30) as http:
        user = http.post(
            f"{users_url}/users", json={"email": "grace@example.com", "name": SEEDED_NAME}
        )
        assert user.status_code == 201, user.text
        user_id = user.json()["data"]["id"]
        for status, price in (("in_progress", "120.50"), ("completed", "42.00")):
            order = http.post(
                f"{orders_url}/orders",
                json={
                    "user_id": user_id,
                    "items": [{"product": "Cement", "quantity": 2, "price": price}],
                    "status": status,
                },
            )
            assert order.status_code == 201, order.text
    return user.json()["data"]


@pytest.fixture(scope="module")
def system(pg_server: str, logs_dir: Path, request: pytest.FixtureRequest) -> Iterator[System]:
    name = "browser-" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with own_gateway(pg_server, logs_dir, name) as (gateway, users, orders):
        yield System(gateway, users, orders, _seed(users.url, orders.url))


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("no Chromium to open the pages in (Debian: apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[Any]:
    """`await open_page(url)`: a Watched page in a fresh context, `url` loaded."""
    contexts = []

    async def opened(url: str) -> Watched:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        watched = Watched(page, origin_of(url))

        async def route(route: Route) -> None:
            if origin_of(route.request.url) == watched.origin:
                await route.continue_()
            else:
                watched.foreign.append(route.request.url)
                await route.abort("blockedbyclient")

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                watched.errors.append(message.text)

        def response(answer: Response) -> None:
            if answer.status >= 400:
                watched.failed.append(f"{answer.status} {answer.url}")

        await page.route("**/*", route)
        page.on("console", console)
        page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
        page.on("response", response)
        await page.goto(url, wait_until="load")
        return watched

    yield opened
    for context in contexts:
        await context.close()
