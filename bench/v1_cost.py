"""CPU the /v1 translation adds to a request (python -m bench.v1_cost).

Prints microseconds per call of what a /v1 request does besides our own routes' work:
its per-user limit counted in this process's memory (an exact moving window, as the
logins'; GATEWAY_V1_RATE_LIMIT), and an order translated to that version's words.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from graphql_gateway.auth.ratelimit import RateLimits
from graphql_gateway.config import Settings
from graphql_gateway.rest.v1.deps import V1Limits
from graphql_gateway.rest.v1.schemas import v1_order

ROUNDS = 20_000


async def measure() -> None:
    settings = Settings(auth="on", jwt_secret="bench-" + "s" * 40, v1_rate_limit="100/minute")
    limits, rate_limits = V1Limits(settings), RateLimits(settings)
    users = [str(uuid.uuid4()) for _ in range(ROUNDS // 50)]  # 50 requests each, under 100
    started = time.process_time()
    for user in users * 50:
        await rate_limits.check_route("v1", limits.each, user)
    counted = (time.process_time() - started) / ROUNDS * 1e6
    order = {
        "id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "items": [{"product": "Бетон", "quantity": 2, "price": "10.50"}],
        "status": "in_progress",
        "total_amount": "21.00",
        "due_date": None,
        "overdue": False,
        "created_at": "2026-12-07T10:00:00+00:00",
        "updated_at": "2026-12-07T10:00:00+00:00",
    }
    started = time.process_time()
    for _ in range(ROUNDS):
        v1_order(order)
    translated = (time.process_time() - started) / ROUNDS * 1e6
    print(f"per-user limit counted (memory, moving window): {counted:.1f} µs CPU")
    print(f"one order in that version's words:              {translated:.2f} µs CPU")


if __name__ == "__main__":
    asyncio.run(measure())
