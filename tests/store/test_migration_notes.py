"""Migration 0004: deliverable notes on contracts, up and down, old rows read as no notes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, inspect, text

from core.model import DeliverableNote
from core.store.engine import create_engine_for
from core.store.migrate import current_revision, downgrade, upgrade
from core.store.rows import contract_from_row
from core.store.schema import contracts

T = TypeVar("T")


async def _run(url: str, look: Callable[[Connection], T]) -> T:
    engine, _ = create_engine_for(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


def _columns(conn: Connection) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns("contracts")}


def _insert_old_row(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO contracts (id, owner, name, contract_type, phase, status, phase_guard,"
            " auto_complete_enabled, version, completed_deliverables, created_at, updated_at,"
            " status_changed_at, last_activity_at) VALUES ('c-old', 'alice', 'old', 'simple',"
            " 'plan', 'active', true, true, 1, '{}', :t, :t, :t, :t)"
        ),
        {"t": datetime(2026, 1, 1, tzinfo=UTC)},
    )


def _old_row_notes(conn: Connection) -> Mapping[str, Mapping[str, DeliverableNote]]:
    row = conn.execute(contracts.select().where(contracts.c.id == "c-old")).mappings().one()
    return contract_from_row(row).deliverable_notes


async def test_0004_adds_the_notes_column_and_older_rows_have_none(db_url: str) -> None:
    await upgrade(db_url, "0003_contract_worktrees")
    assert "deliverable_notes" not in await _run(db_url, _columns)
    await _run(db_url, _insert_old_row)
    await upgrade(db_url, "0004_deliverable_notes")
    assert await current_revision(db_url) == "0004_deliverable_notes"
    assert "deliverable_notes" in await _run(db_url, _columns)
    assert await _run(db_url, _old_row_notes) == {}
    await downgrade(db_url, "0003_contract_worktrees")
    assert "deliverable_notes" not in await _run(db_url, _columns)
