"""Alembic: the chain goes up, down and up again, and matches the declared schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from core.store.engine import create_engine_for
from core.store.migrate import current_revision, downgrade, head_revision, upgrade
from core.store.schema import metadata

TABLES = {
    "contracts",
    "contract_worktrees",
    "tasks",
    "questions",
    "events",
    "supervisor_states",
    "supervisor_liveness",
    "supervisor_heartbeats",
    "api_keys",
    "idempotency_records",
    "inbox_marks",
}


async def _inspect(url: str, look: Any) -> Any:
    engine, _ = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _schema_differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


HEAD = "0006_liveness_daemons"


async def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    await upgrade(db_url)
    assert await current_revision(db_url) == head_revision() == HEAD
    assert await _inspect(db_url, _tables) == TABLES
    await downgrade(db_url)
    assert await current_revision(db_url) is None
    assert await _inspect(db_url, _tables) == set()
    await upgrade(db_url)
    assert await _inspect(db_url, _tables) == TABLES


async def test_migrated_schema_matches_the_declared_tables(db_url: str) -> None:
    """A change to schema.py without a migration (or the reverse) fails here."""
    await upgrade(db_url)
    assert await _inspect(db_url, _schema_differences) == []


async def test_upgrade_is_idempotent(db_url: str) -> None:
    await upgrade(db_url)
    await upgrade(db_url)
    assert await current_revision(db_url) == HEAD


async def test_each_revision_steps_down_and_up(db_url: str) -> None:
    """0002 alone: down to 0001 (the liveness owner column goes), back up (it returns)."""
    await upgrade(db_url)
    await downgrade(db_url, "0001_initial")
    assert await current_revision(db_url) == "0001_initial"
    assert "owner" not in await _inspect(db_url, _liveness_columns)
    await upgrade(db_url)
    assert await current_revision(db_url) == HEAD
    assert "owner" in await _inspect(db_url, _liveness_columns)
    assert await _inspect(db_url, _schema_differences) == []


def _liveness_columns(conn: Connection) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns("supervisor_liveness")}
