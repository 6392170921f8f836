"""The desk's settings (a JSON file) and its API keys (the OS keyring, else a 0600 file).

`DeskSettings` is what the settings dialog edits: the server URL (empty: the embedded
server), the stale threshold for alerts and whether notifications are shown. Keys never go
into the settings file: `KeyStore` keeps them in the OS keyring (service "contract-desk",
user = the server URL, or "embedded:<database>" for the embedded server's admin key) and,
where no usable keyring backend exists (headless machines, containers), in
`credentials.json` created with mode 0600 before anything is written to it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
from platformdirs import user_config_dir, user_data_dir

from sync.discovery import ENV_HOME  # one folder for settings and data (tests, portable use)

APP_NAME = "contract-desk"
KEYRING_SERVICE = "contract-desk"
SETTINGS_FILE = "desk-settings.json"
CREDENTIALS_FILE = "desk-credentials.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeskSettings:
    server_url: str = ""  # empty: start and use the embedded server
    stale_threshold_minutes: float = 30.0  # the server's, remembered for offline use
    notifications: bool = True
    demo_supervisors: int = 4

    def with_changes(self, **changes: Any) -> DeskSettings:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class DeskPaths:
    config: Path
    data: Path

    @classmethod
    def default(cls) -> DeskPaths:
        home = os.environ.get(ENV_HOME)
        if home:
            root = Path(home).expanduser()
            return cls(root / "config", root / "data")
        return cls(Path(user_config_dir(APP_NAME)), Path(user_data_dir(APP_NAME)))

    @property
    def settings_file(self) -> Path:
        return self.config / SETTINGS_FILE

    @property
    def credentials_file(self) -> Path:
        return self.data / CREDENTIALS_FILE

    def replica_file(self, server_url: str) -> Path:
        """One replica per server, so switching servers never mixes their rows."""
        name = "".join(ch if ch.isalnum() else "_" for ch in server_url)[:80] or "embedded"
        return self.private_replicas() / f"{name}.db"

    def private_replicas(self) -> Path:
        """The desk's replica folder, user-only (0700) even when an older desk made it
        0755: the replicas hold the owner's contracts, the drafts the reviewer's words."""
        folder = self.data / "replicas"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
        return folder


class SettingsStore:
    def __init__(self, paths: DeskPaths) -> None:
        self.paths = paths

    def load(self) -> DeskSettings:
        try:
            raw = json.loads(self.paths.settings_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return DeskSettings()
        if not isinstance(raw, dict):
            return DeskSettings()
        known = {f.name for f in fields(DeskSettings)}
        values = {k: v for k, v in raw.items() if k in known}
        try:
            return _checked(DeskSettings(**values))
        except (TypeError, ValueError):
            return DeskSettings()

    def save(self, settings: DeskSettings) -> None:
        path = self.paths.settings_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(_checked(settings)), indent=2), encoding="utf-8")


def _checked(settings: DeskSettings) -> DeskSettings:
    minutes = float(settings.stale_threshold_minutes)
    if not minutes > 0:
        raise ValueError("the stale threshold must be positive")
    return replace(
        settings,
        server_url=str(settings.server_url or "").strip().rstrip("/"),
        stale_threshold_minutes=minutes,
        notifications=bool(settings.notifications),
        demo_supervisors=max(1, int(settings.demo_supervisors)),
    )


class KeyStore:
    """API keys by account (a server URL, or "embedded:<db>")."""

    def __init__(self, paths: DeskPaths, *, use_keyring: bool | None = None) -> None:
        self.paths = paths
        self.use_keyring = keyring_usable() if use_keyring is None else use_keyring

    def get(self, account: str) -> str | None:
        if self.use_keyring:
            try:
                found = keyring.get_password(KEYRING_SERVICE, account)
                if found:
                    return found
            except keyring.errors.KeyringError as error:
                log.info("keyring unavailable (%s); using the credentials file", error)
        return self._file().get(account)

    def set(self, account: str, key: str) -> str:
        """Keep `key`; answers where it went: "keyring" or the credentials file's path."""
        if self.use_keyring:
            try:
                keyring.set_password(KEYRING_SERVICE, account, key)
                return "keyring"
            except keyring.errors.KeyringError as error:
                log.info("keyring refused the key (%s); using the credentials file", error)
        keys = self._file()
        keys[account] = key
        self._write_file(keys)
        return str(self.paths.credentials_file)

    def _file(self) -> dict[str, str]:
        try:
            raw = json.loads(self.paths.credentials_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    def _write_file(self, keys: dict[str, str]) -> None:
        path = self.paths.credentials_file
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 before the key is written, and tightened if it existed looser.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(keys, out)


def keyring_usable() -> bool:
    """A real keyring backend (not the 'fail' or a null one) is configured."""
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration must not stop the desk
        return False
    priority = getattr(backend, "priority", 0)
    module = type(backend).__module__
    return bool(priority) and priority > 0 and "fail" not in module and "null" not in module
