"""The delete saga and the order-book reopening (graphql_gateway/integrity.py), step by step.

The gateway runs in process over the session's real service processes, each behind a
proxy (tests/support/proxy.py) that records the calls of every step and fails the ones a
test names: an answer lost, a service's 5xx, a user deleted between two steps. What the
client gets, what the services were asked, in which order, and where the user's order
book is left are all checked: a mistake here orphans orders or locks a user out of them.
tests/test_integrity.py races and kills real gateway processes; this file is its
in-process counterpart (and what mutation testing sees, see docs/mutation.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson
import pytest
from aiobreaker import CircuitBreakerError
from fastapi import FastAPI

from apicore.errors import ApiError
from graphql_gateway import integrity
from graphql_gateway.clients.admission import Overloaded
from graphql_gateway.clients.breaker import CircuitOpenError
from tests.conftest import gateway_for
from tests.support.envelope import data_of, error_of
from tests.support.fake_servers import http_response
from tests.support.procs import RunningProcess
from tests.support.proxy import Doctor, Forward, Proxy, Seen, forward_all

ITEMS = [{"product": "Арматура", "quantity": 2, "price": "10.00"}]
NOT_FOUND = http_response(
    404, {"success": False, "error": {"code": "NOT_FOUND", "message": "User not found"}}
)
BOOM = http_response(500, "boom", content_type="text/plain")
# What the gateway's log says of a DELETE the users service answered with BOOM.
DELETE_FAILED = "ApiError(502 UPSTREAM_ERROR: Users service returned an invalid response)"


@dataclass
class Saga:
    client: httpx.AsyncClient  # the gateway's
    users: RunningProcess
    orders: RunningProcess
    seen: list[Seen]  # by both proxies, in order
    app: FastAPI  # the gateway's (its `state.clients` are the saga's)

    @property
    def steps(self) -> list[tuple[str, str]]:
        return [each.step for each in self.seen]

    async def new_user(self) -> str:
        email = f"saga-{uuid.uuid4().hex[:12]}@integrity.example"
        async with httpx.AsyncClient(base_url=self.users.url, timeout=10) as direct:
            created = await direct.post("/users", json={"email": email, "name": "Сага"})
        return data_of(created, 201)["id"]

    async def user_status(self, user_id: str) -> int:
        async with httpx.AsyncClient(base_url=self.users.url, timeout=10) as direct:
            return (await direct.get(f"/users/{user_id}")).status_code

    async def book(self, user_id: str, step: str = "") -> dict:
        """The user's order book as the orders service has it (`step`: close or reopen it)."""
        path = f"/internal/users/{user_id}/order-book" + (f"/{step}" if step else "")
        async with httpx.AsyncClient(base_url=self.orders.url, timeout=10) as direct:
            answer = await (direct.post(path) if step else direct.get(path))
        return data_of(answer)

    async def assert_left_as_it_was(self, user_id: str) -> None:
        """After a delete that did not happen: the user is there and can still order."""
        assert (await self.book(user_id))["closed"] is False
        assert await self.user_status(user_id) == 200
        data_of(await self.create(user_id), 201)

    async def create(self, user_id: str, **headers: str) -> httpx.Response:
        body = {"user_id": user_id, "items": ITEMS}
        return await self.client.post("/orders", json=body, headers=headers)


@asynccontextmanager
async def saga(
    users_process: RunningProcess,
    orders_process: RunningProcess,
    *,
    users: Doctor = forward_all,
    orders: Doctor = forward_all,
    stale_after: float = 15.0,
) -> AsyncIterator[Saga]:
    seen: list[Seen] = []
    async with (
        Proxy(users_process.url, users, seen) as users_proxy,
        Proxy(orders_process.url, orders, seen) as orders_proxy,
        gateway_for(users_proxy.url, orders_proxy.url, delete_stale_after=stale_after) as pair,
    ):
        yield Saga(pair[0], users_process, orders_process, seen, pair[1])
    # (the proxies close after the gateway: its lifespan may still talk to them)


def on(method: str, answer: Callable[[Forward], Awaitable[bytes | None]]) -> Doctor:
    """A doctor that answers `method` requests with `answer(forward)`, forwards the rest."""

    async def doctor(seen_method: str, target: str, forward: Forward) -> bytes | None:
        if seen_method == method:
            return await answer(forward)
        return await forward()

    return doctor


def instead(answer: bytes) -> Callable[[Forward], Awaitable[bytes]]:
    """The service is not asked: `answer` comes back in its place."""

    async def answered(forward: Forward) -> bytes:
        return answer

    return answered


async def lost(forward: Forward) -> None:
    """Done by the service, the answer never comes back."""
    await forward()
    return None


def users_steps(user_id: str, *after_delete: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        ("GET", f"/users/{user_id}"),
        ("POST", f"/internal/users/{user_id}/order-book/close"),
        ("DELETE", f"/users/{user_id}"),
        *after_delete,
    ]


# --------------------------------------------------------------------------- the delete saga


async def test_a_delete_closes_the_book_before_it_deletes_the_user(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process) as s:
        user_id = await s.new_user()
        assert data_of(await s.client.delete(f"/users/{user_id}")) == {"id": user_id}
        assert s.steps == users_steps(user_id)
        assert (await s.book(user_id))["closed"] is True
        assert await s.user_status(user_id) == 404


async def test_a_delete_of_nobody_closes_no_book(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    nobody = str(uuid.uuid4())
    async with saga(users_process, orders_process) as s:
        error_of(await s.client.delete(f"/users/{nobody}"), 404, "NOT_FOUND")
        assert s.steps == [("GET", f"/users/{nobody}")]
        assert (await s.book(nobody))["closed"] is False


async def test_a_delete_refused_for_active_orders_deletes_nothing(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process) as s:
        user_id = await s.new_user()
        data_of(await s.create(user_id), 201)
        s.seen.clear()
        error_of(await s.client.delete(f"/users/{user_id}"), 409, "USER_HAS_ACTIVE_ORDERS")
        assert s.steps == users_steps(user_id)[:2]  # no DELETE went to the users service
        await s.assert_left_as_it_was(user_id)


async def test_a_failed_delete_of_a_user_still_there_reopens_the_book(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process, users=on("DELETE", instead(BOOM))) as s:
        user_id = await s.new_user()
        error_of(await s.client.delete(f"/users/{user_id}"), 502, "UPSTREAM_ERROR")
        assert s.steps == users_steps(
            user_id,
            ("GET", f"/users/{user_id}"),  # still there?
            ("POST", f"/internal/users/{user_id}/order-book/reopen"),
        )
        reopen = s.seen[-1]
        # Only this delete's close (see the test below): the stamp the close answered.
        assert list(parse_qs(reopen.query)) == ["ifClosedAt"]
        await s.assert_left_as_it_was(user_id)


async def test_a_failed_delete_never_reopens_a_close_that_came_after_it(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    """Delete A fails while delete B has closed the book again (B may delete the user next):
    A's reopen names A's own close, so the book stays closed for B."""
    running: dict[str, Any] = {}

    async def closed_again_then_boom(forward: Forward) -> bytes:
        await running["saga"].book(running["user"], "close")  # delete B's close, meanwhile
        return BOOM

    async with saga(users_process, orders_process, users=on("DELETE", closed_again_then_boom)) as s:
        running.update(saga=s, user=await s.new_user())
        error_of(await s.client.delete(f"/users/{running['user']}"), 502, "UPSTREAM_ERROR")
        assert s.steps[-1] == ("POST", f"/internal/users/{running['user']}/order-book/reopen")
        assert (await s.book(running["user"]))["closed"] is True  # B's close stands
        await s.book(running["user"], "reopen")


def test_a_delete_refused_before_sending_is_known_to_have_done_nothing() -> None:
    """Shed in the gateway's queue or refused by an open circuit: the book reopens without
    asking the users service (which would most likely be refused the same way)."""
    reopens = datetime.now(UTC) + timedelta(seconds=30)  # when aiobreaker would let calls in
    for cause, never_sent in (
        (Overloaded("users", 1.0), True),
        (CircuitOpenError("users_service", 3.0), True),
        (CircuitBreakerError("open", reopens), True),
        (httpx.ReadTimeout("slow"), False),
    ):
        error = ApiError("SERVICE_UNAVAILABLE", "x", status=503)
        error.__cause__ = cause
        assert integrity._never_sent(error) is never_sent, cause
    answered = CircuitBreakerError("opened", reopens)
    answered.__cause__ = httpx.ReadTimeout("slow")  # the failure that opened it was sent
    error = ApiError("UPSTREAM_TIMEOUT", "x", status=504)
    error.__cause__ = answered
    assert integrity._never_sent(error) is False


async def test_a_stale_if_match_is_412_and_the_book_reopens(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process) as s:
        user_id = await s.new_user()
        stale = '"2000-01-01T00:00:00+00:00"'
        answer = await s.client.delete(f"/users/{user_id}", headers={"If-Match": stale})
        error_of(answer, 412, "PRECONDITION_FAILED")
        delete = s.seen[2]
        assert delete.step == ("DELETE", f"/users/{user_id}")
        assert delete.headers["if-match"] == stale
        assert (await s.book(user_id))["closed"] is False
        current = (await s.client.get(f"/users/{user_id}")).headers["etag"]
        answer = await s.client.delete(f"/users/{user_id}", headers={"If-Match": current})
        assert data_of(answer) == {"id": user_id}


@pytest.mark.parametrize("if_match", ['"\xe9"', "not-a-tag", "", '"1" "2"'])
async def test_an_unreadable_if_match_is_400_before_the_book_is_closed(
    users_process: RunningProcess, orders_process: RunningProcess, if_match: str
) -> None:
    """The saga itself refuses it, not only REST's header check (apicore/headers.py):
    nothing is asked of either service, so no book is ever closed for it."""
    async with saga(users_process, orders_process) as s:
        user_id = await s.new_user()
        with pytest.raises(ApiError) as refused:
            await integrity.delete_user(s.app.state.clients, user_id, if_match=if_match)
        assert (refused.value.status, refused.value.code) == (400, "VALIDATION_ERROR")
        assert s.steps == []
        await s.assert_left_as_it_was(user_id)


async def test_a_delete_call_that_fails_with_no_answer_at_all_reopens_the_book(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    """Not an ApiError (the request could not be sent: a bug, a header the HTTP client
    refuses): the client gets a 500, and the book of the user, still there, reopens."""
    async with saga(users_process, orders_process) as s:
        user_id = await s.new_user()

        async def broken(*args: object, **kwargs: object) -> str:
            raise UnicodeEncodeError("ascii", "é", 0, 1, "the HTTP client refused a header")

        s.app.state.clients.users.delete_user = broken
        error_of(await s.client.delete(f"/users/{user_id}"), 500, "INTERNAL_ERROR")
        assert s.steps == [
            ("GET", f"/users/{user_id}"),
            ("POST", f"/internal/users/{user_id}/order-book/close"),
            ("GET", f"/users/{user_id}"),
            ("POST", f"/internal/users/{user_id}/order-book/reopen"),
        ]
        await s.assert_left_as_it_was(user_id)


async def test_a_delete_whose_answer_is_lost_is_a_delete_and_the_book_stays_closed(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process, users=on("DELETE", lost)) as s:
        user_id = await s.new_user()
        assert data_of(await s.client.delete(f"/users/{user_id}")) == {"id": user_id}
        assert s.steps == users_steps(user_id, ("GET", f"/users/{user_id}"))
        assert (await s.book(user_id))["closed"] is True
        assert await s.user_status(user_id) == 404


async def test_a_user_deleted_by_someone_else_meanwhile_is_404_and_the_book_stays_closed(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process, users=on("DELETE", instead(NOT_FOUND))) as s:
        user_id = await s.new_user()
        error_of(await s.client.delete(f"/users/{user_id}"), 404, "NOT_FOUND")
        assert s.steps == users_steps(user_id)  # nothing asked, nothing reopened after
        assert (await s.book(user_id))["closed"] is True


async def test_a_delete_whose_outcome_cannot_be_told_leaves_the_book_closed(
    users_process: RunningProcess, orders_process: RunningProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """The delete fails (502) and the question after it too (connection lost: 503): the
    client gets the delete's own failure, and the book stays closed for the next order."""
    deletes = 0

    async def doctor(method: str, target: str, forward: Forward) -> bytes | None:
        nonlocal deletes
        if method == "DELETE":
            deletes += 1
            return BOOM
        if deletes:
            return None
        return await forward()

    caplog.set_level(logging.WARNING, logger="graphql_gateway.integrity")
    async with saga(users_process, orders_process, users=doctor) as s:
        user_id = await s.new_user()
        error_of(await s.client.delete(f"/users/{user_id}"), 502, "UPSTREAM_ERROR")
        assert s.steps[:4] == users_steps(user_id, ("GET", f"/users/{user_id}"))
        assert all(each.path.startswith("/users/") for each in s.seen[4:])  # the GET's retry
        assert (await s.book(user_id))["closed"] is True
        assert await s.user_status(user_id) == 200
    assert f"Order book of user {user_id} left closed after {DELETE_FAILED}" in caplog.messages


async def test_a_failed_delete_whose_reopen_fails_answers_the_delete_failure(
    users_process: RunningProcess, orders_process: RunningProcess, caplog: pytest.LogCaptureFixture
) -> None:
    async def no_reopen(method: str, target: str, forward: Forward) -> bytes | None:
        return None if target.partition("?")[0].endswith("/reopen") else await forward()

    caplog.set_level(logging.WARNING, logger="graphql_gateway.integrity")
    async with saga(
        users_process, orders_process, users=on("DELETE", instead(BOOM)), orders=no_reopen
    ) as s:
        user_id = await s.new_user()
        # The reopen's lost connection would be 503: the client hears of the delete (502).
        error_of(await s.client.delete(f"/users/{user_id}"), 502, "UPSTREAM_ERROR")
        assert s.steps[-1] == ("POST", f"/internal/users/{user_id}/order-book/reopen")
        assert (await s.book(user_id))["closed"] is True
    assert (
        f"Could not reopen the order book of user {user_id} after {DELETE_FAILED}"
        in caplog.messages
    )


# --------------------------------------------------------------------------- creating orders


async def test_an_order_for_a_book_a_dead_delete_left_closed_reopens_it(
    users_process: RunningProcess, orders_process: RunningProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="graphql_gateway.integrity")
    async with saga(users_process, orders_process, stale_after=0.3) as s:
        user_id = await s.new_user()
        closed = await s.book(user_id, "close")
        await asyncio.sleep(0.4)
        # The client's own bytes (spaces and all) go to the service, both times.
        raw = (
            b'{ "user_id" : "%s", "items": [{"product": "\xd0\x91\xd0\xb5\xd1\x82\xd0\xbe\xd0\xbd",'
            b' "quantity": 1, "price": "9.50"}] }' % user_id.encode()
        )
        key = f"order-{uuid.uuid4().hex}"
        headers = {"content-type": "application/json", "idempotency-key": key}
        created = data_of(await s.client.post("/orders", content=raw, headers=headers), 201)
        book = f"/internal/users/{user_id}/order-book"
        assert s.steps == [
            ("GET", f"/users/{user_id}"),
            ("POST", "/orders"),  # 422: closed
            ("GET", book),
            ("GET", f"/users/{user_id}"),  # still there (not deleted meanwhile)
            ("POST", f"{book}/reopen"),
            ("POST", "/orders"),
        ]
        first, reopen, again = s.seen[1], s.seen[4], s.seen[5]
        assert parse_qs(reopen.query) == {"ifClosedAt": [closed["closed_at"]]}
        assert first.body == again.body == raw
        sent_key = first.headers["idempotency-key"]
        assert again.headers["idempotency-key"] == sent_key != key  # the caller's own, scoped
        assert (await s.book(user_id))["closed"] is False
        # The same key again is the same order, replayed.
        replay = await s.client.post("/orders", content=raw, headers=headers)
        assert data_of(replay, 201)["id"] == created["id"]
        assert replay.headers["idempotent-replayed"] == "true"
    assert f"Reopening the order book of user {user_id}, left closed by a delete" in caplog.messages


async def test_a_graphql_order_for_a_stale_closed_book_reopens_it_too(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process, stale_after=0.3) as s:
        user_id = await s.new_user()
        await s.book(user_id, "close")
        await asyncio.sleep(0.4)
        mutation = (
            "mutation($u: UUID!) { createOrder(input: {userId: $u, items: "
            '[{product: "Бетон", quantity: 3, price: "7.25"}]}) { id status } }'
        )
        answer = await s.client.post(
            "/graphql", json={"query": mutation, "variables": {"u": user_id}}
        )
        body = answer.json()
        assert "errors" not in body, body
        assert body["data"]["createOrder"]["status"] == "CREATED"
        creates = [each for each in s.seen if each.step == ("POST", "/orders")]
        assert len(creates) == 2
        for each in creates:
            sent = orjson.loads(each.body)
            assert sent["user_id"] == user_id
            assert sent["items"][0]["product"] == "Бетон"
        assert (await s.book(user_id))["closed"] is False


async def test_an_order_while_a_delete_may_be_running_is_refused_and_nothing_reopened(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process) as s:  # a delete may take 15 s
        user_id = await s.new_user()
        await s.book(user_id, "close")
        error = error_of(await s.create(user_id), 422, "USER_NOT_FOUND")
        assert error["message"]
        assert s.steps == [
            ("GET", f"/users/{user_id}"),
            ("POST", "/orders"),
            ("GET", f"/internal/users/{user_id}/order-book"),
        ]
        assert (await s.book(user_id))["closed"] is True


async def test_an_order_for_a_user_deleted_while_the_book_was_stale_is_refused(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    reads = 0

    async def second_read_gone(method: str, target: str, forward: Forward) -> bytes | None:
        nonlocal reads
        reads += method == "GET"
        return NOT_FOUND if reads == 2 else await forward()

    async with saga(users_process, orders_process, users=second_read_gone, stale_after=0.3) as s:
        user_id = await s.new_user()
        await s.book(user_id, "close")
        await asyncio.sleep(0.4)
        error = error_of(await s.create(user_id), 422, "USER_NOT_FOUND")
        assert error["message"] == f"User {user_id} does not exist"
        assert ("POST", f"/internal/users/{user_id}/order-book/reopen") not in s.steps
        assert (await s.book(user_id))["closed"] is True


async def test_a_book_closed_again_by_a_newer_delete_stays_closed(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    """Between the gateway reading the stale book and reopening it, a delete closes it
    again: the reopen names the old close, so it does nothing, and the order is refused."""
    s: Saga

    async def closed_again(method: str, target: str, forward: Forward) -> bytes | None:
        answer = await forward()
        if method == "GET" and target.endswith("/order-book"):
            await asyncio.sleep(0.01)  # a later closed_at
            await s.book(target.split("/")[3], "close")
        return answer

    async with saga(users_process, orders_process, orders=closed_again, stale_after=0.3) as s:
        user_id = await s.new_user()
        await s.book(user_id, "close")
        await asyncio.sleep(0.4)
        error_of(await s.create(user_id), 422, "USER_NOT_FOUND")
        assert [each.path for each in s.seen].count("/orders") == 2  # tried again, refused
        assert (await s.book(user_id))["closed"] is True


async def test_an_order_refused_otherwise_looks_at_no_book(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process, orders=on("POST", instead(BOOM))) as s:
        user_id = await s.new_user()
        error_of(await s.create(user_id), 502, "UPSTREAM_ERROR")
        assert s.steps == [("GET", f"/users/{user_id}"), ("POST", "/orders")]


async def test_an_order_is_not_refused_as_user_not_found_when_the_users_service_fails(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    async with saga(users_process, orders_process, users=on("GET", instead(BOOM))) as s:
        error_of(await s.create(str(uuid.uuid4())), 502, "UPSTREAM_ERROR")
        assert [each.method for each in s.seen] == ["GET"]  # and nothing written


async def test_an_idempotency_key_is_stored_scoped_to_the_caller(
    users_process: RunningProcess, orders_process: RunningProcess
) -> None:
    """The key the services store is sha256(caller's id NUL client's key): any gateway
    replica, of any version, must make the same one, or a create retried across a rolling
    deploy would be made twice. With auth off, every caller is the one with no id."""
    async with saga(users_process, orders_process) as s:
        user_id = await s.new_user()
        key = f"order-{uuid.uuid4().hex}"
        made = data_of(await s.create(user_id, **{"idempotency-key": key}), 201)
        scoped = hashlib.sha256(f"\0{key}".encode()).hexdigest()
        assert s.seen[-1].headers["idempotency-key"] == scoped
        body = {"user_id": user_id, "items": ITEMS}
        async with httpx.AsyncClient(base_url=orders_process.url, timeout=10) as direct:
            replay = await direct.post("/orders", json=body, headers={"idempotency-key": scoped})
            other = await direct.post("/orders", json=body, headers={"idempotency-key": key})
        assert data_of(replay, 201)["id"] == made["id"]
        assert data_of(other, 201)["id"] != made["id"]  # the client's own key is not it
        # No key, no header: each create is its own.
        data_of(await s.create(user_id), 201)
        assert "idempotency-key" not in s.seen[-1].headers
        # GraphQL's creates are scoped the same way.
        mutation = (
            "mutation($u: UUID!, $k: String) { createOrder(input: {userId: $u, items: "
            '[{product: "Цемент", quantity: 1, price: "300.00"}]}, idempotencyKey: $k) { id } }'
        )
        variables = {"u": user_id, "k": f"graphql-{key}"}
        ids = set()
        for _ in range(2):
            body = (
                await s.client.post("/graphql", json={"query": mutation, "variables": variables})
            ).json()
            assert "errors" not in body, body
            ids.add(body["data"]["createOrder"]["id"])
            sent = s.seen[-1].headers["idempotency-key"]
            assert sent == hashlib.sha256(f"\0graphql-{key}".encode()).hexdigest()
        assert len(ids) == 1


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ('[{product: "Бетон", quantity: 0, price: "7.25"}]', "items.0.quantity"),
        ('[{product: "Бетон", quantity: 1, price: "-1"}]', "items.0.price"),
        ('[{product: "", quantity: 1, price: "1"}]', "items.0.product"),
        ("[]", "items"),
    ],
)
async def test_a_graphql_order_the_orders_service_would_refuse_is_refused_before_any_call(
    users_process: RunningProcess, orders_process: RunningProcess, items: str, field: str
) -> None:
    """GraphQL's types let these through; the order's own rules (the orders service's
    schema, checked in the gateway) do not: VALIDATION_ERROR naming the field, as the REST
    route's 400 would, and no service asked."""
    async with saga(users_process, orders_process) as s:
        mutation = (
            f'mutation {{ createOrder(input: {{userId: "{uuid.uuid4()}", items: {items}}}) '
            "{ id } }"
        )
        body = (await s.client.post("/graphql", json={"query": mutation})).json()
        assert body["data"] is None, body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "VALIDATION_ERROR", error
        details = error["extensions"]["details"]
        assert [detail["field"] for detail in details] == [field], error
        assert all(detail["message"] for detail in details)
        assert s.seen == []
