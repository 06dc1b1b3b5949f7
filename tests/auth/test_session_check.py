"""The front door's session check (graphql_gateway/auth/sessions.py) against a stand-in for
the users service: what it remembers and for how long, what one call serves, and what it
does when the service does not answer. The real service is tests/auth/test_sessions.py's."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from apicore.errors import NOT_FOUND, SERVICE_UNAVAILABLE, ApiError
from graphql_gateway.auth.identity import Identity
from graphql_gateway.auth.sessions import SessionCheck

USER = str(uuid.uuid4())


class Users:
    """Answers GET /internal/sessions/{id} as told; counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.roles: list[str] = ["manager"]
        self.user_id = USER
        self.failure: ApiError | None = None
        self.delay = 0.0

    async def get_session(self, session_id: str) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        return {"id": session_id, "user_id": self.user_id, "roles": self.roles}


def check(interval: float = 60.0) -> tuple[SessionCheck, Users]:
    sessions, users = SessionCheck(interval), Users()
    sessions.users = users
    return sessions, users


def caller(roles: frozenset[str] = frozenset({"admin"})) -> Identity:
    return Identity(user_id=USER, roles=roles, session_id=str(uuid.uuid4()))


async def test_the_answers_roles_count_not_the_tokens() -> None:
    sessions, users = check()
    users.roles = ["customer", "superuser"]
    identity = await sessions.identity(caller(frozenset({"admin"})))
    assert identity.roles == frozenset({"customer"})


async def test_one_call_serves_every_request_of_the_interval() -> None:
    sessions, users = check(interval=60)
    me = caller()
    for _ in range(50):
        await sessions.identity(me)
    assert users.calls == 1
    assert sessions.asked == 1


async def test_requests_at_once_share_one_call() -> None:
    sessions, users = check()
    users.delay = 0.05
    me = caller()
    answers = await asyncio.gather(*(sessions.identity(me) for _ in range(20)))
    assert users.calls == 1
    assert {a.roles for a in answers} == {frozenset({"manager"})}


async def test_the_asker_going_away_does_not_fail_the_requests_waiting_on_it() -> None:
    """The request whose call the others share is cancelled (its client left): they ask
    again themselves, and get their answer, not its cancellation."""
    sessions, users = check()
    users.delay = 0.1
    me = caller()
    asker = asyncio.create_task(sessions.identity(me))
    await asyncio.sleep(0.01)
    waiting = [asyncio.create_task(sessions.identity(me)) for _ in range(5)]
    await asyncio.sleep(0.01)
    asker.cancel()
    answers = await asyncio.gather(*waiting)
    assert {a.roles for a in answers} == {frozenset({"manager"})}
    assert users.calls == 2  # the cancelled call, and one more for all five
    with pytest.raises(asyncio.CancelledError):
        await asker


async def test_past_the_interval_it_asks_again_and_sees_the_end() -> None:
    sessions, users = check(interval=0.05)
    me = caller()
    await sessions.identity(me)
    users.failure = ApiError(NOT_FOUND, "Session not found")
    await asyncio.sleep(0.06)
    for _ in range(3):  # ended stays ended, without asking again
        with pytest.raises(ApiError) as refused:
            await sessions.identity(me)
        assert refused.value.status == 401
    assert users.calls == 2


async def test_forget_refuses_at_once() -> None:
    sessions, _ = check()
    me = caller()
    await sessions.identity(me)
    assert me.session_id is not None
    sessions.forget(me.session_id)
    with pytest.raises(ApiError) as refused:
        await sessions.identity(me)
    assert refused.value.status == 401


async def test_a_session_of_another_user_is_refused() -> None:
    sessions, users = check()
    users.user_id = str(uuid.uuid4())
    with pytest.raises(ApiError) as refused:
        await sessions.identity(caller())
    assert refused.value.status == 401


async def test_a_service_that_does_not_answer() -> None:
    """A session seen standing stays so (its token's expiry bounds it); one never seen is
    the service's 503, never a pass."""
    sessions, users = check(interval=0.01)
    seen, stranger = caller(), caller()
    await sessions.identity(seen)
    users.failure = ApiError(SERVICE_UNAVAILABLE, "users unavailable")
    await asyncio.sleep(0.02)
    assert (await sessions.identity(seen)).roles == frozenset({"manager"})
    with pytest.raises(ApiError) as refused:
        await sessions.identity(stranger)
    assert refused.value.status == 503


async def test_a_providers_identity_has_no_session_to_check() -> None:
    sessions, users = check()
    theirs = Identity(user_id=USER, roles=frozenset({"engineer"}))
    assert await sessions.identity(theirs) is theirs
    assert users.calls == 0
