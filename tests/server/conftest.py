"""A real `contract-server serve` process per backend, shared by the server tests.

The server runs as a subprocess on a free port with a fresh SQLite file (and, when
CONTRACTS_TEST_PG_URL is set, a freshly created PostgreSQL database), a small TOML config,
and keys made with `contract-server keys create`: admin, reviewer and supervisor of owner
"alice", and a reviewer of owner "bob". Tests share the server but always create their
own contracts.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.cli import main as cli_main

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    """Run one statement on the admin database, in a thread with its own event loop (a
    fixture must not replace the event loop pytest-asyncio manages in the main thread)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _pg(statement)).result()


async def _pg(statement: str) -> None:
    import asyncpg

    admin = _pg_admin_url()
    assert admin is not None
    conn = await asyncpg.connect(admin.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _database_url(backend: str, tmp: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'contracts.db'}", None
    name = f"cd_test_{uuid.uuid4().hex[:12]}"
    pg_execute(f'CREATE DATABASE "{name}"')
    admin = _pg_admin_url()
    assert admin is not None
    base, _, _ = admin.rpartition("/")
    return f"{base}/{name}", name


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not become healthy:\n{log.read_text()}")


def _create_keys(db_url: str) -> dict[str, str]:
    """One key per ROLES entry, made by `contract-server keys create` (its `main`, run
    in-process in a worker thread: a process start per key costs seconds on a busy machine;
    test_cli.py runs the real command as a process)."""

    def create_all() -> dict[str, str]:
        keys = {}
        for role, (owner, kind) in ROLES.items():
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = cli_main(
                    ["keys", "create", "--owner", owner, "--role", kind, "--db", db_url]
                )
            assert code == 0
            keys[role] = out.getvalue().strip()
        return keys

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(create_all).result()


def _start(backend: str, tmp: Path) -> tuple[Server, str | None]:
    db_url, pg_name = _database_url(backend, tmp)
    config = tmp / "contracts.toml"
    config.write_text(CONFIG_TOML)
    keys = _create_keys(db_url)
    port = free_port()
    log = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
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
    _wait_healthy(base, process, log)
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
            pg_execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
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


def new_contract(
    client: httpx.Client, contract_type: str = "simple", **extra: Any
) -> dict[str, Any]:
    body = {"name": f"c-{uuid.uuid4().hex[:8]}", "contractType": contract_type, **extra}
    response = client.post("/contracts", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def start_contract(
    reviewer: httpx.Client, supervisor: httpx.Client, contract_type: str = "simple", **extra: Any
) -> dict[str, Any]:
    """A contract with a supervisor task, moved to `active` by the supervisor."""
    contract = new_contract(reviewer, contract_type, **extra)
    task = supervisor.post(
        f"/contracts/{contract['id']}/tasks", json={"name": "supervisor", "isSupervisor": True}
    )
    assert task.status_code == 201, task.text
    moved = supervisor.post(f"/contracts/{contract['id']}/status", json={"targetStatus": "active"})
    assert moved.status_code == 200, moved.text
    got = reviewer.get(f"/contracts/{contract['id']}")
    return dict(got.json())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body
