"""Heartbeat rows on SQLite, written through the driver's executemany.

Why: at tens of thousands of heartbeats a second, SQLAlchemy's per-row parameter
processing (type decorators, JSON and datetime bind processors) cost more than SQLite's
own work. Here each row is a plain tuple in exactly the storage format SQLAlchemy's SQLite
dialect uses — `YYYY-MM-DD HH:MM:SS.ffffff` in UTC for times, compact JSON text for lists —
so rows written here read back through the normal queries unchanged (tests check this).
PostgreSQL keeps the SQLAlchemy path: asyncpg is already fast there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import orjson
from sqlalchemy import Connection

from core.clock import utc
from core.supervisor import Heartbeat

_HISTORY = (
    "INSERT INTO supervisor_heartbeats (supervisor_task_id, contract_id, state, phase, "
    "current_activity, progress, pending_task_ids, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_LIVENESS = (
    "INSERT INTO supervisor_liveness (contract_id, supervisor_task_id, state, phase, "
    "current_activity, progress, pending_task_ids, last_heartbeat_at, owner, daemon_id, "
    "worktrees) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (contract_id) DO UPDATE SET "
    "supervisor_task_id = excluded.supervisor_task_id, state = excluded.state, "
    "phase = excluded.phase, current_activity = excluded.current_activity, "
    "progress = excluded.progress, pending_task_ids = excluded.pending_task_ids, "
    "last_heartbeat_at = excluded.last_heartbeat_at, owner = excluded.owner, "
    "daemon_id = excluded.daemon_id, worktrees = excluded.worktrees "
    # A late batch must not overwrite a newer heartbeat already recorded; the text
    # format sorts like the times it holds.
    "WHERE supervisor_liveness.last_heartbeat_at <= excluded.last_heartbeat_at"
)


def sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite DATETIME stores it (UTC, microseconds, no zone)."""
    return f"{utc(value):%Y-%m-%d %H:%M:%S.%f}"


def _common(hb: Heartbeat) -> tuple[str, str, str, str, int, str, str]:
    pending = orjson.dumps(list(hb.pending_task_ids)).decode()
    return (
        hb.task_id,
        hb.state.value,
        hb.phase,
        hb.current_activity,
        hb.progress,
        pending,
        sqlite_time(hb.timestamp),
    )


def insert_history(conn: Connection, heartbeats: Sequence[Heartbeat]) -> None:
    rows = []
    for hb in heartbeats:
        task_id, state, phase, activity, progress, pending, at = _common(hb)
        rows.append((task_id, hb.contract_id, state, phase, activity, progress, pending, at))
    conn.exec_driver_sql(_HISTORY, rows)


def upsert_liveness(
    conn: Connection, latest: Sequence[Heartbeat], owners: Mapping[str, str]
) -> None:
    conn.exec_driver_sql(
        _LIVENESS,
        [
            (
                hb.contract_id,
                *_common(hb),
                owners[hb.contract_id],
                hb.daemon_id,
                orjson.dumps(list(hb.worktrees or ())).decode(),
            )
            for hb in latest
        ],
    )
