"""CPU per token verification at the front door, cached and not (python -m bench.auth_cost).

Prints microseconds per `TokenService.identify`: the first sight of a token (PyJWT checks
the HS256 signature and the claims) and every later one (the verified-token cache).
"""

from __future__ import annotations

import asyncio
import time
import uuid

from graphql_gateway.auth.tokens import TokenService
from graphql_gateway.config import Settings

ROUNDS = 20_000


async def measure() -> None:
    service = TokenService(Settings(auth="on", jwt_secret="bench-" + "s" * 40))
    user = {"id": str(uuid.uuid4()), "roles": ["manager"]}
    fresh = [f"Bearer {service.issue(user)}".encode() for _ in range(ROUNDS)]
    started = time.process_time()
    for header in fresh:
        await service.identify(header)
    cold = (time.process_time() - started) / ROUNDS * 1e6
    header = fresh[0]
    started = time.process_time()
    for _ in range(ROUNDS):
        await service.identify(header)
    warm = (time.process_time() - started) / ROUNDS * 1e6
    print(f"identify, first sight of a token: {cold:.1f} µs CPU")
    print(f"identify, a token seen before:    {warm:.1f} µs CPU")


if __name__ == "__main__":
    asyncio.run(measure())
