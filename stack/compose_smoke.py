"""`make compose-smoke`: the containers of docker-compose.yml, built and run for real.

    python -m stack.compose_smoke            # what `make compose-smoke` does

1. The engine: `docker` and a compose (`docker compose` v2, else `docker-compose` v1),
   installed from the distribution's packages when missing (apt-get: docker.io,
   docker-compose); a daemon not running is started here, and stopped at the end.
2. The base images (python:3.12-slim, postgres:17): used if present, pulled if a
   registry answers, and otherwise built here as local stand-ins of the same names
   (deploy/compose-smoke/*.Dockerfile say what they really are: Debian bookworm from a
   debootstrap rootfs, with Debian's Python 3.11 and PostgreSQL 15).
3. `up --build` under a project name of its own, its ports on 127.0.0.1 only; the gateway
   healthy; the seed (`stack.seed`) through it and the playground's Dashboard operation
   over the seeded data; the orders service stopped and the gateway's breaker for it
   opening; then `down -v`, its volume gone.

Each step prints its time; any failure prints the containers' last log lines and exits 1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
STANDINS = ROOT / "deploy" / "compose-smoke"
PROJECT = "sitetrack-smoke"
BOOKWORM = "sitetrack-standin/bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# The base images of Dockerfile and docker-compose.yml, and their stand-ins' recipes.
BASE_IMAGES = {"python:3.12-slim": "python.Dockerfile", "postgres:17": "postgres.Dockerfile"}
HEALTHY_TIMEOUT = 600  # a cold build installs every dependency


class SmokeFailed(Exception):
    pass


def say(text: str) -> None:
    print(text, flush=True)


def run(command: Sequence[str], *, quiet: bool = False, **kwargs: Any) -> str:
    """Run it; its output (stdout and stderr together), or SmokeFailed with its last lines."""
    done = subprocess.run(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-30:])
        raise SmokeFailed(f"`{' '.join(command)}` exited {done.returncode}:\n{tail}")
    if not quiet and done.stdout.strip():
        say(done.stdout.rstrip())
    return done.stdout


@contextmanager
def step(name: str) -> Iterator[None]:
    say(f"== {name}")
    started = time.monotonic()
    yield
    say(f"   {name}: {time.monotonic() - started:.1f} s")


# ------------------------------------------------------------------------------ engine


def _apt_install(*packages: str) -> None:
    say(f"   installing {', '.join(packages)} from the distribution's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], quiet=True, env=env)
    run(["apt-get", "install", "-y", "-qq", *packages], quiet=True, env=env)


def _daemon_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def ensure_engine() -> tuple[list[str], subprocess.Popen[bytes] | None]:
    """The compose command, and the daemon we started (None if one ran already)."""
    missing = shutil.which("docker") is None or shutil.which("dockerd") is None
    if missing and not _daemon_answers():
        _apt_install("docker.io", "docker-compose")
    daemon = None
    if not _daemon_answers():
        say("   starting dockerd (stopped again at the end)")
        log = open(tempfile.gettempdir() + "/compose-smoke-dockerd.log", "ab")  # noqa: SIM115
        daemon = subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while not _daemon_answers():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise SmokeFailed(f"dockerd did not start; its log: {log.name}")
            time.sleep(0.5)
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"], daemon
    if shutil.which("docker-compose") is None:
        _apt_install("docker-compose")
    return ["docker-compose"], daemon


def stop_daemon(daemon: subprocess.Popen[bytes] | None) -> None:
    if daemon is None:
        return
    daemon.terminate()
    try:
        daemon.wait(60)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


# ------------------------------------------------------------------------------ images


def _has_image(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def _bookworm() -> None:
    """sitetrack-standin/bookworm: a minimal Debian bookworm rootfs, as an image."""
    if _has_image(BOOKWORM):
        return
    if shutil.which("debootstrap") is None:
        _apt_install("debootstrap")
    with tempfile.TemporaryDirectory(prefix="bookworm-") as rootfs:
        say(f"   debootstrap bookworm ({DEBIAN_MIRROR}) for {BOOKWORM}")
        run(["debootstrap", "--variant=minbase", "bookworm", rootfs, DEBIAN_MIRROR], quiet=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        run(["docker", "import", "-", BOOKWORM], stdin=tar.stdout, quiet=True)
        if tar.wait() != 0:
            raise SmokeFailed("tar of the bookworm rootfs failed")


def ensure_base_images() -> dict[str, str]:
    """How each base image was had: present, pulled, or built as a stand-in."""
    how = {}
    for name, recipe in BASE_IMAGES.items():
        if _has_image(name):
            how[name] = "present"
            continue
        if subprocess.run(["docker", "pull", name], capture_output=True).returncode == 0:
            how[name] = "pulled"
            continue
        _bookworm()
        with tempfile.TemporaryDirectory(prefix="standin-") as context:
            for each in STANDINS.iterdir():
                shutil.copy(each, context)
            shutil.copy("/etc/ssl/certs/ca-certificates.crt", context)
            say(f"   building a local stand-in for {name} ({recipe})")
            run(["docker", "build", "-q", "-t", name, "-f", f"{context}/{recipe}", context])
        how[name] = "local stand-in"
    return how


# ------------------------------------------------------------------------------ the system


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Compose:
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.gateway_port = _free_port()
        self.env = {
            **os.environ,
            "GATEWAY_PUBLISH": f"127.0.0.1:{self.gateway_port}",
            "POSTGRES_PUBLISH": f"127.0.0.1:{_free_port()}",
            "GATEWAY_AUTH": "off",
            # Legacy builder for v1 (no BuildKit frontend to pull), BuildKit for v2.
            "COMPOSE_DOCKER_CLI_BUILD": "0" if command == ["docker-compose"] else "1",
        }
        self.url = f"http://127.0.0.1:{self.gateway_port}"

    def __call__(self, *args: str, quiet: bool = False) -> str:
        return run([*self.command, "-p", PROJECT, *args], cwd=ROOT, env=self.env, quiet=quiet)

    def logs(self) -> str:
        try:
            return self("logs", "--no-color", "--tail", "30", quiet=True)
        except SmokeFailed as exc:
            return str(exc)


def wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SmokeFailed(f"{url}/health did not answer 200 within {timeout:.0f} s")
        time.sleep(1)


def check_seeded(url: str) -> None:
    from graphql_gateway.graphql.examples import EXAMPLES
    from stack.seed import seed

    created = seed(url)
    say(f"   seeded {created} user(s)")
    dashboard = EXAMPLES[0]
    answer = httpx.post(
        f"{url}/graphql",
        json={"query": dashboard.query, "operationName": dashboard.name},
        timeout=30,
    ).json()
    users = answer.get("data", {}) and answer["data"]["users"]["items"]
    if not users or not any(user["orders"] for user in users):
        raise SmokeFailed(f"the Dashboard operation found no orders: {json.dumps(answer)[:500]}")
    say(f"   Dashboard: {len(users)} users, {sum(len(u['orders']) for u in users)} orders")


def check_breaker_opens(compose: Compose) -> None:
    compose("stop", "service_orders", quiet=True)
    statuses = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses.append(httpx.get(f"{compose.url}/orders", timeout=30).status_code)
        health = httpx.get(f"{compose.url}/health", timeout=30).json()["data"]
        state = health["circuit_breakers"]["orders_service"]["state"]
        if state == "open":
            say(f"   orders stopped: answers {sorted(set(statuses))}, then the breaker opened")
            if any(status < 500 for status in statuses):
                raise SmokeFailed(f"GET /orders answered {statuses} with orders stopped")
            return
        time.sleep(0.2)
    raise SmokeFailed(f"the orders breaker did not open; GET /orders answered {statuses}")


def check_volume_gone() -> None:
    volumes = run(["docker", "volume", "ls", "-q"], quiet=True).split()
    left = [volume for volume in volumes if volume.startswith(PROJECT.replace("-", ""))]
    left += [volume for volume in volumes if volume.startswith(PROJECT)]
    if left:
        raise SmokeFailed(f"`down -v` left volumes: {left}")


def main() -> int:
    started = time.monotonic()
    daemon = None
    compose: Compose | None = None
    try:
        with step("engine"):
            command, daemon = ensure_engine()
            say(f"   compose: {' '.join(command)}")
        with step("base images"):
            for name, how in ensure_base_images().items():
                say(f"   {name}: {how}")
        compose = Compose(command)
        with step("up --build"):
            compose("up", "-d", "--build", quiet=True)
            wait_healthy(compose.url, HEALTHY_TIMEOUT)
        with step("seed and the Dashboard operation"):
            check_seeded(compose.url)
        with step("orders stopped: the breaker opens"):
            check_breaker_opens(compose)
        with step("down -v"):
            compose("down", "-v", "--remove-orphans", quiet=True)
            compose = None
            check_volume_gone()
    except (SmokeFailed, httpx.HTTPError, KeyError, TypeError) as exc:
        say(f"compose smoke FAILED: {exc}")
        if compose is not None:
            say(compose.logs())
        return 1
    finally:
        if compose is not None:
            try:
                compose("down", "-v", "--remove-orphans", quiet=True)
            except SmokeFailed as exc:
                say(str(exc))
        stop_daemon(daemon)
    say(f"compose smoke passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
