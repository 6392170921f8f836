"""The real `contract-desk` as a separate process (offscreen), as a user starts it, with its
settings, data and keys in a test folder; helpers to find its embedded server process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIVE_LINE = "startup: live data after"


def desk_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTS_")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_DATA_HOME=str(home / "xdg-data"),
        XDG_CONFIG_HOME=str(home / "xdg-config"),
        XDG_STATE_HOME=str(home / "xdg-state"),
        XDG_CACHE_HOME=str(home / "xdg-cache"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    env.pop("CONTRACT_DESK_HOME", None)
    env.update(extra or {})
    return env


@dataclass
class Desk:
    """One running `contract-desk`; its stderr (the log) goes to a file."""

    home: Path
    process: subprocess.Popen[bytes]
    log_file: Path
    args: tuple[str, ...] = field(default=())

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 120.0, after: int = 0) -> None:
        """Wait until the log holds `text` (past offset `after`)."""
        until(lambda: text in self.log[after:], timeout, f"{text!r} in the desk's log", self)

    def server_pids(self) -> list[int]:
        return [pid for pid in children(self.process.pid) if "server.cli" in cmdline(pid)]

    def server_pid(self, timeout: float = 60.0) -> int:
        until(lambda: bool(self.server_pids()), timeout, "the embedded server process", self)
        return self.server_pids()[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_desk(
    home: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    new_session: bool = False,
    data_dir: bool = True,
) -> Desk:
    """`python -m desktop.app --data-dir HOME/desk ARGS` (the `contract-desk` command);
    without `data_dir`, in the user folders (XDG_* under HOME), as a user starts it."""
    log_file = home / f"desk-{time.monotonic_ns()}.log"
    folder = ["--data-dir", str(home / "desk")] if data_dir else []
    command = [sys.executable, "-m", "desktop.app", *folder, *args]
    with log_file.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=desk_env(home, env),
            cwd=home,
            start_new_session=new_session,
        )
    return Desk(home, process, log_file, tuple(args))


def run_tool(
    home: Path, tool: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """One of our installed commands (`contracts`, `contract-desk`, …) in the desk's user
    folders, with no CONTRACTS_* variables."""
    return run_in(home, [str(Path(sys.executable).parent / tool), *args], timeout)


def run_in(home: Path, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`command` to its end in the user folders under `home` (see `desk_env`)."""
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=desk_env(home),
        cwd=home,
        timeout=timeout,
        check=False,
    )


def until(ready: Callable[[], bool], timeout: float, what: str, desk: Desk | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if desk is not None and desk.process.poll() is not None and not ready():
            raise AssertionError(
                f"the desk ended ({desk.process.returncode}) before {what}:\n{desk.log[-4000:]}"
            )
        if time.monotonic() > deadline:
            log = desk.log[-4000:] if desk is not None else ""
            raise AssertionError(f"no {what} after {timeout} s\n{log}")
        time.sleep(0.2)


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_of(int(entry.name)) == pid:
            found.append(int(entry.name))
    return found


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "


def parent_of(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def gone(pid: int, seconds: float = 15.0) -> bool:
    """Whether `pid` ends (or is only a zombie) within `seconds`."""
    deadline = time.monotonic() + seconds
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
