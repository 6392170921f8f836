"""Migration 0004: a person's name on keys and events, and the inbox marks table; up and down
(SQLite and PostgreSQL), and a key made before it acts as its owner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, inspect, text

from core.store.engine import create_engine_for
from core.store.migrate import current_revision, downgrade, upgrade
from server.auth import KeyRing, hash_key

T = TypeVar("T")
OLD_KEY = "cdk_old-key-made-before-0004"


async def _run(url: str, look: Callable[[Connection], T]) -> T:
    engine, _ = create_engine_for(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


def _layout(conn: Connection) -> tuple[set[str], set[str], bool]:
    found = inspect(conn)
    keys = {c["name"] for c in found.get_columns("api_keys")}
    events = {c["name"] for c in found.get_columns("events")}
    return keys, events, found.has_table("inbox_marks")


def _insert_old_key(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO api_keys (id, owner, role, key_hash, key_prefix, created_at)"
            " VALUES ('k-old', 'alice', 'reviewer', :hash, 'old-key-', :t)"
        ),
        {"hash": hash_key(OLD_KEY), "t": datetime(2026, 1, 1, tzinfo=UTC)},
    )


async def test_0004_adds_names_and_marks_and_steps_down(db_url: str) -> None:
    await upgrade(db_url, "0004_deliverable_notes")
    keys, events, marks = await _run(db_url, _layout)
    assert "user_name" not in keys and "actor_user" not in events and not marks
    await _run(db_url, _insert_old_key)

    await upgrade(db_url, "0005_inbox_actions")

    assert await current_revision(db_url) == "0005_inbox_actions"
    keys, events, marks = await _run(db_url, _layout)
    assert "user_name" in keys and "actor_user" in events and marks
    await downgrade(db_url, "0004_deliverable_notes")
    keys, events, marks = await _run(db_url, _layout)
    assert "user_name" not in keys and "actor_user" not in events and not marks


async def test_a_key_older_than_0004_acts_as_its_owner(db_url: str) -> None:
    await upgrade(db_url, "0004_deliverable_notes")
    await _run(db_url, _insert_old_key)
    await upgrade(db_url)
    engine, _ = create_engine_for(db_url)
    ring = KeyRing(engine)
    try:
        actor = await ring.authenticate(OLD_KEY)
    finally:
        ring.close()
        await engine.dispose()
    assert (actor.owner, actor.user, actor.name) == ("alice", None, "alice")
