"""httpx's API over aiohttp's connections: the same client code, less CPU per downstream call.

httpx's own transport (httpcore) costs ~1.4 ms of CPU per call here; the `httpx-aiohttp`
package's `AiohttpTransport`, which sends through an `aiohttp.ClientSession`, ~0.6 ms
(measured: `python -m bench.client_cost`). It is used as it comes, but for one thing:
which httpx exception each aiohttp failure becomes. The package maps any dropped
connection (`ServerDisconnectedError`, a reset) to `ConnectTimeout`, which would turn a
service that died mid-request into `504 UPSTREAM_TIMEOUT` and keep a read whose keep-alive
connection broke from being sent again. `_httpx_error` keeps httpcore's meaning of each
failure instead, the one `clients/errors.py` and the retry rule in `clients/base.py` read:

    refused, unreachable, TLS          -> ConnectError        503, never sent again
    closed before a (complete) answer  -> RemoteProtocolError 503, a read is sent again
    reset while reading or writing     -> ReadError           503, a read is sent again
    connecting took too long           -> ConnectTimeout      504
    no byte for the read timeout       -> ReadTimeout         504
    an answer that is not HTTP         -> RemoteProtocolError 503

aiohttp would also send a GET, PUT or DELETE again by itself when a reused connection
breaks; the session here does not (`_retry_connection`, a private flag of aiohttp's
`ClientSession`, pinned with aiohttp in constraints.txt and covered by
tests/graphql_gateway/test_retries.py): whether a request is sent again is base.py's
decision alone (reads, and writes with an Idempotency-Key, within the deadline), counted
in its metrics.

The calls themselves skip most of httpx too (`ServiceTransport.exchange`): httpx builds
the request as before (URL, query string, headers: what every test and the retry rule
read), and the answer is read straight from aiohttp, without `AsyncClient.send`'s layers
on every call (auth and redirect handling, an INFO log line per call, a cookie jar
updated from every answer, an `httpx.Response` and its byte stream), which cost about as
much CPU as the rest of a passthrough (`python -m bench.profile`). A gateway keeps no
cookies from its services anyway: the jar is shared by every caller's requests.

Not the default any more: clients/raw.py is, our own HTTP/1.1 client with the same
meaning of each failure at about half the CPU per call. `GATEWAY_HTTP_TRANSPORT=aiohttp`
selects this transport, `GATEWAY_HTTP_TRANSPORT=httpx` httpx's own and `AsyncClient.send`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

# Most specific first: ConnectionTimeoutError is a ServerTimeoutError, ClientConnectorError
# a ClientOSError, and every one of them a ClientConnectionError.
_MAPPING: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.PoolTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientError, httpx.RemoteProtocolError),
)


def _httpx_error(exc: BaseException) -> httpx.TransportError | None:
    """The httpx error an aiohttp failure means (None: not a transport failure)."""
    for failure, error in _MAPPING:
        if isinstance(exc, failure):
            return error(str(exc) or type(exc).__name__)
    return None


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        # The package's own mapping, raised from the aiohttp failure: mapped again from it.
        error = _httpx_error(exc.__cause__) if exc.__cause__ is not None else None
        if error is None:
            raise
        raise error from exc.__cause__
    except (TimeoutError, aiohttp.ClientError) as exc:
        error = _httpx_error(exc)
        assert error is not None
        raise error from exc


@dataclass(slots=True)
class DirectRequest:
    """A read built without httpx (`ServiceClient.send`, for the plain GETs of our own
    calls): the same URL and headers `AsyncClient.build_request` would write, without
    parsing the URL it was just given (a tenth of a request's CPU on the front end's
    query, `python -m bench.profile`)."""

    method: str
    target: str  # the absolute URL, already encoded
    headers: dict[str, str]  # lower-case names
    extensions: dict[str, Any]  # httpx's: {"timeout": {...}}
    content: bytes = b""

    @property
    def url(self) -> httpx.URL:
        """As httpx would have it (only traces and the retry log read it)."""
        return httpx.URL(self.target)


# A path httpx would send as it is (nothing to percent-encode, no query of its own).
_PLAIN_PATH = re.compile(r"/(?!/)[A-Za-z0-9/_.~-]*")
# Characters `urlencode` leaves as they are, and the comma (which it writes %2C).
_ID_LIST = re.compile(r"[A-Za-z0-9_.~,-]*")


def plain_query(params: Any) -> str | None:
    """`?query` as httpx encodes `params` ("" for none), if they are plain: a dict of
    strings and integers (our own calls' form); None for anything else."""
    if not params:
        return "" if params is None or type(params) is dict else None
    if type(params) is not dict:
        return None
    parts = []
    for name, value in params.items():
        if type(name) is not str:
            return None
        if type(value) is int:
            value = str(value)
        elif type(value) is not str:
            return None
        if _ID_LIST.fullmatch(value):
            # What `urlencode` makes of ids joined by commas, without quoting them a
            # character at a time (5% of the dashboard's CPU for 100 ids).
            parts.append(f"{quote_plus(name)}={value.replace(',', '%2C')}")
        else:
            parts.append(f"{quote_plus(name)}={quote_plus(value)}")
    return "?" + "&".join(parts)


def plain_headers(headers: Mapping[str, str]) -> bool:
    """Names and values httpx would write as they are: printable ASCII. Anything else
    goes through `build_request`, which refuses it as before, outside the breaker (our
    own fault, not the service's: tests/hostile/test_protocol.py)."""
    for name, value in headers.items():
        if not (name.isascii() and name.isprintable() and value.isascii() and value.isprintable()):
            return False
    return True


@dataclass(frozen=True, slots=True)
class DirectRequests:
    """The request fast path: a `DirectRequest` for each plain GET of our own calls (a plain
    path, a dict of plain params, printable headers), byte for byte what httpx's
    `build_request` would make (tests/graphql_gateway/test_retries.py compares the two);
    None for anything else, which `ServiceClient.send` (clients/base.py) builds with httpx."""

    base_url: str  # no trailing slash
    headers: dict[str, str]  # what httpx writes on every request (host, accept, …)
    extensions: dict[str, Any]  # httpx's: {"timeout": {...}}

    def build(
        self,
        method: str,
        path: str,
        params: Any,
        headers: dict[str, str],
        *,
        has_body: bool,
    ) -> DirectRequest | None:
        if method != "GET" or has_body or not _PLAIN_PATH.fullmatch(path):
            return None
        query = plain_query(params)
        if query is None or not plain_headers(headers):
            return None
        return DirectRequest(
            "GET",
            self.base_url + path + query,
            {**self.headers, **{k.lower(): v for k, v in headers.items()}},
            self.extensions,
        )


@dataclass(slots=True)
class Answer:
    """A service's answer on the direct path: what `clients/base.py` reads of an
    `httpx.Response` (headers are looked up case-insensitively, as httpx's are)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


class _Stream(httpx.AsyncByteStream):
    """The response body as the package streams it, its failures mapped like the request's."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        with _mapped():
            await self._inner.aclose()


class ServiceTransport(AiohttpTransport):
    """`AiohttpTransport` whose failures mean what httpcore's would (see the module doc)."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def get_client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        # httpx has written every header already; aiohttp would add `Content-Type:
        # application/octet-stream` to a POST without a body, which the services refuse.
        session = aiohttp.ClientSession(
            connector=connector,
            skip_auto_headers=("Content-Type",),
            # One session serves every caller: no cookie a service sets is kept (aiohttp's
            # jar would keep them for a host name, as in docker-compose or Kubernetes).
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        session._retry_connection = False  # base.py decides what is sent again
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _mapped():
            response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Stream(response.stream)
        return response

    def _session(self) -> aiohttp.ClientSession:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        return self.client

    def _timeout(self, timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
        """httpx's timeouts as the package maps them (connect, each read, the pool)."""
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            found = aiohttp.ClientTimeout(sock_connect=key[0], sock_read=key[1], connect=key[2])
            self._timeouts[key] = found
        return found

    async def exchange(self, request: httpx.Request | DirectRequest) -> Answer | httpx.Response:
        """Send `request` and read the whole answer: the direct path (see the module doc)."""
        timeout = self._timeout(request.extensions.get("timeout", {}))
        with _mapped():
            async with self._session().request(
                request.method,
                request.target if type(request) is DirectRequest else str(request.url),
                headers=request.headers,
                data=request.content or None,
                allow_redirects=False,
                auto_decompress=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
        if "content-encoding" in response.headers:
            # Rare (the services do not compress): decoded by httpx, as on its own path,
            # so a body that does not decode is httpx.DecodingError (502) there and here.
            return httpx.Response(response.status, headers=response.raw_headers, content=content)
        return Answer(response.status, response.headers, content)
