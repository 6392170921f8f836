"""The embedded contract server: a `contract-server serve` subprocess on 127.0.0.1.

When no server is configured the desk starts its own: SQLite in the user data folder, a
free port, a TOML config (a short stale threshold in demo mode, so a newcomer sees a stale
alert within a minute), and an admin key of the local user made once with
`contract-server keys create` and kept in the key store. The server runs as a SUBPROCESS
(`sys.executable -m server.cli`), so the desktop never imports the server's code.

The key's owner is the local user name, the same owner `serve --demo` gives the simulated
supervisors' contracts: keys see only their owner's contracts.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from desktop.settings import KeyStore

log = logging.getLogger(__name__)

SERVER_CLI = (sys.executable, "-m", "server.cli")
STARTUP_SECONDS = 60.0
DEMO_CONFIG = """\
[contracts]
stale_threshold_minutes = 0.5
stale_detection_interval_seconds = 5.0
heartbeat_timeout_seconds = 20.0
completion_grace_period_minutes = 1.0
input_timeout_hours = 24.0
"""
PLAIN_CONFIG = """\
[contracts]
stale_detection_interval_seconds = 30.0
"""


class EmbeddedServerError(Exception):
    """The embedded server could not be prepared or started (message says why)."""


def free_port(preferred: int = 0) -> int:
    """`preferred` when it is free (so the replica keeps matching the server's URL across
    runs), else any free port."""
    for wanted in (preferred, 0) if preferred else (0,):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", wanted))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise EmbeddedServerError("no free port on 127.0.0.1")


def local_owner() -> str:
    """The owner of the local keys (the same rule as `serve --demo`)."""
    try:
        return getpass.getuser() or "local"
    except (KeyError, OSError):
        return "local"


def _server_env() -> dict[str, str]:
    """Our own config wins: drop CONTRACTS_* overrides from the user's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class EmbeddedServer:
    """One embedded server: `await start()`, then `url` and `api_key`; `stop()` at exit."""

    data_dir: Path
    keys: KeyStore
    demo: int | None = None
    port: int = 0
    api_key: str = ""
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "server" / ("demo.db" if self.demo else "contracts.db")

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server" / "server.log"

    @property
    def account(self) -> str:
        return f"embedded:{self.db_path}"

    # --- starting ------------------------------------------------------------------------

    async def start(self) -> None:
        """`prepare()`, `launch()`, `wait_ready()` in one go."""
        await self.prepare()
        self.launch()
        await self.wait_ready()

    async def prepare(self) -> None:
        """Pick the port and make (or reuse) the admin key: `url` and `api_key` are known
        from here on, before the server answers."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.port = self.port or self._pick_port()
        # A kept key is only good for the database it was made in.
        kept = self.keys.get(self.account) if self.db_path.exists() else None
        self.api_key = kept or ""
        if not self.api_key:
            self.api_key = await self._create_key()
            self.keys.set(self.account, self.api_key)

    def launch(self) -> None:
        """Start the server process (returns at once)."""
        self._launch()

    async def wait_ready(self) -> bool:
        """Wait until the server answers; False if the kept key was refused."""
        await self._wait_healthy()
        return await self._key_works()

    async def _create_key(self) -> str:
        command = [*SERVER_CLI, "keys", "create", "--owner", local_owner(), "--role", "admin"]
        command += ["--db", self.db_url]
        done = await asyncio.to_thread(
            subprocess.run,
            command,
            capture_output=True,
            text=True,
            timeout=120,
            env=_server_env(),
            check=False,
        )
        key = done.stdout.strip()
        if done.returncode != 0 or not key:
            raise EmbeddedServerError(f"contract-server keys create failed: {done.stderr.strip()}")
        return key

    def _config_file(self) -> Path:
        path = self.data_dir / "server" / ("demo.toml" if self.demo else "server.toml")
        path.write_text(DEMO_CONFIG if self.demo else PLAIN_CONFIG, encoding="utf-8")
        return path

    @property
    def port_file(self) -> Path:
        return self.data_dir / "server" / ("demo.port" if self.demo else "server.port")

    def _pick_port(self) -> int:
        try:
            last = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            last = 0
        port = free_port(last)
        self.port_file.write_text(str(port))
        return port

    def _launch(self) -> None:
        self.port = self.port or self._pick_port()
        command = [*SERVER_CLI, "serve", "--db", self.db_url, "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--config", str(self._config_file())]
        # --parent-pid: the server ends with us however we end (kill -9 included).
        command += ["--log-level", "warning", "--parent-pid", str(os.getpid())]
        if self.demo:
            command += ["--demo", str(self.demo)]
        if self._log is None:
            self._log = self.log_path.open("ab")
        # A session of its own: Ctrl+C in the terminal reaches only the desk, which then
        # stops the server in order (instead of both racing to exit).
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_server_env(),
            start_new_session=True,
        )
        log.info("embedded server starting on %s (log %s)", self.url, self.log_path)

    async def _wait_healthy(self) -> None:
        deadline = asyncio.get_running_loop().time() + STARTUP_SECONDS
        async with httpx.AsyncClient(timeout=1.0) as client:
            while asyncio.get_running_loop().time() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise EmbeddedServerError(
                        f"the embedded server exited; see {self.log_path}:\n{self._log_tail()}"
                    )
                try:
                    if (await client.get(self.url + "/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise EmbeddedServerError(f"the embedded server did not answer; see {self.log_path}")

    async def _key_works(self) -> bool:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        async with httpx.AsyncClient(timeout=5.0) as client:
            try:
                answer = await client.get(self.url + "/api/v1/contracts?limit=1", headers=headers)
            except httpx.HTTPError:
                return True  # cannot tell: let the sync service report it
        return answer.status_code != 401

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def exit_code(self) -> int | None:
        """The server's exit code once it has ended (and reaped: no zombie), else None."""
        return None if self.process is None else self.process.poll()

    # --- stopping ------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`. Idempotent."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
