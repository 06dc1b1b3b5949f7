"""Does the login behind a token still stand? Asked of the users service, remembered briefly.

Our access tokens name their session (`sid`); the users service ends a session on
logout, on a reused refresh token, on a change of the user's roles or password, and on
the user's deletion (service_users/sessions.py). Each worker asks it
`GET /internal/sessions/{sid}` and trusts the answer for GATEWAY_SESSION_CHECK_INTERVAL
seconds (default 1): that is the bound on any of those taking effect, with or without
Redis (the state lives in the users service's database, which every worker and replica
asks). An ended session stays ended, so that answer is kept (bounded).

The roles that count are the ones the users service answers with, the user's now, not
the token's: a token cannot carry more than its user has.

Requests that need one session's standing at once share one call (single flight). When
the users service cannot answer (down, circuit open, timeout), a session this worker saw
standing stays so for as long as its token lives (GATEWAY_JWT_TTL at most), and one
never seen is 503: availability of what was already allowed, never a pass for a stranger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from apicore.errors import ApiError
from graphql_gateway.auth.identity import ROLES, Identity, unauthenticated

logger = logging.getLogger("graphql_gateway.auth")

_ENTRIES = 10_000
ENDED_MESSAGE = (
    "Session ended (logged out, or the user's roles, password or account changed): log in again"
)


class SessionSource(Protocol):
    """What the check asks of the users service (graphql_gateway/clients/users.py)."""

    async def get_session(self, session_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Standing:
    user_id: str
    roles: frozenset[str]


class SessionCheck:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.users: SessionSource | None = None  # set once the clients are open (app lifespan)
        # sid -> (monotonic time of the answer, the standing or None once ended)
        self._known: dict[str, tuple[float, Standing | None]] = {}
        self._asking: dict[str, asyncio.Future[Standing | None]] = {}
        self.asked = 0  # calls to the users service (in its downstream calls too): /status

    def forget(self, session_id: str) -> None:
        """This worker ended the session (logout): refuse its tokens here at once."""
        self._remember(session_id, None)

    async def identity(self, identity: Identity) -> Identity:
        """The caller as their session says now; 401 once it has ended."""
        session_id = identity.session_id
        if session_id is None:
            return identity  # an identity provider's token: the provider answers for it
        standing = await self._standing(session_id)
        if standing is None or standing.user_id != identity.user_id:
            raise unauthenticated(ENDED_MESSAGE)
        return Identity(
            user_id=identity.user_id, roles=standing.roles & ROLES, session_id=session_id
        )

    async def _standing(self, session_id: str) -> Standing | None:
        known = self._known.get(session_id)
        if known is not None and (known[1] is None or time.monotonic() - known[0] < self.interval):
            return known[1]
        asking = self._asking.get(session_id)
        if asking is None:
            asking = asyncio.get_running_loop().create_future()
            self._asking[session_id] = asking
            try:
                answer = await self._ask(session_id, known)
            except asyncio.CancelledError:
                asking.cancel()  # only the asker went away: the others ask again (below)
                raise
            except BaseException as exc:
                asking.set_exception(exc)
                asking.exception()  # retrieved: no "never retrieved" warning if nobody waits
                raise
            else:
                asking.set_result(answer)
            finally:
                del self._asking[session_id]
            return answer
        try:
            return await asyncio.shield(asking)
        except asyncio.CancelledError:
            if asking.cancelled():  # the asker was cancelled, not this request: ask again
                return await self._standing(session_id)
            raise

    async def _ask(
        self, session_id: str, known: tuple[float, Standing | None] | None
    ) -> Standing | None:
        assert self.users is not None
        self.asked += 1
        try:
            session = await self.users.get_session(session_id)
        except ApiError as exc:
            if exc.status == 404:
                self._remember(session_id, None)
                return None
            if exc.status < 500 or known is None:
                raise
            logger.warning(
                "Session %s not checked (%s): standing as last seen until its token expires",
                session_id,
                exc.code,
            )
            return known[1]
        standing = Standing(str(session["user_id"]), frozenset(session["roles"]))
        self._remember(session_id, standing)
        return standing

    def _remember(self, session_id: str, standing: Standing | None) -> None:
        if len(self._known) >= _ENTRIES:
            self._known.clear()
        self._known[session_id] = (time.monotonic(), standing)
