"""Drafts: what the reviewer typed or picked and has not sent yet.

An answer being typed, the choice picked in a choice question, the feedback or comment of a
phase decision: each is kept per item (`answer_key(question_id)`, `feedback_key(contract_id)`,
`comment_key(contract_id)`), so a live refresh, switching to another item or restarting the
desk never loses it. A draft is dropped once the thing it was for has been sent.

They live in one small JSON file beside the replica (`<replica>.drafts.json`, mode 0600:
the text may be confidential), replaced atomically on every change: a crash leaves the old
file or the new one, never half of one. `Drafts(None)` keeps them in memory only.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def answer_key(question_id: str) -> str:
    return f"answer/{question_id}"


def feedback_key(contract_id: str) -> str:
    return f"feedback/{contract_id}"


def comment_key(contract_id: str) -> str:
    return f"comment/{contract_id}"


def drafts_beside(replica_path: str | Path) -> Path:
    """Where the drafts of a replica are kept: next to it, one file per replica (question
    and contract ids belong to that replica's server)."""
    replica = Path(replica_path)
    return replica.with_name(replica.name + ".drafts.json")


class Drafts:
    """Unsent text per item; every change is written through to `path` (when given)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._texts: dict[str, str] = self._read()

    def get(self, key: str) -> str:
        """The draft for `key` ('' when there is none)."""
        return self._texts.get(key, "")

    def put(self, key: str, text: str) -> None:
        """Keep `text` for `key`; blank text drops the draft."""
        if not text.strip():
            self.drop(key)
            return
        if self._texts.get(key) != text:
            self._texts[key] = text
            self._write()

    def drop(self, key: str) -> None:
        if self._texts.pop(key, None) is not None:
            self._write()

    def keys(self) -> list[str]:
        return sorted(self._texts)

    def _read(self) -> dict[str, str]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # a damaged file costs the drafts, not the app
            log.warning("drafts in %s could not be read (%s): starting without", self.path, error)
            return {}
        if not isinstance(found, dict):
            return {}
        return {str(k): v for k, v in found.items() if isinstance(v, str)}

    def _write(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".drafts-", dir=self.path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
                json.dump(self._texts, out, ensure_ascii=False)
            os.replace(temporary, self.path)
        except OSError as error:  # keep working from memory; the reviewer still has the text
            log.warning("drafts could not be saved to %s: %s", self.path, error)
