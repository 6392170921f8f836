"""Event pages on SQLite as wire dicts, straight from the driver's rows.

Why: a replica's first sync reads the whole log, a thousand events a page, and per row
SQLAlchemy's result processing (datetime parsing, JSON decoding through type decorators)
plus building a LoggedEvent only to turn it back into a dict cost several times SQLite's
own read. This builds exactly what `LoggedEvent.to_wire()` builds, from the stored text:
SQLAlchemy's SQLite DATETIME keeps `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, so the wire's
`YYYY-MM-DDTHH:MM:SS.mmmZ` is a slice of it. `tests/store/test_sqlite_events.py` checks
the two agree event for event.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

_COLUMNS = "seq, at, type, contract_id, actor_owner, actor_role, actor_user, payload"


def wire_time(stored: str) -> str:
    """`2026-11-26 07:08:09.123456` → `2026-11-26T07:08:09.123Z` (truncated, as iso() does)."""
    if len(stored) == 19:  # no fraction stored
        stored += ".000000"
    return f"{stored[:10]}T{stored[11:23]}Z"


def _wire(row: tuple[Any, ...]) -> dict[str, Any]:
    seq, at, kind, contract_id, actor_owner, actor_role, actor_user, payload = row
    actor = {"owner": actor_owner, "role": actor_role}
    if actor_user is not None:  # as Actor.to_wire writes it
        actor["user"] = actor_user
    wire: dict[str, Any] = {
        "seq": seq,
        "at": wire_time(at),
        "type": kind,
        "contract_id": contract_id,
        "actor": actor,
    }
    if payload:
        wire.update(orjson.loads(payload))
    return wire


def events_after_wire(
    conn: Connection, *, after: int, owner: str | None, contract_id: str | None, limit: int
) -> list[dict[str, Any]]:
    """The wire form of `event_log.events_after` with the same arguments."""
    where: list[str] = ["seq > ?"]
    params: list[Any] = [after]
    if owner is not None:
        where.append("owner = ?")
        params.append(owner)
    if contract_id is not None:
        where.append("contract_id = ?")
        params.append(contract_id)
    sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
    return [_wire(tuple(row)) for row in conn.exec_driver_sql(sql, (*params, limit))]
