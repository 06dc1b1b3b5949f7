"""What hostile GraphQL documents cost a real gateway process, and everyone else meanwhile.

    python -m bench.graphql_abuse

Starts `python -m graphql_gateway` on a free loopback port (its services are not
needed: everything measured happens before or without a downstream call) and reports:

- for each costly document (fields repeated inside the token limit), the time of its
  POST /graphql and of a GET /status sent while it runs;
- the gateway's resident memory before and after 150 distinct documents padded with a
  comment to ~1 MB (inside the 1 MiB body limit), then 150 padded to 60 KB.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import httpx

from tests.support.procs import free_port, running

COSTLY = {
    "users { total } x490": lambda tag: "{ " + " ".join(["users { total }"] * 489) + f" {tag} }}",
    "orders { id } x490 in one selection": lambda tag: (
        "{ users { items { " + " ".join(["orders { id }"] * 489) + f" }} }} {tag} }}"
    ),
}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def costly(http: httpx.AsyncClient, rounds: int) -> None:
    alone = []
    for _ in range(rounds):
        started = time.perf_counter()
        await http.get("/status")
        alone.append((time.perf_counter() - started) * 1000)
    print(f"{'GET /status alone':38} median {statistics.median(alone):7.1f} ms")
    for label, make in COSTLY.items():
        posts, statuses = [], []
        for i in range(rounds):
            # A different document each time: nothing cached helps.
            query = make(f"a{i}: users(limit: {i + 1}) {{ total }}")

            async def post(query: str = query) -> float:
                started = time.perf_counter()
                response = await http.post("/graphql", json={"query": query})
                assert response.status_code < 500, response.text
                return time.perf_counter() - started

            async def status() -> float:
                await asyncio.sleep(0.005)  # the POST is being handled
                started = time.perf_counter()
                response = await http.get("/status")
                assert response.status_code == 200
                return time.perf_counter() - started

            post_s, status_s = await asyncio.gather(post(), status())
            posts.append(post_s * 1000)
            statuses.append(status_s * 1000)
        print(
            f"{label:38} POST /graphql median {statistics.median(posts):7.1f} ms"
            f"   concurrent GET /status median {statistics.median(statuses):7.1f} ms"
            f" max {max(statuses):7.1f} ms"
        )


async def padded(http: httpx.AsyncClient, pid: int, count: int, size: int) -> None:
    before = rss_mb(pid)
    for i in range(count):
        query = "{ __typename } #" + uuid.uuid4().hex + "x" * (size - 50)
        response = await http.post("/graphql", json={"query": query})
        assert response.status_code < 500, response.text
        if i == 0:
            print(f"padded document answer: {response.status_code} {response.text[:120]}")
    await asyncio.sleep(0.5)
    print(
        f"RSS before {before:6.1f} MB, after {count} documents padded to {size:,} bytes"
        f" {rss_mb(pid):6.1f} MB"
    )


async def main() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"GATEWAY_USERS_URL": dead, "GATEWAY_ORDERS_URL": dead, "GATEWAY_ACCESS_LOG": "false"}
    with running("graphql_gateway", "GATEWAY_", env) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
            await costly(http, rounds=5)
            await padded(http, gateway.process.pid, 150, 1_000_000)
            await padded(http, gateway.process.pid, 150, 60_000)


if __name__ == "__main__":
    asyncio.run(main())
