"""Demo data through the public API, so the playground shows something at once. Idempotent.

python -m stack.seed [GATEWAY_URL]   # default: the gateway of GATEWAY_HOST and GATEWAY_PORT,
                                     # as `make run` starts it (http://127.0.0.1:8000)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

import httpx

PEOPLE = [
    ("ivanova@site.example", "Анна Иванова", ["engineer"]),
    ("petrov@site.example", "Пётр Петров", ["engineer"]),
    ("smirnov@site.example", "Сергей Смирнов", ["manager"]),
    ("kuznetsova@site.example", "Мария Кузнецова", ["manager"]),
    ("belov@site.example", "Ярослав Белов", ["director"]),
    ("customer@site.example", "ООО Заказчик", ["customer"]),
]
# (product, quantity, price) per order, and the status each order is walked to.
ORDERS = [
    ([("Бетон М300, м³", 12, "5400.00")], "created"),
    (
        [("Арматура А500С, т", 3, "61000.00"), ("Вязальная проволока, кг", 20, "210.50")],
        "in_progress",
    ),
    ([("Кирпич облицовочный", 1500, "32.90")], "completed"),
    ([("Гидроизоляция, рулон", 8, "2750.00")], "cancelled"),
]
WALKS = {
    "created": [],
    "in_progress": ["in_progress"],
    "completed": ["in_progress", "completed"],
    "cancelled": ["cancelled"],
}


def _data(response: httpx.Response) -> dict:
    response.raise_for_status()
    return response.json()["data"]


def seed(gateway_url: str) -> int:
    """Create whoever is missing, each newcomer with one order in every status."""
    created = 0
    with httpx.Client(base_url=gateway_url, timeout=10) as client:
        existing = {user["email"] for user in _data(client.get("/users", params={"limit": 1000}))}
        for email, name, roles in PEOPLE:
            if email in existing:
                continue
            user = _data(client.post("/users", json={"email": email, "name": name, "roles": roles}))
            for items, status in ORDERS:
                lines = [{"product": p, "quantity": q, "price": price} for p, q, price in items]
                order = _data(client.post("/orders", json={"user_id": user["id"], "items": lines}))
                for step in WALKS[status]:
                    _data(client.put(f"/orders/{order['id']}", json={"status": step}))
            created += 1
    print(f"Seeded {created} new user(s) with {created * len(ORDERS)} order(s).", flush=True)
    return created


def local_url(host: str, port: int | str) -> str:
    """Where a client on this machine reaches a server listening on `host`."""
    if host in {"", "0.0.0.0", "::"}:  # every address: loopback is one of them
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def gateway_url(env: Mapping[str, str]) -> str:
    return local_url(env.get("GATEWAY_HOST", "127.0.0.1"), env.get("GATEWAY_PORT", "8000"))


def main(argv: list[str] | None = None) -> int:
    default = gateway_url(os.environ)
    parser = argparse.ArgumentParser(
        prog="python -m stack.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("url", nargs="?", default=default, help=f"the gateway (default {default})")
    url = parser.parse_args(argv).url
    try:
        seed(url)
    except httpx.TransportError as exc:
        print(
            f"No gateway answers at {url} ({exc}). Is `make run` running? "
            "If it listens elsewhere, set GATEWAY_PORT (and GATEWAY_HOST) as for `make run`.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
