"""`contract-server serve --parent-pid PID` ends with its parent, even a parent killed with
SIGKILL that could not stop it, and at once when the parent is already gone."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.desktop.desk_process import gone, running

pytestmark = pytest.mark.timeout(120)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(tmp: Path, parent: str, port: int = 0) -> list[str]:
    db = f"sqlite:///{tmp / 'contracts.db'}"
    return [sys.executable, "-m", "server.cli", "serve", "--db", db, "--port", str(port or _port()),
            "--log-level", "warning", "--parent-pid", parent]  # fmt: skip


def _serving(port: int, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def test_the_server_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    # A parent that starts the server and prints its pid, then waits to be killed.
    port = _port()
    parent_code = textwrap.dedent(
        f"""
        import os, subprocess, sys, time
        command = {_serve(tmp_path, "PARENT", port)!r}
        command[-1] = str(os.getpid())
        server = subprocess.Popen(command, start_new_session=True)
        print(server.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    server = int(parent.stdout.readline())
    try:
        assert _serving(port), "the server did not start"
        parent.kill()
        parent.wait()
        parent.stdout.close()
        assert gone(server, 30), "the server outlived its parent"
    finally:
        if running(server):
            subprocess.run(["kill", "-9", str(server)], check=False)


def test_a_parent_already_gone_ends_the_server_at_once(tmp_path: Path) -> None:
    # Our pid is not the server's parent's (the server's parent is us): give a wrong one.
    done = subprocess.run(
        _serve(tmp_path, "1"), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode in (0, -15), done.stderr
    assert "parent process 1 is gone" in done.stderr
