"""The snapshot's fast path: the event log from wire JSON straight into rows.

A first sync stores ~100,000 events. Through the typed path (wire → `LoggedEvent` →
SQLAlchemy row with type processing) each event costs ~60 µs, six seconds in all; here an
event costs a few µs: its time is reformatted as text (SQLite keeps `UtcDateTime` as
`YYYY-MM-DD HH:MM:SS.ffffff`), its payload dumped with orjson, and the page inserted with
one `executemany` of the driver. Only events that make tasks or questions are turned into
(light) event objects, for `HistoryFold`.

The trap: this must store exactly what `core.store.event_log.row_values` stores, so that
`event_from_row` reads the same event back; `tests/sync/test_replica_bulk.py` checks the two
paths against each other. Anything unusual (a time not in the API's `…T…Z` form) goes
through the slow, exact path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table

from core.actors import Actor, Role
from core.clock import parse_iso, utc
from core.events import EventType, LoggedEvent
from core.phases import ContractType
from core.status import ContractStatus, WaitingFor
from core.wire import EVENT_ENVELOPE

_INSERT = (
    "INSERT OR IGNORE INTO events "
    "(seq, at, type, contract_id, owner, actor_owner, actor_role, actor_user, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_FOLDED = frozenset(
    {
        EventType.TASK_CREATED.value,
        EventType.TASK_UPDATED.value,
        EventType.TASK_COMPLETED.value,
        EventType.TASK_RETRIED.value,
        EventType.QUESTION_ASKED.value,
        EventType.QUESTION_ANSWERED.value,
        EventType.QUESTION_TIMED_OUT.value,
    }
)
_WIRE_TIME_LENGTH = len("2026-01-01T00:00:00.000Z")
# Lookups by value without the enum call's overhead (a KeyError for unknown values, as the
# enum call would raise ValueError: either way the page is refused).
_TYPES = {t.value: t for t in EventType}
_ROLES = {r.value: r for r in Role}
_STATUSES = {s.value: s for s in ContractStatus}


def sqlite_time(text: str) -> str:
    """An API time (`2026-01-01T12:00:00.123Z`) as SQLite's DATETIME text."""
    if len(text) == _WIRE_TIME_LENGTH and text[10] == "T" and text[-1] == "Z":
        return f"{text[:10]} {text[11:23]}000"
    return parse_iso(text).strftime("%Y-%m-%d %H:%M:%S.%f")


def wire_time(text: str) -> datetime:
    """An API time as an aware UTC datetime (the fast form of `parse_iso`)."""
    if len(text) == _WIRE_TIME_LENGTH and text[-1] == "Z":
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return parse_iso(text)


@dataclass(frozen=True, slots=True)
class WireEvent:
    """The fields of an event `HistoryFold` reads (a light `LoggedEvent`)."""

    seq: int
    at: datetime
    type: EventType
    contract_id: str
    actor: Actor
    payload: Mapping[str, Any]


def convert_page(
    page: Iterable[Mapping[str, Any]], owner: str
) -> tuple[list[tuple[Any, ...]], list[WireEvent]]:
    """One pass over a page of wire events: their events rows (transient events, without a
    seq, are skipped) and the light events `HistoryFold` needs."""
    rows: list[tuple[Any, ...]] = []
    folded: list[WireEvent] = []
    for wire in page:
        seq = wire.get("seq")
        if not isinstance(seq, int):
            continue
        actor = wire.get("actor") or {}
        kind = _TYPES[wire["type"]]
        role = _ROLES[actor.get("role", "system")]
        actor_owner = actor.get("owner", "system")
        payload = {k: v for k, v in wire.items() if k not in EVENT_ENVELOPE}
        at = wire["at"]
        rows.append(
            (
                seq,
                sqlite_time(at),
                kind.value,
                wire["contract_id"],
                owner,
                actor_owner,
                role.value,
                actor.get("user"),
                orjson.dumps(payload).decode(),
            )
        )
        if kind.value in _FOLDED:
            folded.append(
                WireEvent(
                    seq,
                    wire_time(at),
                    kind,
                    wire["contract_id"],
                    Actor(actor_owner, role, actor.get("user")),
                    payload,
                )
            )
    return rows, folded


def logged_events(page: Iterable[Mapping[str, Any]]) -> list[LoggedEvent]:
    """Wire events as LoggedEvents, without `event_from_wire`'s per-field checks (the page
    came from our own server; a malformed event still raises KeyError or ValueError)."""
    found = []
    for wire in page:
        seq = wire.get("seq")
        if not isinstance(seq, int):
            continue
        actor = wire.get("actor") or {}
        found.append(
            LoggedEvent(
                seq,
                wire_time(wire["at"]),
                _TYPES[wire["type"]],
                wire["contract_id"],
                Actor(
                    actor.get("owner", "system"),
                    _ROLES[actor.get("role", "system")],
                    actor.get("user"),
                ),
                {k: v for k, v in wire.items() if k not in EVENT_ENVELOPE},
            )
        )
    return found


def store_event_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows from `convert_page` (a seq already stored is left alone)."""
    if rows:
        conn.exec_driver_sql(_INSERT, list(rows))


# --- contracts, tasks and questions as driver rows ---------------------------------------


def contract_values_from_wire(wire: Mapping[str, Any], owner: str) -> dict[str, Any] | None:
    """The contracts row of a wire Contract, as `contract_values(contract_from_wire(wire))`
    would give it; None for what this fast path does not handle (custom phase configs)."""
    if wire.get("phaseConfig"):
        return None
    pending = wire.get("pendingPhase")
    updated = wire_time(wire["updatedAt"])
    request = wire.get("pendingConfirmation") or {}
    requested = request.get("requestedAt")
    return {
        "id": wire["id"],
        "owner": owner,
        "name": wire["name"],
        "description": wire.get("description"),
        "contract_type": ContractType(wire["contractType"]).value,
        "phase_config": None,
        "phase": wire["phase"],
        "status": _STATUSES[wire["status"]].value,
        "phase_guard": bool(wire.get("phaseGuard", True)),
        "auto_complete_enabled": bool(wire.get("autoCompleteEnabled", True)),
        "version": int(wire["version"]),
        "completed_deliverables": {
            k: list(v) for k, v in (wire.get("completedDeliverables") or {}).items()
        },
        "waiting_for": WaitingFor(wire["waitingFor"]).value if wire.get("waitingFor") else None,
        "blocked_reason": wire.get("blockedReason"),
        "failure_reason": wire.get("failureReason"),
        "supervisor_task_id": wire.get("supervisorTaskId"),
        "deliverable_notes": wire.get("deliverableNotes") or None,
        "pending_phase": pending or None,
        "pending_transition_id": request.get("transitionId", "") if pending else None,
        "pending_requested_at": (wire_time(requested) if requested else updated)
        if pending
        else None,
        "created_at": wire_time(wire["createdAt"]),
        "updated_at": updated,
        "status_changed_at": wire_time(wire["statusChangedAt"]),
        "last_activity_at": wire_time(wire["lastActivityAt"]),
        "completion_detected_at": _opt_time(wire.get("completionDetectedAt")),
        "stale_notified_at": None,
    }


def _opt_time(text: Any) -> datetime | None:
    return None if text is None else wire_time(str(text))


def insert_rows(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, replace: bool = False
) -> None:
    """Insert column dicts (Python values) through the driver in one executemany; an
    existing key is kept (`replace`: overwritten)."""
    if not rows:
        return
    names = [c.name for c in table.c]
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    sql = f"{verb} INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    conn.exec_driver_sql(sql, [tuple(_driver(row.get(n)) for n in names) for row in rows])


def update_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """UPDATE rows by `id` with every other column of the row dicts (all with the same keys),
    in one executemany through the driver."""
    if not rows:
        return
    names = [n for n in rows[0] if n != "id"]
    sql = f"UPDATE {table.name} SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?"
    params = [(*(_driver(row[n]) for n in names), row["id"]) for row in rows]
    conn.exec_driver_sql(sql, params)


def _driver(value: Any) -> Any:
    """A Python value as the SQLite driver stores it for our column types."""
    if isinstance(value, datetime):
        d = value if value.tzinfo is UTC else utc(value)
        return (
            f"{d.year:04d}-{d.month:02d}-{d.day:02d} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond:06d}"
        )
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, Mapping):
        return orjson.dumps(dict(value)).decode()
    if isinstance(value, tuple):
        return orjson.dumps(list(value)).decode()
    return value
