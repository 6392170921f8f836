"""Heartbeats written through the driver on SQLite are stored exactly as SQLAlchemy would
store them, and read back unchanged through the normal queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from core.clock import ManualClock
from core.store import queries
from core.store.engine import Store, open_store
from core.store.repository import ContractRepository
from core.store.supervision import _INSERT_HEARTBEAT, heartbeat_values
from core.supervisor import Heartbeat, SupervisorState
from tests.store.helpers import started_contract

AT = datetime(2026, 11, 26, 7, 8, 9, 123456, tzinfo=UTC)


def _beat(contract_id: str, task_id: str, **changes: object) -> Heartbeat:
    values: dict[str, object] = {
        "task_id": task_id,
        "contract_id": contract_id,
        "state": SupervisorState.WORKING,
        "phase": "plan",
        "current_activity": "writing «the plan»",
        "progress": 42,
        "pending_task_ids": ("t-1", "t-2"),
        "timestamp": AT,
    }
    values.update(changes)
    return Heartbeat(**values)  # type: ignore[arg-type]


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> Store:
    return await open_store(sqlite_url, migrate=True)


async def test_rows_match_what_sqlalchemy_writes(sqlite_store: Store) -> None:
    clock = ManualClock(AT)
    repo = ContractRepository(sqlite_store, clock)
    cid = await started_contract(repo)
    detail = await queries.get_contract(sqlite_store, cid, None)
    task_id = detail.contract.supervisor_task_id
    assert task_id is not None
    await repo.record_heartbeats([_beat(cid, task_id)], "alice")  # the driver path
    reference = heartbeat_values(_beat(cid, task_id))

    def raw_rows(uow: object) -> list[tuple[object, ...]]:
        conn = uow.conn  # type: ignore[attr-defined]
        conn.execute(_INSERT_HEARTBEAT, [reference])  # the SQLAlchemy path
        query = "SELECT timestamp, pending_task_ids, current_activity FROM supervisor_heartbeats"
        return [tuple(row) for row in conn.execute(text(query + " ORDER BY id"))]

    driver_row, sqlalchemy_row = await sqlite_store.run_write(raw_rows)
    assert driver_row[0] == sqlalchemy_row[0] == "2026-11-26 07:08:09.123456"
    assert [*map(str, driver_row[1:])] == [*map(str, sqlalchemy_row[1:])]
    history = await queries.heartbeat_history(sqlite_store, cid, "alice", limit=10)
    assert [h.timestamp for h in history] == [AT, AT]
    assert {h.pending_task_ids for h in history} == {("t-1", "t-2")}
    await sqlite_store.close()


async def test_a_late_batch_does_not_overwrite_newer_liveness(sqlite_store: Store) -> None:
    clock = ManualClock(AT)
    repo = ContractRepository(sqlite_store, clock)
    cid = await started_contract(repo)
    task_id = (await queries.get_contract(sqlite_store, cid, None)).contract.supervisor_task_id
    assert task_id is not None
    newer = AT.replace(second=30)
    await repo.record_heartbeats([_beat(cid, task_id, timestamp=newer, progress=90)], "alice")
    await repo.record_heartbeats([_beat(cid, task_id, progress=10)], "alice")
    status = await queries.supervisor_status(
        sqlite_store, cid, "alice", now=newer, heartbeat_timeout=timedelta(minutes=2)
    )
    wire = status.to_wire()
    assert wire["progress"] == 90
    assert wire["last_heartbeat"] == "2026-11-26T07:08:30.123Z"
    await sqlite_store.close()
