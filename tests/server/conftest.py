"""A real `contract-server serve` process per backend, shared by the server tests.

The server runs as a subprocess on a free port with a fresh SQLite file (and, when
CONTRACTS_TEST_PG_URL is set, a freshly created PostgreSQL database), a small TOML config,
and keys made in-process (tests/support/keys.py; test_cli.py runs `contract-server keys
create` itself): admin, reviewer and supervisor of owner "alice", and a reviewer and an
admin of owner "bob". The database is a copy of the migrated template
(tests/support/databases.py). Tests share the server but always create their own
contracts; HTTP contract tests that need no process can use `asgi_app` instead
(tests/support/asgi.py): an app and a database per test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pg import admin_execute, run_outside_loop
from tests.support.databases import create_pg_database, drop_pg_database, migrated_sqlite
from tests.support.factories import assert_error, new_contract, start_contract
from tests.support.keys import create_keys
from tests.support.server import clean_env, free_port, wait_healthy

__all__ = [
    "assert_error",
    "free_port",
    "new_contract",
    "start_contract",
]  # from tests/support/factories.py

PG_ENV = "CONTRACTS_TEST_PG_URL"
CONFIG_TOML = """\
[contracts]
stale_threshold_minutes = 30.0
heartbeat_timeout_seconds = 120.0
stale_detection_interval_seconds = 3600.0
"""
ROLES = {
    "admin": ("alice", "admin"),
    "reviewer": ("alice", "reviewer"),
    "supervisor": ("alice", "supervisor"),
    "other": ("bob", "reviewer"),
    "other_admin": ("bob", "admin"),
}


def cli(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@dataclass
class Server:
    backend: str
    db_url: str
    base_url: str
    keys: dict[str, str]
    process: subprocess.Popen[bytes]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, role: str = "reviewer", header: str = "bearer") -> httpx.Client:
        """A client sending the role's key (Bearer, or x-makima-api-key with header="x")."""
        ident = f"{role}/{header}"
        if ident not in self.clients:
            key = self.keys[role]
            headers = (
                {"Authorization": f"Bearer {key}"}
                if header == "bearer"
                else {"x-makima-api-key": key}
            )
            self.clients[ident] = httpx.Client(
                base_url=self.base_url + "/api/v1", headers=headers, timeout=30
            )
        return self.clients[ident]

    def anonymous(self) -> httpx.Client:
        if "anon" not in self.clients:
            self.clients["anon"] = httpx.Client(base_url=self.base_url, timeout=30)
        return self.clients["anon"]

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def pg_execute(statement: str) -> None:
    """Run one statement on the admin database (on a private loop in a worker thread)."""
    base = _pg_admin_url()
    assert base is not None
    run_outside_loop(admin_execute(base, statement))


def _database_url(backend: str, tmp: Path) -> tuple[str, str | None]:
    """A migrated database of its own: a copy of the template file, or a PostgreSQL
    database made from the template database (its name, to drop it)."""
    if backend == "sqlite":
        return migrated_sqlite(tmp, "contracts.db"), None
    url, name = create_pg_database("cd_test", migrated=True)
    return url, name


def _create_keys(db_url: str) -> dict[str, str]:
    """One key per ROLES entry, made in-process (tests/support/keys.py)."""
    return create_keys(db_url, ROLES)


def _start(backend: str, tmp: Path) -> tuple[Server, str | None]:
    db_url, pg_name = _database_url(backend, tmp)
    config = tmp / "contracts.toml"
    config.write_text(CONFIG_TOML)
    keys = _create_keys(db_url)
    port = free_port()
    log = tmp / "server.log"
    env = clean_env()
    command = [sys.executable, "-m", "server.cli", "serve", "--db", db_url]
    command += ["--port", str(port), "--config", str(config), "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, process, log)
    return Server(backend, db_url, base, keys, process), pg_name


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend = request.param
    if backend == "postgresql" and not _pg_admin_url():
        pytest.skip(f"{PG_ENV} not set")
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    srv, pg_name = _start(backend, tmp)
    try:
        yield srv
    finally:
        srv.close()
        srv.process.terminate()
        try:
            srv.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            srv.process.kill()
            srv.process.wait()
        if pg_name is not None:
            drop_pg_database(pg_name)
        log = (tmp / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-5000:]
        assert not any(key in log for key in srv.keys.values()), "an API key reached the log"


@pytest.fixture
def reviewer(server: Server) -> httpx.Client:
    return server.client("reviewer")


@pytest.fixture
def supervisor(server: Server) -> httpx.Client:
    return server.client("supervisor")


@pytest.fixture
def admin(server: Server) -> httpx.Client:
    return server.client("admin")
