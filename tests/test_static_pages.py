"""The browser pages and their files: all from the process itself, under a strict policy.

GraphiQL (GET /graphql), Swagger UI (/docs) and ReDoc (/redoc) name only same-origin
URLs; each file they name answers 200 with its type and a year's cache; the policy lets
a page load and reach nothing from another origin and run no inline script; the files
open without a token with auth on; and nothing outside the .js and .css under
apicore/static is served, however the path is spelled. (tests/browser opens the pages.)
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest

from apicore.assets import STATIC_DIR
from graphql_gateway.app import create_app as create_gateway_app
from graphql_gateway.config import Settings as GatewaySettings
from service_users.app import create_app as create_users_app
from service_users.config import Settings as UsersSettings
from tests.conftest import asgi_client, gateway_for
from tools import fetch_assets

UNUSED = "http://127.0.0.1:9"  # the pages call no service
AUTH_ON = {"auth": "on", "jwt_secret": "static-pages-test-secret-" + "x" * 32}
PAGES = ("/graphql", "/docs", "/redoc")
HTML = {"Accept": "text/html"}
TYPES = {".js": "text/javascript", ".css": "text/css"}


class Links(HTMLParser):
    """Every URL a page makes the browser load (src and href)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in {"src", "href", "spec-url"} and v]


def links_of(page: str) -> list[str]:
    parser = Links()
    parser.feed(page)
    return parser.urls


def directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {name: values for name, *values in parts}


@pytest.fixture(params=["gateway", "users"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "users":  # no lifespan: the pages need no database
        async with asgi_client(create_users_app(UsersSettings())) as client:
            yield client
        return
    async with gateway_for(UNUSED, UNUSED, **AUTH_ON) as (client, _):
        yield client


async def pages_of(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
    found = {path: await client.get(path, headers=HTML) for path in PAGES}
    return {path: r for path, r in found.items() if r.status_code != 404 or path != "/graphql"}


async def test_the_pages_name_only_files_of_their_own_origin(client: httpx.AsyncClient) -> None:
    for path, response in (await pages_of(client)).items():
        assert response.status_code == 200, (path, response.text)  # no token: auth is on
        assert "://" not in response.text, f"{path} names another origin"
        for url in links_of(response.text):
            assert url == "data:," or (url.startswith("/") and not url.startswith("//")), url


async def test_each_file_a_page_names_is_served_for_a_year(client: httpx.AsyncClient) -> None:
    named = {
        url
        for response in (await pages_of(client)).values()
        for url in links_of(response.text)
        if url.startswith("/static/")
    }
    assert len(named) >= 5, named
    for url in named:
        response = await client.get(url)  # no token: auth is on
        assert response.status_code == 200, url
        parts = urlsplit(url)
        suffix = parts.path[parts.path.rindex(".") :]
        assert response.headers["content-type"].startswith(TYPES[suffix]), url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        # The ?v= is the file's digest: a changed file is a new URL, never a stale cache.
        assert parts.query == "v=" + hashlib.sha256(response.content).hexdigest()[:16]


async def test_the_pages_policy_lets_nothing_in_from_elsewhere(client: httpx.AsyncClient) -> None:
    for path, response in (await pages_of(client)).items():
        policy = directives(response.headers["content-security-policy"])
        assert policy["default-src"] == ["'none'"], path
        assert policy["script-src"] == ["'self'"], path  # no inline script, no eval
        for name in ("connect-src",):
            assert policy[name] == ["'self'"], path
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'none'"]
        for name, values in policy.items():
            for value in values:
                assert value in {"'self'", "'none'", "data:", "blob:", "'unsafe-inline'"}, (
                    path,
                    name,
                    value,
                )
        inline_styles = "'unsafe-inline'" in policy["style-src"]
        assert inline_styles == (path == "/redoc"), path  # styled-components writes <style>
        assert ("worker-src" in policy) == (path == "/redoc"), path  # its search worker
        assert response.headers["x-content-type-options"] == "nosniff"


# httpx removes literal dot segments before sending; encoded, they reach the app decoded,
# as a server passes them on.
@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/vendor/%2e%2e/%2e%2e/assets.py",
        "/static/pages/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/%2e%2e/users",  # not a way past the front door either
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/vendor/manifest.json",
        "/static/vendor/redoc/LICENSE",
        "/static/vendor",
        "/static/",
        "/static/pages/nothing.js",
        "/static/pages/playground.js%00.css",
    ],
)
async def test_nothing_else_is_served_under_static(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404, (path, response.text[:200])
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("env", ["production", "development-without-docs"])
async def test_without_docs_the_playground_keeps_its_files(env: str) -> None:
    """Docs off (production): /docs and /redoc are gone; only the gateway keeps /static,
    for GraphiQL, which stays (introspection is off in production, not the page)."""
    settings = {"env": "production"} if env == "production" else {"docs": False}
    gateway = create_gateway_app(GatewaySettings(users_url=UNUSED, orders_url=UNUSED, **settings))
    users = create_users_app(UsersSettings(**settings))
    for app, keeps_files in ((gateway, True), (users, False)):
        async with asgi_client(app) as client:
            for path in ("/docs", "/redoc"):
                assert (await client.get(path)).status_code == 404
            script = await client.get("/static/pages/playground.js")
            assert script.status_code == (200 if keeps_files else 404)
            swagger = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
            assert swagger.status_code == (200 if keeps_files else 404)


def test_the_vendored_files_are_the_pinned_releases() -> None:
    assert fetch_assets.problems() == []
    assert (STATIC_DIR / "vendor" / "graphiql" / "LICENSE").exists()
