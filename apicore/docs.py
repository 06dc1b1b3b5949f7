"""The interactive API docs, /docs (Swagger UI) and /redoc, from files this process serves.

FastAPI's own pages load their scripts from a CDN and start Swagger UI with an inline
script; these load everything from /static (apicore/assets.py) and start from a script
file that reads its settings from data attributes, so the strict policy for HTML pages
(apicore/security.py) holds and the pages work without internet. ReDoc alone needs
more: styled-components writes <style> elements, and its search runs in a blob: worker.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse

from apicore.assets import asset_url
from apicore.security import html_policy

REDOC_POLICY = html_policy(style_src="'self' 'unsafe-inline'", worker_src="blob:")
_SWAGGER_UI = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{start}" data-openapi-url="{openapi_url}"></script>
</body>
</html>
"""

_REDOC = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
</head>
<body>
<redoc spec-url="{openapi_url}"></redoc>
<script src="{bundle}"></script>
</body>
</html>
"""


def root_of(request: Request) -> str:
    """The path the app is mounted under (behind a proxy that strips a prefix), or ""."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def swagger_ui_html(title: str, root: str, openapi_url: str) -> str:
    return _SWAGGER_UI.format(
        title=escape(title),
        css=escape(root + asset_url("vendor/swagger-ui/swagger-ui.css")),
        bundle=escape(root + asset_url("vendor/swagger-ui/swagger-ui-bundle.js")),
        start=escape(root + asset_url("pages/swagger-ui.js")),
        openapi_url=escape(root + openapi_url),
    )


def redoc_html(title: str, root: str, openapi_url: str) -> str:
    return _REDOC.format(
        title=escape(title),
        css=escape(root + asset_url("pages/redoc.css")),
        bundle=escape(root + asset_url("vendor/redoc/redoc.standalone.js")),
        openapi_url=escape(root + openapi_url),
    )


def install_docs(app: FastAPI) -> None:
    """GET /docs and GET /redoc, over the app's OpenAPI document."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return HTMLResponse(swagger_ui_html(app.title, root_of(request), openapi_url))

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        page = redoc_html(app.title, root_of(request), openapi_url)
        return HTMLResponse(page, headers={"content-security-policy": REDOC_POLICY})
