"""With authentication on, in Chromium: sign in once, and every tab and panel can use it.

The playground: it opens on a bar saying how to sign in (and asks for nothing it would
be refused); the Login tab, run with its own Variables, signs in every tab at once: the
Dashboard tab runs, a new tab runs, the Docs panel shows the schema and the editor
completes a field, without reloading anything. Swagger UI (/docs): its Authorize button
takes the token, and "Try it out" sends it. Any answer of 400 or above, a request to
another origin or a console error fails the test (conftest.py's `open_page`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.conftest import SECRET
from tests.support.services import own_gateway

pytestmark = pytest.mark.slow  # Chromium, and a gateway started for it

# The Login tab's own Variables (graphql/examples.py): the account the test signs in as.
EMAIL = "you@example.com"
PASSWORD = "your password"
NAME = "Ada Signed-In"


@dataclass
class AuthSystem:
    url: str
    token: str


@pytest.fixture(scope="module")
def auth_system(pg_server: str, logs_dir: Path) -> Iterator[AuthSystem]:
    env = {
        "GATEWAY_AUTH": "on",
        "GATEWAY_JWT_SECRET": SECRET,
        "GATEWAY_LOGIN_RATE_LIMIT": "1000/minute",
    }
    with own_gateway(pg_server, logs_dir, "browser-signed-in", **env) as (gateway, users, _):
        body = {"email": EMAIL, "name": NAME, "roles": ["admin"], "password": PASSWORD}
        created = httpx.post(f"{users.url}/users", json=body, timeout=10)
        assert created.status_code == 201, created.text
        login = httpx.post(
            f"{gateway.url}/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=10
        )
        assert login.status_code == 200, login.text
        yield AuthSystem(gateway.url, login.json()["data"]["access_token"])


# The query editor of the active tab (CodeMirror 5, as GraphiQL 3 has it).
CODEMIRROR = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"


async def _run(page: Any) -> None:
    await page.locator(".graphiql-execute-button").click()


async def test_the_playground_signs_in_once_for_every_tab(
    auth_system: AuthSystem, open_page: Any, tmp_path: Path
) -> None:
    watched = await open_page(f"{auth_system.url}/graphql")
    page = watched.page
    bar = page.locator(".sitetrack-auth")
    await bar.get_by_text("Authentication is on: open the Login tab").wait_for()
    result = page.locator(".result-window")

    await page.locator(".graphiql-tab", has_text="Login").click()
    await _run(page)
    await result.get_by_text('"accessToken"').wait_for()
    await bar.get_by_text(f"Signed in as {EMAIL}").wait_for()

    await page.locator(".graphiql-tab", has_text="Dashboard").click()
    await _run(page)
    await result.get_by_text(NAME).wait_for()

    # The schema came with the sign-in: Docs shows the root types, no reload, no ⟳.
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    docs = page.locator(".graphiql-doc-explorer")
    await docs.get_by_text("Query", exact=True).first.wait_for()

    # A new tab sends the token too, and its editor completes a field from the schema.
    await page.locator(".graphiql-tab-add").click()  # "Add tab"
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await editor.click()
    await page.keyboard.press("Control+End")
    await page.keyboard.type("\n{ me { nam")
    hint = page.locator(".CodeMirror-hint", has_text="name")
    await hint.first.wait_for()
    await page.keyboard.press("Enter")
    typed = await page.evaluate(CODEMIRROR + ".getValue()")
    assert "{ me { name" in typed, typed  # the completion went in
    # Then a clean operation (the editor closes brackets as it likes while one types).
    await page.evaluate(CODEMIRROR + ".setValue('{ me { name email } }')")
    await _run(page)
    await result.get_by_text(NAME).wait_for()

    await page.screenshot(path=tmp_path / "signed-in.png")
    watched.assert_clean()

    # Sign out: back to the bar, and the next operation sends no token (the anonymous
    # caller may only log in): the token is gone from every tab.
    await bar.get_by_role("button", name="Sign out").click()
    await bar.get_by_text("Authentication is on: open the Login tab").wait_for()


async def test_the_playground_asks_for_nothing_before_signing_in(
    auth_system: AuthSystem, open_page: Any
) -> None:
    watched = await open_page(f"{auth_system.url}/graphql")
    page = watched.page
    await page.locator(".sitetrack-auth-out").wait_for()
    await page.locator(".graphiql-tab").first.wait_for()
    await page.wait_for_timeout(500)  # time for an introspection, were one sent
    watched.assert_clean()  # no 401: no schema was asked for with no token


async def test_swagger_ui_authorize_sends_the_token(
    auth_system: AuthSystem, open_page: Any, tmp_path: Path
) -> None:
    watched = await open_page(f"{auth_system.url}/docs")
    page = watched.page
    await page.locator(".btn.authorize").first.click()
    modal = page.locator(".modal-ux")
    await modal.get_by_text("bearerAuth").first.wait_for()
    await modal.locator("input").first.fill(auth_system.token)
    await modal.locator("button.modal-btn.authorize").click()  # its label: "Apply credentials"
    await modal.get_by_text("Authorized", exact=True).first.wait_for()
    await modal.locator("button.btn-done").first.click()

    operation = page.locator(
        ".opblock", has=page.locator(".opblock-summary-path", has_text="/auth/me")
    )
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    live = operation.locator(".live-responses-table")
    await live.get_by_text(EMAIL).first.wait_for()
    await live.locator(".response-col_status", has_text="200").first.wait_for()
    await page.screenshot(path=tmp_path / "docs-authorized.png")
    watched.assert_clean()
