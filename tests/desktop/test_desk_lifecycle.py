"""The desk's process from start to end, as a user meets it: the real `contract-desk --demo`
offscreen, real signals, its real embedded server process.

- however the desk ends (SIGTERM, SIGINT, Ctrl+C in its terminal, kill -9) no server
  process is left behind, and a signal is an orderly quit (exit 0, no traceback);
- a server killed under the running desk is reaped, restarted, and data flows again;
- a normal start and quit logs no warning or error;
- the window is painted before the embedded server answers.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from sync.outbox import Outbox, OutboxState
from sync.replica import Replica
from tests.desktop.desk_process import LIVE_LINE, gone, running, start_desk, until
from tests.pg import run_outside_loop  # not asyncio.run: see tests/pg.py

pytestmark = pytest.mark.timeout(240)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "ctrl-c", "SIGKILL"])
def test_no_server_outlives_the_desk(tmp_path: Path, how: str) -> None:
    # Ctrl+C: the terminal sends SIGINT to its whole foreground process group.
    desk = start_desk(tmp_path, "--demo", "1", "-v", new_session=how == "ctrl-c")
    try:
        desk.wait_for(LIVE_LINE)
        server = desk.server_pid()
        if how == "ctrl-c":
            os.killpg(desk.process.pid, signal.SIGINT)
        else:
            desk.process.send_signal(signal.Signals[how])
        code = desk.process.wait(60)
    finally:
        desk.stop()
    assert gone(server), f"the embedded server {server} outlived the desk ({how})"
    if how == "SIGKILL":
        assert code == -signal.SIGKILL
        return
    assert code == 0, desk.log[-3000:]
    assert "Traceback" not in desk.log, desk.log[-3000:]
    assert "quitting on SIGINT" in desk.log or "quitting on SIGTERM" in desk.log


def test_a_signal_keeps_queued_actions(tmp_path: Path) -> None:
    """SIGTERM to an offline desk with a queued action: the action is still queued after."""
    replica_file = tmp_path / "desk" / "data" / "replicas" / "embedded.db"
    replica_file.parent.mkdir(parents=True)

    async def queue() -> int:
        replica = await Replica.open(replica_file)
        try:
            entry = await Outbox(replica).answer_question("c-1", "q-1", "signal test")
            return entry.id
        finally:
            await replica.close()

    entry_id = run_outside_loop(queue())
    desk = start_desk(tmp_path, "--offline", "-v")
    try:
        desk.wait_for("startup: first paint")
        desk.process.send_signal(signal.SIGTERM)
        assert desk.process.wait(60) == 0, desk.log[-3000:]
    finally:
        desk.stop()
    assert "Traceback" not in desk.log

    async def state() -> OutboxState:
        replica = await Replica.open(replica_file)
        try:
            found = {e.id: e for e in await Outbox(replica).entries()}
            return found[entry_id].state
        finally:
            await replica.close()

    assert run_outside_loop(state()) is OutboxState.QUEUED


def test_a_killed_server_is_reaped_and_restarted(tmp_path: Path) -> None:
    desk = start_desk(tmp_path, "--demo", "1", "-v")
    try:
        desk.wait_for(LIVE_LINE)
        first = desk.server_pid()
        mark = len(desk.log)
        os.kill(first, signal.SIGKILL)
        desk.wait_for("restarting it", timeout=30, after=mark)
        assert not running(first), "the killed server was left a zombie"
        until(lambda: desk.server_pids() not in ([], [first]), 60, "a new server", desk)
        # The sync service reconnects to the new server and is live again.
        desk.wait_for("→ live", timeout=120, after=mark)
        desk.wait_for("the local server is running again", timeout=60, after=mark)
    finally:
        desk.stop()
    for pid in desk.server_pids():
        assert gone(pid)


def test_a_normal_start_and_quit_logs_no_warning(tmp_path: Path) -> None:
    """At the default log level: nothing but what a user should never see."""
    desk = start_desk(tmp_path, "--demo", "1", "--quit-after", "15")
    try:
        assert desk.process.wait(180) == 0, desk.log[-3000:]
    finally:
        desk.stop()
    bad = [
        line
        for line in desk.log.splitlines()
        if line.startswith(("WARNING", "ERROR", "CRITICAL")) or "Traceback" in line
    ]
    assert bad == [], desk.log[-3000:]


def test_the_window_is_painted_before_the_server_answers(tmp_path: Path) -> None:
    desk = start_desk(tmp_path, "--demo", "1", "-v")
    try:
        desk.wait_for(LIVE_LINE)
    finally:
        desk.stop()
    log = desk.log
    painted = log.index("startup: first paint after")
    answered = log.index("startup: local server answered after")
    assert painted < answered, log[-3000:]
