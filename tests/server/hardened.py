"""A `contract-server serve` process with chosen `[server]` settings, for the hardening tests.

Like conftest's shared server (a real process on a free port of 127.0.0.1, a fresh SQLite
file or PostgreSQL database, keys made by `contract-server keys create`), but each test
module picks its own settings (shrunken timings and limits), log level and worker count,
and gets the log back to inspect.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import (
    PG_ENV,
    Server,
    _create_keys,
    _database_url,
    cli,
    free_port,
)
from tests.support.databases import drop_pg_database

CONTRACTS_TABLE = """\
[contracts]
stale_threshold_minutes = 30.0
heartbeat_timeout_seconds = 120.0
stale_detection_interval_seconds = 3600.0
"""


def toml_table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"]
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else repr(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_server(
    backend: str,
    tmp: Path,
    *,
    settings: dict[str, Any] | None = None,
    log_level: str = "warning",
    workers: int = 1,
    soft_file_limit: int | None = None,
) -> Iterator[Server]:
    """Serve, yield, then stop (SIGTERM) and drop the PostgreSQL database.

    `soft_file_limit`: start the server with this soft RLIMIT_NOFILE (set by a small
    launcher that then execs the server, so the pid stays the server's)."""
    if backend == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} not set")
    db_url, pg_name = _database_url(backend, tmp)
    config = tmp / "contracts.toml"
    config.write_text(CONTRACTS_TABLE + toml_table("server", settings or {}))
    keys = _create_keys(db_url)
    port = free_port()
    log = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    command = [sys.executable, *_limited(soft_file_limit), "-m", "server.cli", "serve"]
    command += ["--db", db_url, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--config", str(config), "--log-level", log_level]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(backend, db_url, f"http://127.0.0.1:{port}", keys, process)
    try:
        _wait_healthy(server.base_url, process, log, within=30.0 * workers)
        yield server
    finally:
        server.close()
        stop(process)
        if pg_name is not None:
            drop_pg_database(pg_name)


_LAUNCHER = (
    "import os, resource, sys; hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard)); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


def _limited(soft_file_limit: int | None) -> list[str]:
    return [] if soft_file_limit is None else ["-c", _LAUNCHER, str(soft_file_limit)]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, *, within: float) -> None:
    """Until /health answers; worker processes each import everything, so allow more."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server did not become healthy:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def new_key(server: Server, owner: str = "alice", role: str = "reviewer") -> str:
    """A fresh key made by the real `contract-server keys create` command."""
    done = cli("keys", "create", "--owner", owner, "--role", role, "--db", server.db_url)
    assert done.returncode == 0, done.stderr
    return str(done.stdout.strip())


def backends() -> list[Any]:
    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]
