"""A real `contract-server serve` with second-scale timings, for the lifecycle-flow tests.

Like conftest's shared server (a subprocess on a free port, a fresh SQLite file or
PostgreSQL database, keys made by `contract-server keys create`), but its background
services run every 0.2 s, the completion grace period is 1.2 s and the input timeout 4 s,
so the time rules (completion, input timeout) are seen through the real process.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import (
    PG_ENV,
    Server,
    _create_keys,
    _database_url,
    free_port,
    pg_execute,
)
from tests.support.server import wait_healthy

GRACE_SECONDS = 1.2
INPUT_TIMEOUT_SECONDS = 4.0
FAST_TOML = f"""\
[contracts]
stale_threshold_minutes = 30.0
heartbeat_timeout_seconds = 120.0
stale_detection_interval_seconds = 0.2
completion_grace_period_minutes = {GRACE_SECONDS / 60}
input_timeout_hours = {INPUT_TIMEOUT_SECONDS / 3600}
"""


@contextlib.contextmanager
def fast_server(backend: str, tmp: Path) -> Iterator[Server]:
    if backend == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} not set")
    db_url, pg_name = _database_url(backend, tmp)
    config = tmp / "contracts.toml"
    config.write_text(FAST_TOML)
    keys = _create_keys(db_url)
    port = free_port()
    log = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    command = [sys.executable, "-m", "server.cli", "serve", "--db", db_url]
    command += ["--port", str(port), "--config", str(config), "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(backend, db_url, f"http://127.0.0.1:{port}", keys, process)
    try:
        wait_healthy(server.base_url, process, log)
        yield server
    finally:
        server.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if pg_name is not None:
            pg_execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text[-5000:]


def wait_for(probe: Callable[[], Any], within: float = 10.0) -> Any:
    """Poll `probe` until it returns something truthy (the value), failing after `within`."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within} s; last: {value!r}")
        time.sleep(0.1)


def events_of(client: httpx.Client, contract_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/contracts/{contract_id}/events", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["events"])


def event_types(client: httpx.Client, contract_id: str) -> list[str]:
    return [e["type"] for e in events_of(client, contract_id)]
