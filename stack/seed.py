"""Demo data through the public API, so the playground shows something at once. Idempotent.

python -m stack.seed [GATEWAY_URL]      # default http://127.0.0.1:8000
"""

from __future__ import annotations

import sys

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


if __name__ == "__main__":
    seed(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
