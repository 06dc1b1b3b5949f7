"""Everything a benchmark run needs, on 127.0.0.1: PostgreSQL, both services, the gateways."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from apicore.db import drop_database
from bench.processes import ROOT, Proc, free_port, python_module, start
from service_orders.init_db import main as init_orders_db
from service_users.init_db import main as init_users_db
from tools.embedded import server_url, start_embedded, stop_embedded

# Where the peers are copied from when bench/.peer/ has none (docs/benchmarks.md).
PEER_SOURCE = ROOT.parent / "shared" / "bench" / "peer"
PEER_DIR = ROOT / "bench" / ".peer"  # git-ignored copy with its node_modules

STATUSES = ("created", "in_progress", "completed", "cancelled")
WALK = {
    "created": [],
    "in_progress": ["in_progress"],
    "completed": ["in_progress", "completed"],
    "cancelled": ["cancelled"],
}


@dataclass
class Environment:
    logs: Path
    users: Proc | None = None
    orders: Proc | None = None
    gateways: dict[str, Proc] = field(default_factory=dict)
    open_circuit_gateway: Proc | None = None
    # Ours with GATEWAY_AUTH=on (the cost of authentication, same run), and a token for it.
    auth_gateway: Proc | None = None
    auth_token: str = ""
    # Ours with GATEWAY_METRICS=false (the cost of metrics, same run).
    bare_gateway: Proc | None = None
    user_ids: list[str] = field(default_factory=list)
    stack: ExitStack = field(default_factory=ExitStack)

    def service_requests(self) -> int:
        """Requests the two services have served (each read of /health counts itself)."""
        total = 0
        for proc in (self.users, self.orders):
            assert proc is not None
            total += httpx.get(proc.url + "/health").json()["data"]["requests_served"]
        return total


def bench_postgres(stack: ExitStack) -> str:
    """The PostgreSQL server to measure on: BENCH_PG_URL or TEST_PG_URL, else an embedded
    one that `stack` stops and deletes."""
    url = os.environ.get("BENCH_PG_URL") or os.environ.get("TEST_PG_URL")
    if url:
        return url
    parent = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    handle = start_embedded(parent / "pgdata", keep_data=False)
    stack.callback(shutil.rmtree, parent, ignore_errors=True)
    stack.callback(stop_embedded, handle)
    return server_url(handle)


def bench_database(stack: ExitStack, server: str, prefix: str, init: Callable[[str], None]) -> str:
    """A fresh database on `server` (`prefix` and a random suffix), set up by `init` (a
    service's init_db), dropped by `stack`; its URL."""
    url = make_url(server).set(database=f"{prefix}_{uuid.uuid4().hex[:8]}")
    rendered = url.render_as_string(hide_password=False)
    init(rendered)
    stack.callback(drop_database, rendered)
    return rendered


def start_ours(env: Environment, name: str, users_url: str, orders_url: str, **extra: str) -> Proc:
    port = free_port()
    settings = {
        "GATEWAY_PORT": str(port),
        "GATEWAY_USERS_URL": users_url,
        "GATEWAY_ORDERS_URL": orders_url,
        "GATEWAY_ACCESS_LOG": "false",
        **extra,
    }
    proc = start(
        name,
        python_module("graphql_gateway"),
        env=settings,
        url=f"http://127.0.0.1:{port}",
        health_path="/status",
        logs=env.logs,
    )
    env.stack.callback(proc.stop)
    return proc


def _ensure_peers_installed() -> None:
    if not (PEER_DIR / "package.json").exists():
        shutil.copytree(PEER_SOURCE, PEER_DIR, dirs_exist_ok=True)
    for folder in (PEER_DIR, PEER_DIR / "apollo"):
        if not (folder / "node_modules").exists():
            print(f"npm ci in {folder} (once)…", flush=True)
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=folder,
                check=True,
                stdout=subprocess.DEVNULL,
            )


def _start_peers(env: Environment, workers: int) -> None:
    """Each peer at its best production setting here: Hive Gateway with one worker per core
    (its start script's FORK), as ours; Apollo as shipped (one Node process)."""
    assert env.users is not None
    assert env.orders is not None
    _ensure_peers_installed()
    common = {"USERS_URL": env.users.url, "ORDERS_URL": env.orders.url, "HOST": "127.0.0.1"}
    for name, script, extra in (
        ("mesh", PEER_DIR / "start.sh", {"FORK": str(workers)}),
        ("apollo", PEER_DIR / "apollo" / "start.sh", {}),
    ):
        port = free_port()
        proc = start(
            name,
            ["bash", str(script)],
            env={**common, "PORT": str(port), **extra},
            url=f"http://127.0.0.1:{port}",
            health_path="/graphql?query=%7B__typename%7D",
            logs=env.logs,
            cwd=script.parent,
            timeout=180,
        )
        env.stack.callback(proc.stop)
        env.gateways[name] = proc


async def seed_bench_data(
    users_url: str, orders_url: str, n_users: int, per_user: int
) -> list[str]:
    """Users and orders straight into the services, orders spread over every status."""
    limits = httpx.Limits(max_connections=32, keepalive_expiry=10)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        semaphore = asyncio.Semaphore(32)

        async def one_user(i: int) -> str:
            async with semaphore:
                body = {
                    "email": f"bench{i}@site.example",
                    "name": f"Инженер {i}",
                    "roles": ["engineer"],
                }
                user = (await client.post(f"{users_url}/users", json=body)).json()["data"]
                for j in range(per_user):
                    items = [{"product": f"Материал {j}", "quantity": j + 1, "price": "52.00"}]
                    order = await client.post(
                        f"{orders_url}/orders", json={"user_id": user["id"], "items": items}
                    )
                    order_id = order.json()["data"]["id"]
                    for step in WALK[STATUSES[j % len(STATUSES)]]:
                        await client.put(f"{orders_url}/orders/{order_id}", json={"status": step})
                return user["id"]

        return list(await asyncio.gather(*(one_user(i) for i in range(n_users))))


# A benchmark's own key, for a gateway on loopback that lives for one run.
BENCH_JWT_SECRET = "bench-only-secret-" + "0" * 32


BENCH_PASSWORD = "bench-only-password"


def bench_token(users_url: str, gateway_url: str) -> str:
    """A manager's access token (reads everything, as the peers' unauthenticated requests
    do), from a real login: the front door checks its session like any other's."""
    email = f"bench-manager-{uuid.uuid4().hex[:8]}@bench.example"
    body = {"email": email, "name": "Bench Manager", "roles": ["manager"]}
    created = httpx.post(f"{users_url}/users", json={**body, "password": BENCH_PASSWORD})
    created.raise_for_status()
    login = httpx.post(
        f"{gateway_url}/auth/login",
        json={"email": email, "password": BENCH_PASSWORD},
        timeout=30,
    )
    login.raise_for_status()
    return login.json()["data"]["access_token"]


def bring_up(
    *,
    logs: Path,
    users: int,
    orders_per_user: int,
    peers: bool,
    gateway_workers: int = 1,
    auth: bool = True,
    bare: bool = True,
) -> Environment:
    env = Environment(logs=logs)
    try:
        server = bench_postgres(env.stack)
        users_db = bench_database(env.stack, server, "bench_users", init_users_db)
        orders_db = bench_database(env.stack, server, "bench_orders", init_orders_db)
        for name, prefix, db in (("users", "USERS_", users_db), ("orders", "ORDERS_", orders_db)):
            port = free_port()
            proc = start(
                name,
                python_module(f"service_{name}"),
                env={
                    f"{prefix}DATABASE_URL": db,
                    f"{prefix}PORT": str(port),
                    f"{prefix}ACCESS_LOG": "false",
                },
                url=f"http://127.0.0.1:{port}",
                health_path="/health",
                logs=logs,
            )
            env.stack.callback(proc.stop)
            setattr(env, name, proc)
        assert env.users is not None
        assert env.orders is not None
        print(f"Seeding {users} users × {orders_per_user} orders…", flush=True)
        env.user_ids = asyncio.run(
            seed_bench_data(env.users.url, env.orders.url, users, orders_per_user)
        )
        workers = {"GATEWAY_WORKERS": str(gateway_workers)}
        env.gateways["ours"] = start_ours(env, "ours", env.users.url, env.orders.url, **workers)
        if auth:
            env.auth_gateway = start_ours(
                env,
                "ours-auth",
                env.users.url,
                env.orders.url,
                GATEWAY_AUTH="on",
                GATEWAY_JWT_SECRET=BENCH_JWT_SECRET,
                GATEWAY_JWT_TTL=str(24 * 3600),  # outlives the run; its session is checked
                **workers,
            )
            env.auth_token = bench_token(env.users.url, env.auth_gateway.url)
        if bare:
            env.bare_gateway = start_ours(
                env, "ours-bare", env.users.url, env.orders.url, GATEWAY_METRICS="false", **workers
            )
        # A second gateway of ours whose orders service is gone, its circuit held open (S6).
        dead = f"http://127.0.0.1:{free_port()}"
        env.open_circuit_gateway = start_ours(
            env,
            "ours-open-circuit",
            env.users.url,
            dead,
            GATEWAY_BREAKER_RESET_TIMEOUT="3600",
            **workers,
        )
        # Each worker has its own breakers: enough failures for every one of them to open.
        with httpx.Client() as client:
            for _ in range(20 * gateway_workers):
                client.get(env.open_circuit_gateway.url + "/orders")
        if peers:
            _start_peers(env, gateway_workers)
    except BaseException:
        env.stack.close()
        raise
    return env
