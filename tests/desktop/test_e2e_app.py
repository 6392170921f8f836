"""`contract-desk --demo` from the command line, as `make run` starts it: the embedded
server comes up on 127.0.0.1 with a kept admin key, simulated supervisors make contracts,
the window shows them, and on exit the server process is gone."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.desktop.desk_process import run_in

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(240)


def _desk(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run_in(
        home, [sys.executable, "-m", "desktop.app", "--data-dir", str(home), *args], timeout
    )


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_demo_starts_the_embedded_server_and_shows_contracts(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    done = _desk(tmp_path, "--demo", "2", "--screenshot", str(shot), "--quit-after", "30")
    assert done.returncode == 0, done.stderr[-3000:]
    assert shot.exists() and shot.stat().st_size > 10_000
    server = tmp_path / "data" / "server"
    assert (server / "demo.db").exists()
    port = int((server / "demo.port").read_text())
    assert not _listening(port)  # the embedded server stopped with the desk
    credentials = tmp_path / "data" / "desk-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    kept = json.loads(credentials.read_text())
    assert list(kept) == [f"embedded:{server / 'demo.db'}"]
    log = (server / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    # The server's stale threshold (the demo's 0.5 min) is remembered for offline use.
    settings = json.loads((tmp_path / "config" / "desk-settings.json").read_text())
    assert settings["stale_threshold_minutes"] == 0.5
    replicas = list((tmp_path / "data" / "replicas").glob("*.db"))
    assert [r.name for r in replicas] == ["embedded_demo.db"]

    # The second start reuses the kept key and the replica, then goes offline on request.
    again = _desk(tmp_path, "--offline", "--demo", "--quit-after", "3")
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(credentials.read_text()) == kept
