"""How the `contracts` CLI finds the desktop's embedded server without any flags.

While its embedded server runs, the desk keeps `embedded-server.json` in its data folder
(the user data folder, or `$CONTRACT_DESK_HOME/data`), created with mode 0600:

    {"url": "http://127.0.0.1:41234", "pid": 4242, "account": "embedded:/…/demo.db",
     "credentials": "/…/desk-credentials.json"}

It holds no key, only where the key is: the OS keyring entry `account` of the service
"contract-desk", else that account in the desk's 0600 `credentials` file. The desk removes
the file when it quits; a file left by a desk that was killed is ignored, because its
`pid` is no longer running.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from platformdirs import user_data_dir

APP_NAME = "contract-desk"
ENV_HOME = "CONTRACT_DESK_HOME"  # the desk's one-folder mode (desktop.settings reads it too)
FILE_NAME = "embedded-server.json"


@dataclass(frozen=True, slots=True)
class EmbeddedServerRef:
    url: str
    pid: int
    account: str
    credentials: str | None = None


def desk_data_dir() -> Path:
    home = os.environ.get(ENV_HOME)
    if home:
        return Path(home).expanduser() / "data"
    return Path(user_data_dir(APP_NAME))


def reference_path(data_dir: Path | None = None) -> Path:
    return (data_dir or desk_data_dir()) / FILE_NAME


def publish(ref: EmbeddedServerRef, data_dir: Path) -> Path:
    """Write the reference, user-only from its creation, replacing any older one."""
    path = reference_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(asdict(ref), out)
    temporary.replace(path)
    return path


def withdraw(data_dir: Path, pid: int) -> None:
    """Remove the reference if it is still ours (another desk may have taken over)."""
    found = read(reference_path(data_dir))
    if found is not None and found.pid == pid:
        reference_path(data_dir).unlink(missing_ok=True)


def find(data_dir: Path | None = None) -> EmbeddedServerRef | None:
    """The running desk's embedded server, or None (no file, or its desk has ended)."""
    found = read(reference_path(data_dir))
    return found if found is not None and pid_alive(found.pid) else None


def read(path: Path) -> EmbeddedServerRef | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        ref = EmbeddedServerRef(
            url=str(raw["url"]),
            pid=int(raw["pid"]),
            account=str(raw["account"]),
            credentials=None if raw.get("credentials") is None else str(raw["credentials"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return ref


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, but not our desk
        return False
    return True
