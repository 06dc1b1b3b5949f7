"""CPU per caller check at the front door, cached and not (python -m bench.auth_cost).

Prints microseconds per `TokenService.identify` (the token): the first sight of a token
(PyJWT checks the HS256 signature and the claims) and every later one (the verified-token
cache); then per `SessionCheck.identity` (does the token's session still stand?) while its
answer is remembered (GATEWAY_SESSION_CHECK_INTERVAL), which is nearly every request. The
call to the users service once a second per session and worker is measured on real
processes by `make bench` (the ours+auth rows).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from graphql_gateway.auth.sessions import SessionCheck
from graphql_gateway.auth.tokens import TokenService
from graphql_gateway.config import Settings

ROUNDS = 20_000


class _Users:
    """Stands in for the users service: answers every session as standing."""

    async def get_session(self, session_id: str) -> dict[str, Any]:
        return {"id": session_id, "user_id": USER["id"], "roles": ["manager"]}


USER = {"id": str(uuid.uuid4()), "roles": ["manager"]}


async def measure() -> None:
    service = TokenService(Settings(auth="on", jwt_secret="bench-" + "s" * 40))
    session_id = str(uuid.uuid4())
    fresh = [f"Bearer {service.issue(USER, session_id)}".encode() for _ in range(ROUNDS)]
    started = time.process_time()
    for header in fresh:
        await service.identify(header)
    cold = (time.process_time() - started) / ROUNDS * 1e6
    header = fresh[0]
    started = time.process_time()
    for _ in range(ROUNDS):
        await service.identify(header)
    warm = (time.process_time() - started) / ROUNDS * 1e6
    sessions = SessionCheck(interval=3600)
    sessions.users = _Users()
    identity = await service.identify(header)
    await sessions.identity(identity)
    started = time.process_time()
    for _ in range(ROUNDS):
        await sessions.identity(identity)
    checked = (time.process_time() - started) / ROUNDS * 1e6
    print(f"identify, first sight of a token: {cold:.1f} µs CPU")
    print(f"identify, a token seen before:    {warm:.1f} µs CPU")
    print(f"session standing, remembered:     {checked:.1f} µs CPU")


if __name__ == "__main__":
    asyncio.run(measure())
