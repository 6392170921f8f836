"""The durable event log: append in the change's transaction, read by `seq`.

`seq` is allocated here as `max(seq) + 1` while holding the database's write serialization,
so it is gap-free (a rolled-back transaction consumes nothing, unlike a sequence) and
strictly increasing in commit order:

- SQLite: a write transaction starts with `BEGIN IMMEDIATE`, so there is one writer at a time.
- PostgreSQL: `pg_advisory_xact_lock(EVENT_LOG_LOCK)` is taken right before the append and
  released only at commit. A transaction that allocated seq N therefore commits before any
  other can read `max(seq)` and allocate N+1, and a reader paging with `after=N` can never
  see N+1 while N is still invisible (a sequence could hand out N+1 to a transaction that
  commits first). Appending is the last step of a write, after its row locks, so the global
  lock is held only for the insert and the commit and cannot deadlock with row locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text

from core.actors import Actor
from core.events import LoggedEvent, NewEvent
from core.store.rows import event_from_row
from core.store.schema import events

# Any fixed 64-bit key works as long as every process appending events uses the same one.
EVENT_LOG_LOCK = 0x436F_6E74_7261_6374  # "Contract" in ASCII
_TAKE_LOG_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_INSERT = insert(events)
_MAX_SEQ = select(func.max(events.c.seq))
_VALUE_COLUMNS = [c for c in events.c if c.name != "seq"]
_INSERT_NEXT = (
    insert(events)
    .from_select(
        ["seq", *(c.name for c in _VALUE_COLUMNS)],
        select(
            func.coalesce(func.max(events.c.seq), 0) + 1,
            *(bindparam(c.name, type_=c.type) for c in _VALUE_COLUMNS),
        ),
    )
    .returning(events.c.seq)
)


def append(
    conn: Connection,
    dialect: str,
    new_events: Sequence[NewEvent],
    *,
    owner: str,
    actor: Actor,
    at: datetime,
) -> list[LoggedEvent]:
    """Append `new_events` (in order) inside the caller's write transaction.

    `owner` is the contract's owner (the reader scope), `actor` who caused the events.
    """
    if not new_events:
        return []
    if dialect == "postgresql":
        conn.execute(_TAKE_LOG_LOCK, {"key": EVENT_LOG_LOCK})
    if len(new_events) == 1:
        return [_append_one(conn, new_events[0], owner, actor, at)]
    first = last_seq(conn) + 1
    logged = [
        LoggedEvent(first + i, at, e.type, e.contract_id, actor, dict(e.payload), owner)
        for i, e in enumerate(new_events)
    ]
    conn.execute(_INSERT, [_values(e, owner) for e in logged])
    return logged


def _append_one(
    conn: Connection, new: NewEvent, owner: str, actor: Actor, at: datetime
) -> LoggedEvent:
    # The common case in one statement: seq = max + 1 computed by the INSERT itself.
    event = LoggedEvent(0, at, new.type, new.contract_id, actor, dict(new.payload), owner)
    seq = conn.execute(_INSERT_NEXT, _values(event, owner)).scalar_one()
    return replace(event, seq=seq)


def row_values(event: LoggedEvent) -> dict[str, Any]:
    """The events row of a logged event (its `owner` must be set)."""
    if event.owner is None:
        raise ValueError(f"event {event.seq} has no owner: cannot store it")
    return _values(event, event.owner)


def _values(event: LoggedEvent, owner: str) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at,
        "type": event.type.value,
        "contract_id": event.contract_id,
        "owner": owner,
        "actor_owner": event.actor.owner,
        "actor_role": event.actor.role.value,
        "actor_user": event.actor.user,
        "payload": event.payload,
    }


def last_seq(conn: Connection, owner: str | None = None) -> int:
    """The highest seq in the log (0 when empty), optionally among one owner's events."""
    query = _MAX_SEQ
    if owner is not None:
        query = query.where(events.c.owner == owner)
    return conn.scalar(query) or 0


def events_after(
    conn: Connection,
    *,
    after: int = 0,
    owner: str | None = None,
    contract_id: str | None = None,
    limit: int = 100,
) -> list[LoggedEvent]:
    """Events with seq > `after`, oldest first, at most `limit`; None filters mean all."""
    query = select(events).where(events.c.seq > after).order_by(events.c.seq).limit(limit)
    if owner is not None:
        query = query.where(events.c.owner == owner)
    if contract_id is not None:
        query = query.where(events.c.contract_id == contract_id)
    rows = conn.execute(query).mappings()
    return [event_from_row(row) for row in rows]


def recent_events(
    conn: Connection, *, owner: str | None = None, limit: int = 20
) -> list[LoggedEvent]:
    """The latest `limit` events, newest first (the dashboard's recent activity)."""
    query = select(events).order_by(events.c.seq.desc()).limit(limit)
    if owner is not None:
        query = query.where(events.c.owner == owner)
    return [event_from_row(row) for row in conn.execute(query).mappings()]
