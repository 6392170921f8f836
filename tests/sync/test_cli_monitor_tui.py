"""`contracts monitor --format tui` under a pseudo-terminal (stdlib `pty`) against a real
server: the dashboard's panels, live events, the terminal's size (and a resize), `q` quits."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.sync.cli_harness import Api
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(180)

# CSI sequences (cursor moves, colours), OSC titles, and the lone escapes rich may send.
_ESCAPES = re.compile(
    r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)


class Screen:
    """The child's output on the pty's master side, read as it comes."""

    def __init__(self, master: int, process: subprocess.Popen[bytes]) -> None:
        self.master = master
        self.process = process
        self.raw = b""

    def text(self) -> str:
        return _ESCAPES.sub("", self.raw.decode("utf-8", errors="replace")).replace("\r", "")

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.raw += os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    return

    def wait_for(self, what: str, found: Callable[[str], bool], timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.3)
            if found(self.text()):
                return
            if self.process.poll() is not None:
                break
        tail = self.text()[-3000:]
        raise AssertionError(f"no {what} on the terminal; it shows:\n{tail}")

    def frame_lines(self) -> list[str]:
        """The lines of what was drawn since the last clear (the latest frames)."""
        return self.text().split("\n")


def set_size(fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


@contextmanager
def monitor_on_a_terminal(rows: int, columns: int) -> Iterator[Screen]:
    """`contracts monitor --format tui` with a pty as its terminal (stdin, stdout, stderr)."""
    master, slave = pty.openpty()
    set_size(slave, rows, columns)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        [sys.executable, "-m", "sync.cli", "monitor", "--format", "tui"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,  # the pty becomes its controlling terminal
    )
    os.close(slave)
    screen = Screen(master, process)
    try:
        yield screen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
        assert "Traceback" not in screen.text(), screen.text()[-3000:]


def _border_of(title: str, width: int) -> Callable[[str], bool]:
    """A panel border line holding `title` that spans exactly `width` columns."""

    def found(text: str) -> bool:
        return any(title in line and len(line) == width for line in text.split("\n"))

    return found


def test_tui_dashboard_follows_the_terminal_and_quits_on_q(
    as_reviewer: ServerProcess, api: Api
) -> None:
    tag = uuid.uuid4().hex[:6]
    waiting = api.active(name=f"tui-wait-{tag}")
    api.call("POST", f"/contracts/{waiting['id']}/questions", "supervisor",
             question="Which region?", questionType="free_text")  # fmt: skip
    with monitor_on_a_terminal(rows=30, columns=100) as screen:
        screen.wait_for("dashboard", lambda t: f"tui-wait-{tag}" in t and "Recent events" in t)
        text = screen.text()
        for panel in ("Contracts by status", "Waiting for input", "Stale", "q to quit"):
            assert panel in text, panel
        assert "waiting_for_input" in text and "question" in text
        # Sized to the terminal: the events panel spans the full 100 columns.
        screen.wait_for("a 100-column frame", _border_of("Recent events", 100))

        created = api.contract(name=f"tui-new-{tag}")
        screen.wait_for("the live event", lambda t: f"created the contract tui-new-{tag}" in t)
        assert created["id"][:8] in screen.text()

        set_size(screen.master, 40, 132)  # the user widens the window
        screen.wait_for("a 132-column frame", _border_of("Recent events", 132))

        os.write(screen.master, b"q")
        deadline = time.monotonic() + 15
        while screen.process.poll() is None and time.monotonic() < deadline:
            screen.pump(0.2)
        assert screen.process.poll() == 0, "q did not end the monitor"
