"""Which local replica a session opens, and which one `--offline` opens later.

Each server has its own replica file (`DeskPaths.replica_file`): `embedded.db` for the plain
embedded server, `embedded_demo.db` for the demo, one per URL. An online session records the
file it used in `replicas/last-used.json`; `--offline` without `--server`/`--demo` opens that
one, so the history of the last session is what the reviewer finds offline (it used to open
`embedded.db`, empty after a demo session). `--replica PATH` opens any replica by hand.
With nothing recorded, the settings' replica is opened if it exists, else the most recently
changed one (`ReplicaChoice.others` names the rest, for the window to mention).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from desktop.settings import DeskPaths

log = logging.getLogger(__name__)

LAST_USED = "last-used.json"


@dataclass(frozen=True, slots=True)
class ReplicaChoice:
    path: Path
    why: str  # "chosen", "session", "last used", "most recent", "new"
    others: tuple[Path, ...] = ()  # other replicas there were to choose from


class ReplicaNotFound(ValueError):
    """`--replica PATH` names no file."""


def _folder(paths: DeskPaths) -> Path:
    return paths.data / "replicas"


def record_last_used(paths: DeskPaths, replica: Path) -> None:
    """Remember the replica an online session uses (best effort: a read-only data folder
    must not stop the desk)."""
    target = _folder(paths) / LAST_USED
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"replica": str(replica)}), encoding="utf-8")
    except OSError as error:
        log.warning("cannot record the replica in use (%s)", error)


def last_used(paths: DeskPaths) -> Path | None:
    """The replica the last online session used, if it still exists."""
    try:
        raw = json.loads((_folder(paths) / LAST_USED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = Path(str(raw.get("replica", ""))) if isinstance(raw, dict) else None
    return found if found is not None and found.is_file() else None


def existing_replicas(paths: DeskPaths) -> list[Path]:
    """Replica files in the data folder, most recently changed first."""
    folder = _folder(paths)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("*.db") if p.is_file()]
    return sorted(found, key=lambda p: (-p.stat().st_mtime, p.name))


def choose_replica(
    paths: DeskPaths,
    planned: Path,
    *,
    offline: bool,
    explicit: bool,
    chosen: Path | None = None,
) -> ReplicaChoice:
    """The replica to open. `planned`: the file of the server the arguments name;
    `explicit`: --server or --demo was given (then that server's replica it is);
    `chosen`: --replica PATH (offline only)."""
    if chosen is not None:
        if not offline:
            raise ValueError("--replica opens a replica without connecting: add --offline")
        if not chosen.is_file():
            names = ", ".join(str(p) for p in existing_replicas(paths)) or "none"
            raise ReplicaNotFound(f"no replica at {chosen} (replicas here: {names})")
        return ReplicaChoice(chosen, "chosen")
    if not offline:
        record_last_used(paths, planned)
        return ReplicaChoice(planned, "session")
    if explicit:
        return ReplicaChoice(planned, "session")
    recorded = last_used(paths)
    if recorded is not None:
        return ReplicaChoice(recorded, "last used")
    if planned.is_file():
        return ReplicaChoice(planned, "session")
    found = existing_replicas(paths)
    if found:
        return ReplicaChoice(found[0], "most recent", tuple(found[1:]))
    return ReplicaChoice(planned, "new")


def offline_note(choice: ReplicaChoice) -> str | None:
    """What the window says about the replica it opened offline (None: nothing to say)."""
    if choice.others:
        rest = ", ".join(p.name for p in choice.others)
        return (
            f"Offline: showing {choice.path.name}, the most recently changed replica. "
            f"Others: {rest}. Open one with --offline --replica PATH."
        )
    if choice.why == "new":
        return "Offline: no replica synced yet. Connect once to have contracts to show."
    return None
