"""The front door with GATEWAY_AUTH=on: which tokens open it, and how everything else is refused.

Real processes (tests/auth/conftest.py). Every refusal is the same 401 UNAUTHENTICATED
with `WWW-Authenticate: Bearer`, in our envelope on REST and as a GraphQL error on
/graphql, and costs no downstream call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import Message

from tests.auth.conftest import SECRET, AuthStack, another_gateway, create_account
from tests.support.procs import RunningProcess, free_port

NOW = int(time.time())


def claims(subject: str, **overrides: Any) -> dict[str, Any]:
    return base_claims(subject, **overrides)


def base_claims(subject: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "sub": subject,
        "roles": ["manager"],
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
        "iss": "sitetrack-gateway",
        "aud": "sitetrack",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def signed(payload: dict[str, Any], key: str | bytes = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def unsigned(payload: dict[str, Any]) -> str:
    """`alg: none`: a header and a payload, no signature."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def downstream_calls(stack: AuthStack) -> dict[str, int]:
    """Downstream calls but the front door's session checks (graphql_gateway/auth/
    sessions.py: at most one a second per session), which /status counts apart too."""
    data = httpx.get(f"{stack.url}/status", timeout=10).json()["data"]
    calls = dict(data["downstream_calls"])
    calls["users_service"] -= data["session_checks"]
    return calls


def assert_unauthenticated_rest(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UNAUTHENTICATED"
    return body


def assert_unauthenticated_graphql(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert "data" not in body, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    return body


def bad_tokens(stack: AuthStack) -> dict[str, str]:
    """Each bad for one reason: the rest is what a real login of the admin would carry."""
    admin = stack.accounts["admin"]
    me = admin.id

    def claims(subject: str, **overrides: Any) -> dict[str, Any]:
        return base_claims(subject, **{"sid": admin.session_id, **overrides})

    return {
        "expired": signed(claims(me, iat=NOW - 7200, exp=NOW - 3600)),
        "forged (another secret)": signed(claims(me), "another-secret-" + "y" * 40),
        "alg none": unsigned(claims(me)),
        "HS512 (not ours to accept)": signed(claims(me), SECRET * 2, algorithm="HS512"),
        "wrong audience": signed(claims(me, aud="someone-else")),
        "wrong issuer": signed(claims(me, iss="https://evil.example")),
        "no exp": signed(claims(me, exp=None)),
        "no iat": signed(claims(me, iat=None)),
        "no sub": signed(claims(me, sub=None)),
        "no aud": signed(claims(me, aud=None)),
        "sub not a user id": signed(claims("admin")),
        "roles not a list": signed(claims(me, roles="admin")),
        "no roles": signed(claims(me, roles=None)),
        "no sid": signed(claims(me, sid=None)),
        "sid not a session id": signed(claims(me, sid="admin")),
        "sid a number": signed(claims(me, sid=12345)),
        "issued in the future": signed(claims(me, iat=NOW + 3600, exp=NOW + 7200)),
        "not yet valid": signed(claims(me, nbf=NOW + 3600)),
        "garbage": "not-a-token",
        "three dots": "a.b.c",
        "over 8 KiB": signed(claims(me, pad="x" * 9000)),
    }


HEADERS_WITHOUT_A_TOKEN: dict[str, str | None] = {
    "missing": None,
    "empty": "",
    "basic scheme": "Basic YWRtaW46YWRtaW4=",
    "bearer alone": "Bearer",
    "two words": "Bearer two words",
}


@pytest.mark.parametrize("kind", list(HEADERS_WITHOUT_A_TOKEN))
@pytest.mark.parametrize(
    "path", ["/users", "/orders", f"/users/{uuid.uuid4()}", "/auth/me", "/internal/x", "/nowhere"]
)
def test_no_token_is_401_everywhere_but_the_open_routes(
    auth_stack: AuthStack, kind: str, path: str
) -> None:
    value = HEADERS_WITHOUT_A_TOKEN[kind]
    headers = {} if value is None else {"Authorization": value}
    before = downstream_calls(auth_stack)
    response = httpx.get(f"{auth_stack.url}{path}", headers=headers, timeout=10)
    assert_unauthenticated_rest(response)
    assert downstream_calls(auth_stack) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/users"),
        ("PUT", f"/users/{uuid.uuid4()}"),
        ("DELETE", f"/users/{uuid.uuid4()}"),
        ("POST", "/orders"),
        ("PUT", f"/orders/{uuid.uuid4()}"),
        ("DELETE", f"/orders/{uuid.uuid4()}"),
    ],
)
def test_writes_without_a_token_are_401_before_the_body_is_read(
    auth_stack: AuthStack, method: str, path: str
) -> None:
    response = httpx.request(
        method,
        f"{auth_stack.url}{path}",
        content=b"{not json",
        timeout=10,
        headers={"content-type": "text/plain"},
    )
    assert_unauthenticated_rest(response)


def assert_header_refused_rest(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["error"]["details"]] == [field]


def test_two_authorization_headers_are_refused_never_the_first_taken(
    auth_stack: AuthStack,
) -> None:
    """Two credentials name no one caller: 400 on REST and on /graphql, whichever comes
    first and even when both are the same valid token; a non-ASCII one is 400 too (no
    token has such bytes). Nothing reaches a service."""
    admin = auth_stack.accounts["admin"].headers["Authorization"].encode()
    user = auth_stack.accounts["user"].headers["Authorization"].encode()
    pairs = [(admin, admin), (user, admin), (admin, user), (b"Bearer garbage", admin)]
    refused = [[(b"authorization", a), (b"authorization", b)] for a, b in pairs]
    refused.append([(b"authorization", "Bearer tökén".encode())])
    before = downstream_calls(auth_stack)
    with httpx.Client(base_url=auth_stack.url, timeout=10) as client:
        for headers in refused:
            rest = client.send(client.build_request("GET", "/users", headers=headers))
            assert_header_refused_rest(rest, "Authorization")
            query = orjson.dumps({"query": "{ me { id } }"})
            graphql = client.send(
                client.build_request(
                    "POST",
                    "/graphql",
                    content=query,
                    headers=[*headers, (b"content-type", b"application/json")],
                )
            )
            assert graphql.status_code == 400, graphql.text
            (error,) = graphql.json()["errors"]
            assert error["extensions"]["code"] == "VALIDATION_ERROR"
            assert error["extensions"]["details"][0]["field"] == "Authorization"
        assert downstream_calls(auth_stack) == before
        # One line of the same token: served.
        one = client.send(
            client.build_request("GET", "/users", headers=[(b"authorization", admin)])
        )
        assert one.status_code == 200


def test_an_admin_delete_with_a_non_ascii_if_match_leaves_the_order_book_open(
    auth_stack: AuthStack,
) -> None:
    """The admin's DELETE /users/{id} with byte 0xE9 in If-Match was a 500 that left the
    user's order book closed (their orders 422 for 15 s): now a 400 before the saga."""
    target = create_account(auth_stack.users.url, "user")
    admin = auth_stack.accounts["admin"].headers
    path = f"/users/{target['id']}"
    with httpx.Client(base_url=auth_stack.url, timeout=10) as client:
        headers = [*((k.encode(), v.encode()) for k, v in admin.items())]
        for bad in [b'"\xe9"', b"abc"]:
            request = client.build_request("DELETE", path, headers=[*headers, (b"if-match", bad)])
            assert_header_refused_rest(client.send(request), "If-Match")
        stale_then_current = [
            (b"if-match", b'"20000101000000000000"'),
            (b"if-match", client.get(path, headers=admin).headers["etag"].encode()),
        ]
        request = client.build_request("DELETE", path, headers=[*headers, *stale_then_current])
        assert_header_refused_rest(client.send(request), "If-Match")
        assert client.get(path, headers=admin).status_code == 200
        order = {
            "user_id": target["id"],
            "items": [{"product": "Б", "quantity": 1, "price": "1.00"}],
        }
        created = client.post("/orders", json=order, headers=admin)
        assert created.status_code == 201, created.text


@pytest.mark.slow
def test_every_bad_token_is_the_same_401(auth_stack: AuthStack) -> None:
    before = downstream_calls(auth_stack)
    seen = set()
    for name, token in bad_tokens(auth_stack).items():
        headers = {"Authorization": f"Bearer {token}"}
        rest = httpx.get(f"{auth_stack.url}/users", headers=headers, timeout=10)
        body = assert_unauthenticated_rest(rest)
        seen.add(body["error"]["message"])
        query = {"query": "{ users { total } }"}
        graphql = httpx.post(f"{auth_stack.url}/graphql", json=query, headers=headers, timeout=10)
        assert_unauthenticated_graphql(graphql)
        assert body, name
    assert downstream_calls(auth_stack) == before
    # The message says what kind of problem, never which check or key failed.
    assert seen <= {
        "Invalid token",
        "Token expired",
        "Invalid token: `sub` is not a user id",
        "Invalid token: `roles` is not a list of roles",
        "Invalid token: `sid` is not a session id",
        "Expected `Authorization: Bearer <token>`",
    }


def test_a_valid_token_opens_rest_and_graphql(auth_stack: AuthStack) -> None:
    manager = auth_stack.accounts["manager"]
    # Minted here with the gateway's secret, for the manager's live session.
    token = signed(claims(manager.id, sid=manager.session_id))
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{auth_stack.url}/users", headers=headers, timeout=10).status_code == 200
    scheme_case = {"Authorization": f"bearer {token}"}
    assert httpx.get(f"{auth_stack.url}/users", headers=scheme_case, timeout=10).status_code == 200
    response = httpx.post(
        f"{auth_stack.url}/graphql", json={"query": "{ me { id roles } }"}, headers=headers
    )
    assert response.json() == {"data": {"me": {"id": manager.id, "roles": ["manager"]}}}


def test_the_users_roles_now_decide_not_the_tokens(auth_stack: AuthStack) -> None:
    """Even a token minted with the gateway's secret for a live session carries no more
    than its user has now: the session check answers the roles (auth/sessions.py)."""
    customer = auth_stack.accounts["customer"]
    sid = customer.session_id
    for roles in (["director"], ["admin"], ["superuser", "root"], []):
        token = signed(claims(customer.id, roles=roles, sid=sid))
        headers = {"Authorization": f"Bearer {token}"}
        users = httpx.get(f"{auth_stack.url}/users", headers=headers, timeout=10).json()
        assert [user["id"] for user in users["data"]] == [customer.id], roles
        denied = httpx.post(
            f"{auth_stack.url}/users", headers=headers, json={"email": "x@y.example", "name": "X"}
        )
        assert denied.status_code == 403


def test_a_session_of_another_user_or_none_is_401(auth_stack: AuthStack) -> None:
    """A token for the customer naming the manager's session, or a session nobody has."""
    customer, manager = auth_stack.accounts["customer"], auth_stack.accounts["manager"]
    for sid in (manager.session_id, str(uuid.uuid4())):
        token = signed(claims(customer.id, sid=sid))
        for _ in range(2):  # the second from what the worker remembers
            response = httpx.get(
                f"{auth_stack.url}/orders",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            body = assert_unauthenticated_rest(response)
            assert body["error"]["message"].startswith("Session ended")


def test_graphql_without_a_token_may_only_log_in(auth_stack: AuthStack) -> None:
    url = f"{auth_stack.url}/graphql"
    for query in [
        "{ users { total } }",
        "{ me { id } }",
        "{ __schema { types { name } } }",
        "query { __typename users { total } }",
        'mutation { deleteOrder(id: "00000000-0000-0000-0000-000000000000") }',
        'mutation { login(email: "a@b.example", password: "x") { accessToken } '
        'other: deleteOrder(id: "00000000-0000-0000-0000-000000000000") }',
        'mutation { ...F } fragment F on Mutation { login(email: "a", password: "b") '
        "{ accessToken } }",
    ]:
        for accept in ("application/json", "application/graphql-response+json"):
            response = httpx.post(url, json={"query": query}, headers={"accept": accept})
            assert_unauthenticated_graphql(response)
    get = httpx.get(url, params={"query": "{ users { total } }"})
    assert_unauthenticated_graphql(get)
    admin = auth_stack.accounts["admin"]
    login = (
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
        "{ tokenType expiresIn refreshExpiresIn user { id } } }"
    )
    answer = httpx.post(
        url, json={"query": login, "variables": {"e": admin.email, "p": "persona password 1"}}
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["login"] == {
        "tokenType": "bearer",
        "expiresIn": 3600,  # as this stack has it (tests/auth/conftest.py)
        "refreshExpiresIn": 14 * 24 * 3600,
        "user": {"id": admin.id},
    }
    assert httpx.post(url, json={"query": "{ __typename }"}).json() == {
        "data": {"__typename": "Query"}
    }


def test_open_routes_need_no_token(auth_stack: AuthStack) -> None:
    for path in ("/health", "/status", "/openapi.json"):
        assert httpx.get(f"{auth_stack.url}{path}", timeout=10).status_code == 200, path
    page = httpx.get(f"{auth_stack.url}/graphql", headers={"accept": "text/html"}, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # A token on an open route is not even looked at: a bad one does not stop a login.
    login = httpx.post(
        f"{auth_stack.url}/auth/login",
        json={"email": auth_stack.accounts["engineer"].email, "password": "persona password 1"},
        headers={"Authorization": "Bearer garbage"},
        timeout=10,
    )
    assert login.status_code == 200, login.text


def test_the_users_services_internal_route_is_not_exposed(auth_stack: AuthStack) -> None:
    admin = auth_stack.accounts["admin"]
    response = httpx.post(
        f"{auth_stack.url}/internal/credentials/verify",
        json={"email": admin.email, "password": "persona password 1"},
        headers=admin.headers,
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


# ------------------------------------------------------------------ an identity provider


class JwksServer:
    """An identity provider's key set on loopback, served from a thread."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private: Any, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


IDP = "https://idp.example/realms/site"


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[JwksServer, Any]]:
    key = rsa_key()
    server = JwksServer([public_jwk(key, "key-1")])
    try:
        yield server, key
    finally:
        server.stop()


@pytest.fixture(scope="module")
def idp_gateway(
    auth_services: tuple[RunningProcess, RunningProcess],
    logs_dir: Path,
    provider: tuple[JwksServer, Any],
) -> Iterator[RunningProcess]:
    server, _ = provider
    env = {"GATEWAY_JWKS_URL": server.url, "GATEWAY_JWT_ISSUER": IDP}
    with another_gateway(auth_services, logs_dir, "idp", **env) as gateway:
        yield gateway


def provider_token(key: Any, sub: str, kid: str = "key-1", **overrides: Any) -> str:
    payload = claims(sub, iss=IDP, **overrides)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def status_with(gateway: RunningProcess, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{gateway.url}/users", headers=headers, timeout=10).status_code


@pytest.mark.slow
def test_a_providers_tokens_are_accepted_with_its_issuer(
    idp_gateway: RunningProcess, provider: tuple[JwksServer, Any], auth_stack: AuthStack
) -> None:
    server, key = provider
    manager = auth_stack.accounts["manager"]
    assert status_with(idp_gateway, provider_token(key, manager.id)) == 200
    # Its own tokens still work beside the provider's.
    assert status_with(idp_gateway, signed(claims(manager.id, sid=manager.session_id))) == 200
    fetched = server.requests
    for _ in range(3):  # the key set is cached, not fetched per request
        assert (
            status_with(idp_gateway, provider_token(key, manager.id, jti=uuid.uuid4().hex)) == 200
        )
    assert server.requests == fetched


def test_a_providers_bad_tokens_are_refused(
    idp_gateway: RunningProcess, provider: tuple[JwksServer, Any], auth_stack: AuthStack
) -> None:
    _server, key = provider
    me = auth_stack.accounts["manager"].id
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = jwt.encode(claims(me, iss=IDP), SECRET, algorithm="HS256")
    cases = {
        "our issuer on its key": jwt.encode(
            claims(me), key, algorithm="RS256", headers={"kid": "key-1"}
        ),
        "its issuer on our key": confused,
        "signed by another key": provider_token(rsa_key(), me),
        "expired": provider_token(key, me, iat=NOW - 7200, exp=NOW - 3600),
        "wrong audience": provider_token(key, me, aud="another-api"),
        "unknown key id": provider_token(key, me, kid="key-2"),
        "no key id": jwt.encode(claims(me, iss=IDP), key, algorithm="RS256"),
    }
    for name, token in cases.items():
        assert status_with(idp_gateway, token) == 401, name
    # The public key used as an HMAC secret (algorithm confusion): PyJWT refuses to sign it,
    # so build the token by hand.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"key-1"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims(me, iss=IDP)).encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(
        hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()
    ).rstrip(b"=")
    forged = b".".join([header, body, signature]).decode()
    assert status_with(idp_gateway, forged) == 401


@pytest.mark.slow
def test_a_provider_whose_keys_cannot_be_fetched_is_503_not_a_pass(
    auth_services: tuple[RunningProcess, RunningProcess], logs_dir: Path, auth_stack: AuthStack
) -> None:
    key = rsa_key()
    gone = f"http://127.0.0.1:{free_port()}/jwks.json"
    env = {"GATEWAY_JWKS_URL": gone, "GATEWAY_JWT_ISSUER": IDP}
    with another_gateway(auth_services, logs_dir, "idp-gone", **env) as gateway:
        token = provider_token(key, auth_stack.accounts["manager"].id)
        response = httpx.get(
            f"{gateway.url}/users", headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["retry-after"]


async def test_no_websocket_gets_past_the_front_door() -> None:
    """The server serves no WebSocket (uvicorn's ws="none"); the app refuses one anyway."""
    from graphql_gateway.app import create_app
    from graphql_gateway.config import Settings

    app = create_app(Settings(auth="on", jwt_secret=SECRET))
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/graphql",
        "headers": [(b"sec-websocket-protocol", b"graphql-transport-ws")],
        "query_string": b"",
        "subprotocols": ["graphql-transport-ws"],
    }
    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
