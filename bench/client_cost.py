"""CPU per downstream call of our ServiceClient, on each transport (GATEWAY_HTTP_TRANSPORT).

    python -m bench.client_cost [--calls 3000] [--rounds 3] [--transports raw aiohttp httpx]
                                [--sending-only]

A local server (uvicorn, a bare ASGI app in its own process) answers a fixed envelope;
the client sends `fetch("GET", "/users/…", params=…)` through the breaker, one call after
another (with `--sending-only`, only the request's building and the transport's
sending), and the figure is this process's CPU time per call (the client's own cost),
alternating transports round by round (each round: every transport once, in the order
given), with each round's ratio to the first transport. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

import httpx

from bench.processes import free_port
from graphql_gateway.clients.base import ServiceClient
from graphql_gateway.clients.breaker import Breaker
from graphql_gateway.clients.errors import is_service_fault
from graphql_gateway.clients.transport import DirectRequest

SERVER = """
import uvicorn
BODY = b'{"success":true,"data":{"id":"5b8e3a1c-0000-4000-8000-000000000001","email":"a@b.c",'\\
       b'"name":"Name","roles":["engineer"],"created_at":"2026-11-27T10:00:00.000000+00:00",'\\
       b'"updated_at":"2026-11-27T10:00:00.000000+00:00"}}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, host="127.0.0.1", port=%d, log_level="warning", access_log=False,
            loop="uvloop", http="httptools")
"""


PARAMS = {"fields": "id,name"}


async def _sent(client: ServiceClient) -> None:
    """Only the sending: the request built as `send` builds it, then the transport."""
    request: httpx.Request | DirectRequest | None = None
    if client._direct is not None:
        request = client._direct.build("GET", "/users/1", PARAMS, {}, has_body=False)
    if request is None:
        request = client.http.build_request("GET", "/users/1", params=PARAMS)
    await client._send(request)


async def _round(url: str, transport: str, calls: int, sending_only: bool) -> tuple[float, float]:
    breaker = Breaker("bench", fail_max=5, reset_timeout=30, is_fault=is_service_fault)
    client = ServiceClient(
        label="Bench", base_url=url, timeout=5, breaker=breaker, transport=transport
    )

    async def call() -> None:
        if sending_only:
            await _sent(client)
        else:
            await client.fetch("GET", "/users/1", params=PARAMS)

    try:
        for _ in range(200):  # warm: connections, caches
            await call()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            await call()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await client.aclose()
    return cpu / calls * 1e6, wall / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.client_cost", description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--transports",
        nargs="+",
        default=["raw", "aiohttp", "httpx"],
        metavar="NAME",
        help="GATEWAY_HTTP_TRANSPORT values to alternate (default: all three)",
    )
    parser.add_argument(
        "--sending-only",
        action="store_true",
        help="only the request's building and the transport: no breaker, metrics or parsing",
    )
    args = parser.parse_args(argv)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER % port], env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        results: dict[str, list[tuple[float, float]]] = {t: [] for t in args.transports}
        for _ in range(args.rounds):
            for transport in results:
                results[transport].append(
                    asyncio.run(_round(url, transport, args.calls, args.sending_only))
                )
        first = args.transports[0]
        print(
            "| transport | CPU µs per call (each round) | median | per round, / "
            f"{first} | wall µs per call (each round) |"
        )
        print("|---|---|---|---|---|")
        for transport, rounds in results.items():
            cpu = ", ".join(f"{c:.0f}" for c, _ in rounds)
            ratios = ", ".join(
                f"{c / base:.2f}×" for (c, _), (base, _) in zip(rounds, results[first], strict=True)
            )
            wall = ", ".join(f"{w:.0f}" for _, w in rounds)
            median = statistics.median(c for c, _ in rounds)
            print(f"| {transport} | {cpu} | {median:.0f} | {ratios} | {wall} |")
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
