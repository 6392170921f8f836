"""Applying the server's events to the replica's rows, one page per transaction.

Everything here is synchronous SQLAlchemy over the caller's `Connection` (run it with
`Store.run_write`). A page is applied in ONE transaction: the event rows, what they change
in contracts, tasks and questions, and the cursor's `last_seq` commit together, so a crash
leaves either all of a page or none of it.

Exactly once: an event with `seq <= cursor.last_seq` has been applied (its page committed
with the cursor) and is skipped; the events table is keyed by `seq` as a second guard.
Applying the same events twice therefore changes nothing.

The traps:
- Rows are folded from the events (`core.projection.contract_after`): each event is stamped
  with the version and `updatedAt` its use case produced, so the row becomes the server's
  without a round trip. Only a gap needs `GET /contracts?updatedSince=`: an unstamped event
  (an older server), a type the fold does not reproduce, a version that skips a change, a
  contract the replica does not hold. `cursor.refresh_since` remembers the oldest gap not
  yet repaired, so a crash loses no refresh.
- A refresh can bring a row NEWER than the events still to be applied. An event older than
  the row (a lower stamped version) is then not applied to it (it would move it back).
- Tasks and questions reference their contract: rows of contracts the replica does not hold
  are not written (a `contract_created` adds a placeholder row, version 0, until the refresh
  brings the real one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from core.contract_change import waiting_reason
from core.events import EventType, LoggedEvent
from core.model import (
    Contract,
    Question,
    QuestionType,
)
from core.phases import ContractType
from core.projection import contract_after, folds_exactly
from core.status import ContractStatus, WaitingFor
from core.store.rows import contract_from_row, contract_values
from core.store.schema import contracts, events, questions
from sync.replica_bulk import insert_rows, update_rows
from sync.replica_history import HistoryFold, write_rows
from sync.replica_schema import CURSOR_ID, sync_cursor

E = EventType
_UPDATABLE_SET = frozenset(
    c.name for c in contracts.c if c.name not in ("id", "owner", "created_at")
)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the replica stands (the `sync_cursor` row)."""

    server_url: str | None
    last_seq: int
    snapshot_at: datetime | None
    refresh_since: datetime | None


def read_cursor(conn: Connection) -> Cursor:
    row = conn.execute(select(sync_cursor).where(sync_cursor.c.id == CURSOR_ID)).mappings().one()
    return Cursor(row["server_url"], row["last_seq"], row["snapshot_at"], row["refresh_since"])


def write_cursor(conn: Connection, **values: Any) -> None:
    conn.execute(update(sync_cursor).where(sync_cursor.c.id == CURSOR_ID).values(**values))


@dataclass(frozen=True, slots=True)
class PageResult:
    """What applying one page did."""

    applied: int  # events new to the replica
    last_seq: int  # the cursor after the page
    changed: frozenset[str]  # contracts whose rows (or tasks, questions, events) changed
    gaps: bool = False  # some row may differ from the server's: a refresh repairs it
    fresh: tuple[LoggedEvent, ...] = ()  # the events new to the replica, in seq order


def apply_page(conn: Connection, page: Sequence[LoggedEvent], owner: str) -> PageResult:
    """Apply the events of `page` not applied yet, in seq order, with the cursor."""
    cursor = read_cursor(conn)
    new = _new_events(page, cursor.last_seq)
    if not new:
        return PageResult(0, cursor.last_seq, frozenset())
    store_events(conn, new, owner)
    fold = HistoryFold()
    fold.add_all(new)
    held, changed, gaps = _apply_to_contracts(conn, new, owner, fold)
    write_rows(conn, fold, present=set(held))
    _settle_waiting(conn, [held[cid] for cid in changed])
    since = min((e.at for e in gaps), default=None)
    if cursor.refresh_since is not None and (since is None or cursor.refresh_since < since):
        since = cursor.refresh_since
    last = new[-1].seq or cursor.last_seq
    write_cursor(conn, last_seq=last, refresh_since=since)
    touched = frozenset(e.contract_id for e in new)
    return PageResult(len(new), last, touched, bool(gaps), tuple(new))


def _new_events(page: Sequence[LoggedEvent], last_seq: int) -> list[LoggedEvent]:
    unique = {e.seq: e for e in page if e.seq is not None and e.seq > last_seq}
    return [unique[seq] for seq in sorted(unique)]


def store_events(conn: Connection, page: Sequence[LoggedEvent], owner: str) -> None:
    """Insert event rows (an existing seq is left alone); `owner` is the replica's."""
    rows = [
        {
            "seq": e.seq,
            "at": e.at,
            "type": e.type.value,
            "contract_id": e.contract_id,
            "owner": owner,
            "actor_owner": e.actor.owner,
            "actor_role": e.actor.role.value,
            "actor_user": e.actor.user,
            "payload": e.payload,
        }
        for e in page
    ]
    insert_rows(conn, events, rows)


# --- contracts ---------------------------------------------------------------------------


def _apply_to_contracts(
    conn: Connection, new: Sequence[LoggedEvent], owner: str, fold: HistoryFold
) -> tuple[dict[str, Contract], set[str], list[LoggedEvent]]:
    """Fold the page's events into the contract rows; returns the page's contracts the
    replica now holds (as they now are), the ids of those whose rows were written, and the
    events the fold could not reproduce exactly (`core.projection.folds_exactly`)."""
    ids = {e.contract_id for e in new}
    loaded = _load_contracts(conn, ids)
    deleted: set[str] = set()
    created: list[Contract] = []
    current: dict[str, Contract] = dict(loaded)
    gaps: list[LoggedEvent] = []
    for event in new:
        cid = event.contract_id
        if event.type is not E.CONTRACT_DELETED and not folds_exactly(current.get(cid), event):
            gaps.append(event)
        if event.type is E.CONTRACT_DELETED:
            deleted.add(cid)
            current.pop(cid, None)
        elif event.type is E.CONTRACT_CREATED and cid not in current:
            placeholder = _placeholder(event, owner)
            if placeholder is not None:
                created.append(placeholder)
                current[cid] = placeholder
        elif cid in current:
            current[cid] = contract_after(current[cid], event)
    _write_contracts(conn, loaded, current, created, deleted)
    fold.forget(deleted)
    written = {cid for cid in current if cid not in loaded or current[cid] != loaded[cid]}
    return current, written, gaps


def _load_contracts(conn: Connection, ids: Iterable[str]) -> dict[str, Contract]:
    wanted = list(ids)
    found: dict[str, Contract] = {}
    for start in range(0, len(wanted), 500):
        query = select(contracts).where(contracts.c.id.in_(wanted[start : start + 500]))
        for row in conn.execute(query).mappings():
            found[row["id"]] = contract_from_row(row)
    return found


def _write_contracts(
    conn: Connection,
    loaded: Mapping[str, Contract],
    current: Mapping[str, Contract],
    created: Sequence[Contract],
    deleted: set[str],
) -> None:
    if deleted:
        conn.execute(contracts.delete().where(contracts.c.id.in_(sorted(deleted))))
    fresh = [contract_values(c) for c in created if c.id in current and c.id not in deleted]
    insert_rows(conn, contracts, fresh)
    # One UPDATE per set of changed columns: most pages only move `last_activity_at`.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for cid, contract in current.items():
        if cid in loaded and contract != loaded[cid] and cid not in deleted:
            diff = _diff(contract_values(loaded[cid]), contract_values(contract))
            groups.setdefault(tuple(diff), []).append({"id": cid, **diff})
    for rows in groups.values():
        update_rows(conn, contracts, rows)


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in after.items() if k in _UPDATABLE_SET and before.get(k) != v}


def _placeholder(event: LoggedEvent, owner: str) -> Contract | None:
    """A stand-in row for a contract known only from its `contract_created` event."""
    p = event.payload
    try:
        kind = ContractType(p.get("contract_type", ""))
        status = ContractStatus(p.get("status", ContractStatus.CREATED.value))
    except ValueError:
        return None
    if kind is ContractType.CUSTOM:
        return None  # its phase config is not in the event: wait for the refresh
    at = event.at
    return Contract(
        id=event.contract_id,
        owner=owner,
        name=str(p.get("name", "")),
        contract_type=kind,
        phase=str(p.get("phase", "")),
        status=status,
        created_at=at,
        updated_at=at,
        status_changed_at=at,
        last_activity_at=at,
        version=0,  # any real copy from the server wins
    )


def _settle_waiting(conn: Connection, changed: Sequence[Contract]) -> None:
    """`waitingFor` of waiting contracts, by the server's rule, once the page's questions
    are written (a `status_changed` to waiting comes before the question that caused it)."""
    waiting = [c for c in changed if c.status is ContractStatus.WAITING_FOR_INPUT]
    if not waiting:
        return
    pending = _with_pending_questions(conn, [c.id for c in waiting])
    fixes = []
    for contract in waiting:
        reason = _reason(contract, contract.id in pending)
        if reason is not None and reason is not contract.waiting_for:
            fixes.append({"_id": contract.id, "waiting_for": reason.value})
    if fixes:
        statement = update(contracts).where(contracts.c.id == bindparam("_id"))
        conn.execute(statement.values(waiting_for=bindparam("waiting_for")), fixes)


def _reason(contract: Contract, has_pending: bool) -> WaitingFor | None:
    marker = _PENDING_MARKER if has_pending else ()
    return waiting_reason(contract, marker)


def _with_pending_questions(conn: Connection, ids: Sequence[str]) -> set[str]:
    query = (
        select(questions.c.contract_id, func.count())
        .where(questions.c.contract_id.in_(ids), questions.c.status == "pending")
        .group_by(questions.c.contract_id)
    )
    return {cid for cid, _ in conn.execute(query)}


# `waiting_reason` only asks whether any question is pending: one pending stand-in says yes.
_PENDING_MARKER = (
    Question("", "", "", "", QuestionType.FREE_TEXT, datetime.min.replace(tzinfo=UTC)),
)
