"""The playground: GraphiQL with its explorer plugin on GET /graphql from a browser.

In place of Strawberry's page, which loads React and GraphiQL from a CDN: every script
and style comes from this process (apicore/assets.py), so it works without internet and
under the strict policy for HTML pages (apicore/security.py). It opens with the example
operations (examples.py), one tab each, and a new tab shows how to authenticate. With
authentication on, the Login tab signs in every tab at once (pages/playground.js).
"""

from __future__ import annotations

import functools
import json
from html import escape

from apicore.assets import asset_url
from graphql_gateway.graphql.examples import EXAMPLES

# A new tab's text: how to authenticate. Comments only, so it runs nothing by accident.
GRAPHIQL_DEFAULT_QUERY = """# Sitetrack: one GraphQL API over the users and orders services.
#
# Authentication: with GATEWAY_AUTH=on, every operation but login needs a
# token (with the default, off, everything is open and no header is needed).
#
# 1. Log in: run this mutation with your email and password.
#
#      mutation {
#        login(email: "you@example.com", password: "your password") {
#          accessToken
#          expiresIn
#          user { id email roles }
#        }
#      }
#
# 2. That is all: the playground keeps the accessToken and every tab sends it
#    (the schema, Docs and autocompletion appear at once) until it expires
#    (expiresIn seconds) or you sign out; then log in again. A client of
#    your own sends the header itself:
#
#      {"Authorization": "Bearer <accessToken>"}
#
# 3. Then, for example:
#
#      { me { name email roles } }
#      { users(limit: 10) { total items { name roles } } }
#
# Keyboard shortcuts: Ctrl-Enter runs the operation, Ctrl-Space completes.
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sitetrack GraphQL playground</title>
<link rel="icon" href="data:,">
{styles}
</head>
<body>
<div id="graphiql">Loading…</div>
<script type="application/json" id="playground-settings">{settings}</script>
{scripts}
</body>
</html>
"""
STYLES = (
    "vendor/graphiql/graphiql.min.css",
    "vendor/graphiql-plugin-explorer/style.css",
    "pages/playground.css",
)
SCRIPTS = (
    "vendor/react/react.production.min.js",
    "vendor/react-dom/react-dom.production.min.js",
    "vendor/graphiql/graphiql.min.js",
    "vendor/graphiql-plugin-explorer/index.umd.js",
    "pages/playground.js",
)


def playground_settings(root: str, auth: bool = False) -> dict[str, object]:
    """What pages/playground.js reads: the endpoint, the tabs, a new tab's text, and
    whether authentication is on (then it shows the sign-in bar)."""
    tabs: list[dict[str, str]] = []
    for example in EXAMPLES:
        tab = {"query": example.query}
        if example.variables is not None:
            tab["variables"] = example.variables
        tabs.append(tab)
    return {
        "url": f"{root}/graphql",
        "defaultQuery": GRAPHIQL_DEFAULT_QUERY,
        "tabs": tabs,
        "auth": auth,
    }


def json_in_html(value: object) -> str:
    """JSON that a <script type="application/json"> holds safely: no "<", ">" or "&"."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@functools.lru_cache(maxsize=8)
def playground_html(root: str = "", auth: bool = False) -> str:
    """The page, for an app mounted under `root` ("" at the top)."""
    styles = (f'<link rel="stylesheet" href="{escape(root + asset_url(s))}">' for s in STYLES)
    scripts = (f'<script src="{escape(root + asset_url(s))}"></script>' for s in SCRIPTS)
    return _PAGE.format(
        styles="\n".join(styles),
        settings=json_in_html(playground_settings(root, auth)),
        scripts="\n".join(scripts),
    )
