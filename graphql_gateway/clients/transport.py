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

`GATEWAY_HTTP_TRANSPORT=httpx` goes back to httpx's own transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


class _Stream(httpx.AsyncByteStream):
    """The response body as the package streams it, its failures mapped like the request's."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self):  # type: ignore[override]
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

    def get_client(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        # httpx has written every header already; aiohttp would add `Content-Type:
        # application/octet-stream` to a POST without a body, which the services refuse.
        session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("Content-Type",))
        session._retry_connection = False  # base.py decides what is sent again
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _mapped():
            response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Stream(response.stream)
        return response
