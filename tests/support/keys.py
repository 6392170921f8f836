"""API keys made in-process: `server.auth.create_key`, the function `contract-server keys
create` calls, on the test's database. (A `keys create` process per key cost seconds on a
busy machine; tests/server/test_cli.py and tests/sync/test_cli_errors.py run the command.)"""

from __future__ import annotations

from collections.abc import Mapping

from core.actors import Role
from core.clock import SystemClock
from core.store import open_store
from server.auth import create_key
from tests.pg import run_outside_loop

# The keys every test server gets: name -> (owner, role).
STANDARD_KEYS: Mapping[str, tuple[str, str]] = {
    "admin": ("alice", "admin"),
    "reviewer": ("alice", "reviewer"),
    "supervisor": ("alice", "supervisor"),
    "other": ("bob", "reviewer"),
    "other_admin": ("bob", "admin"),
}


async def create_keys_async(
    db_url: str, wanted: Mapping[str, tuple[str, str]] = STANDARD_KEYS
) -> dict[str, str]:
    """One key per entry of `wanted` (name -> (owner, role)), in one transaction."""
    store = await open_store(db_url, migrate=True)
    try:
        async with store.write() as uow:
            now = SystemClock().now()
            return {
                name: await create_key(uow.conn, owner, Role(role), now)
                for name, (owner, role) in wanted.items()
            }
    finally:
        await store.close()


def create_keys(
    db_url: str, wanted: Mapping[str, tuple[str, str]] = STANDARD_KEYS
) -> dict[str, str]:
    """`create_keys_async` from synchronous code (on a private loop in a worker thread, so a
    test's own event loop is never touched)."""
    keys: dict[str, str] = run_outside_loop(create_keys_async(db_url, wanted))
    return keys


def create_key_now(db_url: str, owner: str, role: str) -> str:
    """One key (the plaintext), as `contract-server keys create` prints it."""
    return create_keys(db_url, {"key": (owner, role)})["key"]
