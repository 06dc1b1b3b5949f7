"""The gateway as a real process over the two service processes, for hostile clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import RunningProcess, running


@pytest.fixture(scope="module")
def gateway_process(
    users_process: RunningProcess, orders_process: RunningProcess, logs_dir: Path
) -> Iterator[RunningProcess]:
    """`python -m graphql_gateway` over both services, fresh (fresh breakers) per module."""
    env = {"GATEWAY_USERS_URL": users_process.url, "GATEWAY_ORDERS_URL": orders_process.url}
    log = str(logs_dir / "hostile-gateway.log")
    with running("graphql_gateway", "GATEWAY_", env, log_path=log) as proc:
        yield proc
