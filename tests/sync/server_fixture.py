"""The sync tests' server process: moved to tests/support/server.py (the one launcher);
these names stay importable from here."""

from __future__ import annotations

from tests.support.keys import create_key_now as _create_key_now
from tests.support.server import (
    CONFIG_TOML,
    SECONDS_CONFIG,
    SERVER_CLI,
    STARTUP_TIMEOUT,
    ServerProcess,
    fast_server,
    free_port,
    fresh_server,
    serving,
    simulating,
    start_server,
    sync_server,
)


def create_key(db_url: str, owner: str, role: str) -> str:
    """A new key on `db_url` (in-process; see tests/support/keys.py)."""
    return _create_key_now(db_url, owner, role)


__all__ = [
    "CONFIG_TOML",
    "SECONDS_CONFIG",
    "SERVER_CLI",
    "STARTUP_TIMEOUT",
    "ServerProcess",
    "create_key",
    "fast_server",
    "free_port",
    "fresh_server",
    "serving",
    "simulating",
    "start_server",
    "sync_server",
]
