"""Password hashing with argon2, off the event loop (a hash takes tens of milliseconds)."""

from __future__ import annotations

from argon2 import PasswordHasher
from starlette.concurrency import run_in_threadpool

_hasher = PasswordHasher()


async def hash_password(password: str) -> str:
    return await run_in_threadpool(_hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except Exception:
        return False
