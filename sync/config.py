"""Where the `contracts` CLI finds its server and key, and how `contracts login` keeps them.

Resolution, first found wins:
- URL: `--api-url`, `$CONTRACTS_API_URL`, `api_url` in the config file;
- key: `--api-key`, `$CONTRACTS_API_KEY`, the stored login for that URL, `api_key` in the
  config file (allowed, but `login` never writes it there);
- with none of those URLs: the desktop app's embedded server while it runs, with the key
  the desk keeps for it (`sync.discovery`).

The config file is `config.toml` in `platformdirs.user_config_dir("contract-desk")`. A login
keeps the key in the OS keyring (service "contract-desk", user = the URL). Where no usable
keyring backend exists (headless machines, containers) the key goes to `credentials.json`
in the user data directory, created with mode 0600 so only the user can read it.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
from platformdirs import user_config_dir, user_data_dir, user_log_dir

from sync import discovery

APP_NAME = "contract-desk"
KEYRING_SERVICE = "contract-desk"
ENV_URL = "CONTRACTS_API_URL"
ENV_KEY = "CONTRACTS_API_KEY"
CONFIG_FILE = "config.toml"
CREDENTIALS_FILE = "credentials.json"


class ConfigError(Exception):
    """The CLI is not configured well enough to run (a usage error: exit 2)."""


def config_path() -> Path:
    return Path(user_config_dir(APP_NAME)) / CONFIG_FILE


def credentials_path() -> Path:
    return Path(user_data_dir(APP_NAME)) / CREDENTIALS_FILE


def log_dir() -> Path:
    return Path(user_log_dir(APP_NAME))


@dataclass(frozen=True, slots=True)
class Settings:
    api_url: str
    api_key: str
    key_source: str  # "option", "environment", "keyring", "file", "config" or "desktop"


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """The config file's top-level values; a missing file is empty, a broken one an error."""
    path = path or config_path()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None


def resolve(
    api_url: str | None, api_key: str | None, env: Mapping[str, str] | None = None
) -> Settings:
    """The URL and key to use (see the module docstring for the order)."""
    env = os.environ if env is None else env
    file = read_config_file()
    url = api_url or env.get(ENV_URL) or _text(file.get("api_url"))
    desk = None if url else discovery.find()
    if desk is not None:
        url = desk.url
    if not url:
        raise ConfigError(
            "no server configured: pass --api-url, set CONTRACTS_API_URL, run 'contracts login'"
            " or start the desktop app (contract-desk)"
        )
    url = normalize_url(url)
    for source, key in (
        ("option", api_key),
        ("environment", env.get(ENV_KEY)),
        *stored_key(url),
        ("config", _text(file.get("api_key"))),
        *([] if desk is None else desk_key(desk)),
    ):
        if key:
            return Settings(url, key, source)
    raise ConfigError(
        f"no API key for {url}: pass --api-key, set CONTRACTS_API_KEY or run 'contracts login'"
    )


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"the API URL must start with http:// or https://, got {url!r}")
    return url


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# login storage --------------------------------------------------------------------------


def stored_key(url: str) -> list[tuple[str, str | None]]:
    """The key a login stored for `url`: from the keyring, else from the credentials file."""
    return [("keyring", _keyring_get(url)), ("file", _file_keys().get(url))]


def desk_key(desk: discovery.EmbeddedServerRef) -> list[tuple[str, str | None]]:
    """The running desk's key for its embedded server, where its reference points."""
    kept = None if desk.credentials is None else _file_keys(Path(desk.credentials))
    return [("desktop", _keyring_get(desk.account)), ("desktop", (kept or {}).get(desk.account))]


def store_login(url: str, key: str) -> str:
    """Keep `key` for `url` (keyring, else the 0600 file) and `url` in the config file.

    Answers where the key went: "keyring" or the credentials file's path.
    """
    url = normalize_url(url)
    where = "keyring" if _keyring_set(url, key) else str(_file_store(url, key))
    write_config_value("api_url", url)
    return where


def _keyring_usable() -> bool:
    backend = keyring.get_keyring()
    priority = getattr(backend, "priority", 0)
    return bool(priority) and priority > 0 and "fail" not in type(backend).__module__


def _keyring_get(url: str) -> str | None:
    if not _keyring_usable():
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, url)
    except keyring.errors.KeyringError:
        return None


def _keyring_set(url: str, key: str) -> bool:
    if not _keyring_usable():
        return False
    try:
        keyring.set_password(KEYRING_SERVICE, url, key)
    except keyring.errors.KeyringError:
        return False
    return True


def _file_keys(path: Path | None = None) -> dict[str, str]:
    try:
        data = json.loads((path or credentials_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _file_store(url: str, key: str) -> Path:
    """Write the credentials file with mode 0600 from its creation (never world-readable)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = _file_keys()
    keys[url] = key
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(keys, out, indent=2)
    os.chmod(temporary, 0o600)  # in case a umask or ACL widened it
    temporary.replace(path)
    return path


def write_config_value(name: str, value: str) -> Path:
    """Set one top-level string value in the config file, keeping every other line."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"{name} = {json.dumps(value)}"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
    first_table = next((i for i, text in enumerate(lines) if text.lstrip().startswith("[")), None)
    top = lines if first_table is None else lines[:first_table]
    rest = [] if first_table is None else lines[first_table:]
    kept = [text for text in top if not pattern.match(text)]
    path.write_text("\n".join([*kept, line, *rest]) + "\n", encoding="utf-8")
    return path
