"""The browser pages' scripts and styles, served by the process itself under /static.

Everything the playground and the API docs load comes from apicore/static: the vendored
builds in vendor/ (`make assets`, tools/fetch_assets.py) and our own small scripts
beside them. Pages name each file with `asset_url`, whose `?v=` is the file's digest, so
a browser may keep a file for a year and still gets a new one the moment it changes.
Only .js and .css are served; anything else under the folder (licences, the manifest)
is a 404, as is any path that leaves it.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"
SERVED_SUFFIXES = frozenset({".js", ".css"})
CACHE_CONTROL = "public, max-age=31536000, immutable"


class StaticAssets(StaticFiles):
    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if Path(path).suffix not in SERVED_SUFFIXES:
            raise HTTPException(status_code=404)  # as StaticFiles answers any miss
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = CACHE_CONTROL
        return response


@functools.cache
def asset_url(path: str) -> str:
    """`/static/<path>?v=<digest>` for a file under apicore/static (a missing file fails loudly)."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:16]
    return f"{STATIC_PATH}/{path}?v={digest}"
