"""`contract-sync run` as a subprocess: starts, syncs, stops on SIGTERM; bad input exits 2."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.sync.replica_support import Driver
from tests.sync.server_fixture import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    return {**clean, **extra}


def sync_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sync.service_cli", *args]


def start_sync(replica: Path, server: ServerProcess, log: Path) -> subprocess.Popen[bytes]:
    command = sync_command("run", "--replica", str(replica), "--api-url", server.base_url)
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env(CONTRACTS_API_KEY=server.reviewer_key),
        )


def query(replica: Path, sql: str) -> list[tuple[object, ...]]:
    if not replica.exists():
        return []
    with sqlite3.connect(replica, timeout=10) as db:
        try:
            return list(db.execute(sql))
        except sqlite3.OperationalError:  # tables not created yet
            return []


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def snapshot_done(replica: Path) -> bool:
    rows = query(replica, "SELECT snapshot_at FROM sync_cursor")
    return bool(rows) and rows[0][0] is not None


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["run"],  # no URL or key anywhere
        ["run", "--api-url", "ftp://example.org", "--api-key", "k"],
        ["run", "--api-url", "http://x", "--api-key", "k", "--log-level", "loud"],
        ["sync"],
    ],
)
def test_bad_arguments_exit_2(args: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        sync_command(
            *args, *(["--replica", str(tmp_path / "r.db")] if args[:1] == ["run"] else [])
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip()


def test_starts_syncs_and_stops_on_sigterm(sync_server: ServerProcess, tmp_path: Path) -> None:
    driver = Driver(sync_server)
    cid = driver.start("seen by the cli")["id"]
    replica, log = tmp_path / "replica.db", tmp_path / "sync.log"
    process = start_sync(replica, sync_server, log)
    try:
        wait_for(lambda: snapshot_done(replica), what="the snapshot")
        wait_for(lambda: "state: live" in log.read_text(), what="live")
        later = driver.start("after the snapshot")["id"]
        wait_for(
            lambda: bool(query(replica, f"SELECT 1 FROM contracts WHERE id = '{later}'")),
            what="a live change",
        )
        assert query(replica, f"SELECT status FROM contracts WHERE id = '{cid}'") == [("active",)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        driver.close()
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert "Traceback" not in text
    assert "state: connecting" in text and "state: offline" in text
    assert sync_server.reviewer_key not in text


def test_a_refused_key_exits_1(sync_server: ServerProcess, tmp_path: Path) -> None:
    args = ["run", "--replica", str(tmp_path / "r.db"), "--api-url", sync_server.base_url]
    done = subprocess.run(
        sync_command(*args, "--api-key", "wrong-key"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "UNAUTHORIZED" in done.stderr and "Traceback" not in done.stderr
    assert "wrong-key" not in done.stderr


def test_offline_mode_needs_no_server(tmp_path: Path) -> None:
    replica = tmp_path / "offline.db"
    process = subprocess.Popen(
        sync_command("run", "--offline", "--replica", str(replica)),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        env=env(),
    )
    wait_for(lambda: bool(query(replica, "SELECT last_seq FROM sync_cursor")), what="the replica")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
