"""Running `contracts` in-process (main([...]) with captured streams) against a real server,
with the user's config, data and log directories pointed at a temporary folder."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.cli import main
from tests.sync.server_fixture import ServerProcess


class Terminal(io.StringIO):
    """A stdin that claims to be a terminal, with the user's typed answers."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        import json

        return json.loads(self.out)


def run_cli(*args: str, stdin: io.StringIO | None = None, **kwargs: Any) -> Result:
    """`contracts ARGS` in-process, in a worker thread.

    The thread is for asyncio: main() calls asyncio.run, which on its way out sets the
    thread's current event loop to None; in the main thread that would drop the loop
    pytest-asyncio keeps current between tests and leak it (an "unclosed event loop"
    ResourceWarning, an error here, in whatever test the GC happens to run).
    """
    out, err = io.StringIO(), io.StringIO()
    with ThreadPoolExecutor(1) as worker:
        running = worker.submit(
            main, list(args), stdout=out, stderr=err, stdin=stdin or Pipe(""), **kwargs
        )
        code = running.result()
    result = Result(code, out.getvalue(), err.getvalue())
    assert "Traceback" not in result.err, result.err
    return result


def isolate_user_dirs(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """platformdirs (config, data, log) under `home`; no keyring; no CONTRACTS_* settings."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    for name in ("CONTRACTS_API_URL", "CONTRACTS_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")


class Api:
    """Synchronous setup calls straight to the server (not through the code under test)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self._clients: dict[str, httpx.Client] = {}

    def client(self, role: str) -> httpx.Client:
        if role not in self._clients:
            key = getattr(self.server, f"{role}_key")
            self._clients[role] = httpx.Client(
                base_url=self.server.base_url + "/api/v1",
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
        return self._clients[role]

    def call(self, method: str, path: str, role: str = "reviewer", **body: Any) -> Any:
        response = self.client(role).request(method, path, json=body or None)
        assert response.is_success, response.text
        return response.json() if response.content else None

    def contract(self, contract_type: str = "simple", **extra: Any) -> dict[str, Any]:
        name = extra.pop("name", f"c-{uuid.uuid4().hex[:8]}")
        return dict(self.call("POST", "/contracts", name=name, contractType=contract_type, **extra))

    def active(self, contract_type: str = "simple", **extra: Any) -> dict[str, Any]:
        contract = self.contract(contract_type, **extra)
        cid = contract["id"]
        task = self.call(
            "POST", f"/contracts/{cid}/tasks", "supervisor", name="sup", isSupervisor=True
        )
        contract["task_id"] = task["id"]
        self.call("POST", f"/contracts/{cid}/status", "supervisor", targetStatus="active")
        return contract

    def get(self, cid: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/contracts/{cid}"))

    def heartbeat(self, cid: str, task_id: str, phase: str = "plan") -> None:
        self.call(
            "POST",
            f"/contracts/{cid}/supervisor/heartbeat",
            "supervisor",
            task_id=task_id,
            state="working",
            phase=phase,
            progress=50,
        )

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


@pytest.fixture
def api(sync_server: ServerProcess) -> Iterator[Api]:
    made = Api(sync_server)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def as_reviewer(
    sync_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> ServerProcess:
    """CONTRACTS_API_URL / CONTRACTS_API_KEY of the reviewer, user dirs in tmp."""
    isolate_user_dirs(monkeypatch, tmp_path)
    monkeypatch.setenv("CONTRACTS_API_URL", sync_server.base_url)
    monkeypatch.setenv("CONTRACTS_API_KEY", sync_server.reviewer_key)
    return sync_server


def cli_subprocess(*args: str, env: Mapping[str, str], **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sync.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        **kwargs,
    )
