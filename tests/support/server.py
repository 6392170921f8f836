"""A real `contract-server serve` process: the one launcher of every test package.

`start_server(tmp)` copies the migrated template database into `tmp` (tests/support/
databases.py), creates an admin, a reviewer and a supervisor key of owner "alice" and a
reviewer of owner "bob" in-process (tests/support/keys.py), starts the server on a free port
and waits for `GET /health`. The returned `ServerProcess` can `stop()` (SIGTERM), `kill()`
(SIGKILL) and `restart()` on the same database and port, so tests can cut a client off
mid-stream and let it resume.

Fixtures: `sync_server` (one per test module: tests create their own contracts),
`fresh_server` (one per test, for tests that stop or restart it) and `fast_server` (one per
test, its timing rules shrunk to seconds).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.databases import create_pg_database, drop_pg_database, migrated_sqlite
from tests.support.keys import create_keys

CONFIG_TOML = """\
[contracts]
stale_threshold_minutes = 30.0
heartbeat_timeout_seconds = 120.0
stale_detection_interval_seconds = 3600.0
"""
SECONDS_CONFIG = """\
[contracts]
stale_threshold_minutes = 0.05
stale_detection_interval_seconds = 0.5
completion_grace_period_minutes = 0.02
heartbeat_timeout_seconds = 2.0
"""  # the timing rules shrunk to seconds: stale after 3 s, completing for 1.2 s
STARTUP_TIMEOUT = 30.0
SERVER_CLI = (sys.executable, "-m", "server.cli")
# The keys of a test server: attribute of ServerProcess -> (owner, role).
SERVER_KEYS = {
    "admin_key": ("alice", "admin"),
    "reviewer_key": ("alice", "reviewer"),
    "supervisor_key": ("alice", "supervisor"),
    "other_key": ("bob", "reviewer"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment without CONTRACTS_* settings that would change the server's config."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}


def wait_healthy(
    base_url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = STARTUP_TIMEOUT
) -> None:
    """Until `GET /health` answers 200; RuntimeError (with the log) if the process ends or
    the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            # The port may still be held by the previous process for a moment.
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not become healthy:\n{log.read_text()}")


@dataclass
class ServerProcess:
    """One server subprocess on a fixed database and port."""

    tmp: Path
    db_url: str
    port: int
    config_path: Path
    admin_key: str = ""
    reviewer_key: str = ""
    supervisor_key: str = ""
    other_key: str = ""  # a reviewer of another owner ("bob")
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.logs[-1]

    def start(self) -> None:
        """Start the server and wait until `GET /health` answers 200."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is already running")
        self.starts += 1
        log = self.tmp / f"server-{self.starts}.log"
        self.logs.append(log)
        command = [*SERVER_CLI, "serve", "--db", self.db_url]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--config", str(self.config_path), "--log-level", "warning"]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=clean_env()
            )
        wait_healthy(self.base_url, self.process, log)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait (SIGKILL if it does not exit within `timeout`)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the server dies without closing its connections."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        """Stop (if running) and start again on the same database and port."""
        self.stop()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start()
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())


def start_server(tmp: Path, config_toml: str = CONFIG_TOML) -> ServerProcess:
    """A migrated database of its own with keys, and a running server on it (`config_toml`:
    its `[contracts]` settings, e.g. a stale threshold of seconds)."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "server.toml"
    config.write_text(config_toml)
    server = ServerProcess(tmp, migrated_sqlite(tmp), free_port(), config)
    for attribute, key in create_keys(server.db_url, SERVER_KEYS).items():
        setattr(server, attribute, key)
    server.start()
    return server


def finish(server: ServerProcess) -> None:
    """Stop the server; its log must hold no traceback."""
    server.stop()
    log = server.log_text()
    assert "Traceback" not in log, log[-5000:]


@contextmanager
def serving(tmp: Path, config_toml: str = CONFIG_TOML) -> Iterator[ServerProcess]:
    """A server of its own with these `[contracts]` settings (e.g. second-scale timings),
    stopped afterwards; its log must hold no traceback."""
    server = start_server(tmp, config_toml)
    try:
        yield server
    finally:
        finish(server)


@contextmanager
def configured_server(backend: str, tmp: Path, config_toml: str) -> Iterator[ServerProcess]:
    """A server of its own on `backend` ("sqlite" or "postgresql", which skips without
    CONTRACTS_TEST_PG_URL), a migrated copy of the template and `config_toml`; no keys (the
    caller makes the ones it needs). Stopped, its database dropped, and its log free of
    tracebacks afterwards."""
    pg_name = None
    if backend == "sqlite":
        db_url = migrated_sqlite(tmp, "server.db")
    else:
        db_url, pg_name = create_pg_database("cd_own", migrated=True)
    config = tmp / "server.toml"
    config.write_text(config_toml)
    server = ServerProcess(tmp, db_url, free_port(), config)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if pg_name is not None:
            drop_pg_database(pg_name)
        assert "Traceback" not in server.log_text()


@contextmanager
def simulating(
    server: ServerProcess, log: Path, *, supervisors: int, tick: float, seed: int
) -> Iterator[subprocess.Popen[bytes]]:
    """`contract-server simulate` as a process against `server` (nobody answers anything)."""
    command = [*SERVER_CLI, "simulate", "--api-url", server.base_url]
    command += ["--api-key", server.admin_key, "--supervisor-key", server.supervisor_key]
    command += ["--supervisors", str(supervisors), "--tick", str(tick), "--seed", str(seed)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=clean_env())
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert "Traceback" not in log.read_text(errors="replace")


@pytest.fixture(scope="module")
def sync_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module; tests create their own contracts."""
    with serving(tmp_path_factory.mktemp("sync-server")) as server:
        yield server


@pytest.fixture
def fast_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test's own whose timing rules run in seconds (SECONDS_CONFIG)."""
    with serving(tmp_path / "server", SECONDS_CONFIG) as server:
        yield server


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test's own, free to be stopped, killed and restarted."""
    with serving(tmp_path / "server") as server:
        yield server
