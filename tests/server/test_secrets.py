"""Issue 14, secrets: no API key in any log line at any level, private files, keys off the
command line. Real server processes, real `contract-sync` and `contracts` processes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
import websockets

from tests.pg import run_outside_loop  # not asyncio.run: see tests/pg.py
from tests.server.conftest import Server, new_contract
from tests.server.hardened import backends, running_server


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _monitor_handshakes(server: Server, key: str) -> None:
    url = server.base_url.replace("http", "ws", 1) + "/api/v1/contracts/monitor"
    for connect in (
        {"uri": f"{url}?api_key={key}"},
        {"uri": url, "additional_headers": {"Authorization": f"Bearer {key}"}},
        {"uri": url, "additional_headers": {"x-makima-api-key": key}},
    ):
        async with websockets.connect(**connect) as ws:  # type: ignore[arg-type]
            await ws.send(orjson.dumps({"after": 0}).decode())
            assert orjson.loads(await ws.recv())["type"] == "subscribed"


@pytest.mark.parametrize("backend", backends())
def test_no_key_in_the_server_log_at_trace_level(backend: str, tmp_path: Path) -> None:
    wrong = "cdk_" + "w" * 43  # a refused key is still a secret
    with running_server(backend, tmp_path, log_level="trace") as server:
        key = server.keys["reviewer"]
        for headers in ({"Authorization": f"Bearer {key}"}, {"x-makima-api-key": key}):
            assert httpx.get(server.base_url + "/api/v1/contracts", headers=headers).is_success
        httpx.get(server.base_url + f"/api/v1/contracts?api_key={key}")
        httpx.get(server.base_url + "/api/v1/contracts", headers={"x-makima-api-key": wrong})
        run_outside_loop(_monitor_handshakes(server, key))
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert '"GET /api/v1/contracts?api_key=[REDACTED] HTTP/1.1" 401' in log  # access log on
    assert "x-makima-api-key" in log.lower()  # the headers were logged, masked
    leaked = [k for k in [*server.keys.values(), wrong] if k in log]
    assert leaked == [], "an API key reached the server log"


def test_sync_service_log_and_replica(server: Server, tmp_path: Path) -> None:
    """`contract-sync run` at debug level, key on stdin: no key in its log; the replica
    file is 0600 and its new folder 0700."""
    key = server.keys["reviewer"]
    new_contract(server.client("reviewer"))
    replica = tmp_path / "fresh" / "replica.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    command = [sys.executable, "-m", "sync.service_cli", "run", "--api-url", server.base_url]
    command += ["--api-key-stdin", "--replica", str(replica), "--log-level", "debug"]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write(key + "\n")
    process.stdin.close()
    deadline = time.monotonic() + 30
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if "state: live" in line or not line:
            break
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    rest = process.stderr.read()
    process.stderr.close()
    log = "".join(lines) + rest
    assert "state: live" in log, log[-3000:]
    assert "authorization: [redacted]" in log.lower(), log[-3000:]  # logged, masked
    assert key not in log
    assert _mode(replica) == 0o600
    assert _mode(replica.parent) == 0o700


def test_server_database_is_0600(server: Server) -> None:
    if server.backend != "sqlite":
        pytest.skip("a file only on SQLite")
    path = Path(server.db_url.removeprefix("sqlite:///"))
    for file in (path, path.with_name(path.name + "-wal")):
        assert _mode(file) & 0o077 == 0, oct(_mode(file))


def _contracts_cli(
    server: Server, *args: str, stdin: str = "", env_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    env["XDG_CONFIG_HOME"] = env["XDG_DATA_HOME"] = "/nonexistent-contracts-test"
    if env_key is not None:
        env["CONTRACTS_API_KEY"] = env_key
    return subprocess.run(
        [sys.executable, "-m", "sync.cli", "--api-url", server.base_url, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_export_is_0600_and_key_from_stdin_or_environment(server: Server, tmp_path: Path) -> None:
    contract = new_contract(server.client("reviewer"))
    out = tmp_path / "export.json"
    key = server.keys["reviewer"]
    done = _contracts_cli(
        server, "--api-key-stdin", "export", contract["id"], "--output", str(out), stdin=key
    )
    assert done.returncode == 0, done.stderr
    assert _mode(out) == 0o600
    by_env = _contracts_cli(server, "show", contract["id"], env_key=key)
    assert by_env.returncode == 0, by_env.stderr
    assert key not in done.stderr + done.stdout + by_env.stderr


@pytest.mark.parametrize(
    "module",
    [["sync.cli"], ["sync.service_cli", "run"], ["server.cli", "simulate"]],
    ids=["contracts", "contract-sync", "simulate"],
)
def test_help_says_where_keys_come_from(module: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *module, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = " ".join(done.stdout.split())
    assert "--api-key-stdin" in text
    assert "CONTRACTS_API_KEY" in text
    assert "ps" in text
