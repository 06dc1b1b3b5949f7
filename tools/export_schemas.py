"""Write the contract documents under schema/: each process's OpenAPI (and the GraphQL SDL).

python -m tools.export_schemas          # write
python -m tools.export_schemas --check  # exit 1 when a file differs from the code
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"


def _openapi(create_app: Callable[[], FastAPI]) -> str:
    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def gateway_app() -> FastAPI:
    """The gateway's whole surface: authentication on, and with it the /v1 routes
    (graphql_gateway/rest/v1/). With auth off it serves this document without them."""
    from graphql_gateway.app import create_app
    from graphql_gateway.config import MIN_SECRET_BYTES, Settings

    # Never signs anything: the app is built for its document only, then dropped.
    placeholder = "document-only-" + "x" * MIN_SECRET_BYTES
    return create_app(Settings(auth="on", jwt_secret=placeholder, v1_api="on"))


def documents() -> dict[str, str]:
    from graphql_gateway.graphql.schema import export_sdl
    from service_orders.app import create_app as orders_app
    from service_users.app import create_app as users_app

    return {
        "users.openapi.json": _openapi(users_app),
        "orders.openapi.json": _openapi(orders_app),
        "gateway.openapi.json": _openapi(gateway_app),
        "schema.graphql": export_sdl(),
    }


def stale() -> list[str]:
    return [
        name
        for name, text in documents().items()
        if not (SCHEMA_DIR / name).exists() or (SCHEMA_DIR / name).read_text() != text
    ]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        names = stale()
        for name in names:
            print(f"schema/{name} differs from the code; run `make schema`", file=sys.stderr)
        return 1 if names else 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in documents().items():
        (SCHEMA_DIR / name).write_text(text)
        print(f"wrote schema/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
