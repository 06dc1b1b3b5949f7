"""Password hashing with argon2, off the event loop (a hash takes tens of milliseconds).

Checking a password always costs one argon2 verification, also when there is no hash to
check it against (no user with that email, a user without a password): how long a login
takes tells nothing about which emails are registered.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.low_level import ARGON2_VERSION
from starlette.concurrency import run_in_threadpool

_hasher = PasswordHasher()
T = TypeVar("T")

# Each argon2 call takes ~64 MiB and all of a core for tens of milliseconds. Unbounded, a
# burst of logins would take the whole thread pool (40 threads, 2.5 GiB) and starve every
# other request that needs it; bounded, the burst waits its turn. Per process, 2 cores.
MAX_CONCURRENT_HASHES = 4
_slots: asyncio.Semaphore | None = None


async def _bounded(function: Callable[..., T], *args: str) -> T:
    global _slots
    if _slots is None:  # made on first use, inside the serving loop
        _slots = asyncio.Semaphore(MAX_CONCURRENT_HASHES)
    async with _slots:
        return await run_in_threadpool(function, *args)


def _b64(size: int) -> str:
    return base64.b64encode(os.urandom(size)).rstrip(b"=").decode()


def _stand_in_hash() -> str:
    """An argon2 hash with the hasher's own parameters that no password verifies against.

    argon2 verifies by hashing the password again with the parameters and salt written in
    the hash, so this one costs what a real one costs; built from random bytes (a 256-bit
    digest nothing hashes to), it costs nothing to make.
    """
    h = _hasher
    return (
        f"$argon2{h.type.name.lower()}$v={ARGON2_VERSION}"
        f"$m={h.memory_cost},t={h.time_cost},p={h.parallelism}"
        f"${_b64(h.salt_len)}${_b64(h.hash_len)}"
    )


STAND_IN_HASH = _stand_in_hash()


def hash_password_blocking(password: str) -> str:
    """The hash, computed in this thread (for scripts; a server uses hash_password)."""
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await _bounded(_hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except Exception:
        return False


async def check_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches the hash (None: no hash, never a match), at the same cost."""
    if password_hash is None:
        await _bounded(verify_password, STAND_IN_HASH, password)
        return False
    return await _bounded(verify_password, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """A hash made with weaker parameters than the hasher's current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except Exception:
        return False
