"""`contracts` beside a running desk: it finds the embedded server by itself (the desk's
user-only reference file), `contracts login` still wins, and `contract-desk --print-server`
says where the server and its database are."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.desktop.desk_process import LIVE_LINE, run_tool, start_desk, until

pytestmark = pytest.mark.timeout(300)


def test_contracts_finds_the_desks_server_without_flags(tmp_path: Path) -> None:
    desk = start_desk(tmp_path, "--demo", "1", "-v", data_dir=False)
    try:
        desk.wait_for(LIVE_LINE)
        reference = tmp_path / "xdg-data" / "contract-desk" / "embedded-server.json"
        assert stat.S_IMODE(reference.stat().st_mode) == 0o600
        assert "key" not in json.loads(reference.read_text())  # where the key is, not the key

        def listed() -> bool:
            done = run_tool(tmp_path, "contracts", "list", "--format", "json")
            assert done.returncode == 0, done.stderr
            return len(json.loads(done.stdout)) > 0  # the demo's contracts

        until(listed, 90, "the demo's contracts through `contracts list`", desk)

        shown = run_tool(tmp_path, "contract-desk", "--print-server", "--demo")
        assert shown.returncode == 0, shown.stderr
        url = json.loads(reference.read_text())["url"]
        assert f"{url} (running" in shown.stdout
        database = tmp_path / "xdg-data" / "contract-desk" / "server" / "demo.db"
        assert f"sqlite:///{database}" in shown.stdout

        # A login elsewhere overrides the desk's server.
        login = run_tool(
            tmp_path,
            "contracts",
            "login",
            "--api-url",
            "http://127.0.0.1:9",
            "--api-key",
            "k",
            "--no-check",
        )
        assert login.returncode == 0, login.stderr
        elsewhere = run_tool(tmp_path, "contracts", "list")
        assert elsewhere.returncode == 1 and "127.0.0.1:9" in elsewhere.stderr
    finally:
        desk.stop()
    assert desk.process.returncode == 0
    assert not reference.exists()  # withdrawn when the desk quit


def test_without_a_desk_contracts_says_how_to_find_a_server(tmp_path: Path) -> None:
    done = run_tool(tmp_path, "contracts", "list")
    assert done.returncode == 2
    assert "contracts login" in done.stderr and "contract-desk" in done.stderr
