"""The inbox marks table: who snoozed or claimed which item of which owner.

Plain reads and writes inside the caller's transaction; what a mark means (does the snooze
still hold, has the claim lapsed) is `core.inbox`'s rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from core.events import EventType
from core.inbox import InboxMark, marks_from_events
from core.store.rows import event_from_row
from core.store.schema import events, inbox_marks
from core.store.unit_of_work import dialect_insert

_COLUMNS = (
    "snoozed_until",
    "snoozed_by",
    "snoozed_revision",
    "claimed_by",
    "claimed_at",
    "claim_expired_at",
    "escalated_at",
)


def _mark(row: RowMapping) -> InboxMark:
    return InboxMark(
        item_id=row["item_id"],
        owner=row["owner"],
        contract_id=row["contract_id"],
        snoozed_until=row["snoozed_until"],
        snoozed_by=row["snoozed_by"],
        snoozed_revision=row["snoozed_revision"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        claim_expired_at=row["claim_expired_at"],
        escalated_at=row["escalated_at"],
    )


def _values(mark: InboxMark) -> dict[str, Any]:
    return {
        "item_id": mark.item_id,
        "owner": mark.owner,
        "contract_id": mark.contract_id,
        **{name: getattr(mark, name) for name in _COLUMNS},
    }


def marks_of(conn: Connection, owner: str) -> dict[str, InboxMark]:
    """The owner's marks by item id."""
    rows = conn.execute(select(inbox_marks).where(inbox_marks.c.owner == owner)).mappings()
    return {row["item_id"]: _mark(row) for row in rows}


def mark_of(conn: Connection, owner: str, item_id: str) -> InboxMark | None:
    query = select(inbox_marks).where(
        inbox_marks.c.owner == owner, inbox_marks.c.item_id == item_id
    )
    row = conn.execute(query).mappings().first()
    return None if row is None else _mark(row)


def put_mark(conn: Connection, dialect: str, mark: InboxMark) -> None:
    """Insert or replace the mark; a mark with nothing left to keep is deleted."""
    if mark.is_empty:
        conn.execute(
            inbox_marks.delete().where(
                inbox_marks.c.owner == mark.owner, inbox_marks.c.item_id == mark.item_id
            )
        )
        return
    statement = dialect_insert(dialect)(inbox_marks).values(_values(mark))
    statement = statement.on_conflict_do_update(
        index_elements=[inbox_marks.c.item_id, inbox_marks.c.owner],
        set_={name: statement.excluded[name] for name in _COLUMNS},
    )
    conn.execute(statement)


def marks_of_contract(conn: Connection, owner: str, contract_id: str) -> dict[str, InboxMark]:
    query = select(inbox_marks).where(
        inbox_marks.c.owner == owner, inbox_marks.c.contract_id == contract_id
    )
    return {row["item_id"]: _mark(row) for row in conn.execute(query).mappings()}


def claimed_before(conn: Connection, cutoff: datetime) -> Sequence[InboxMark]:
    """Claims taken before `cutoff` whose expiry was not announced (sweep candidates)."""
    c = inbox_marks.c
    query = select(inbox_marks).where(
        c.claimed_at.is_not(None), c.claimed_at <= cutoff, c.claim_expired_at.is_(None)
    )
    return [_mark(row) for row in conn.execute(query).mappings()]


# The events that leave marks (core.inbox.marks_from_events).
MARK_EVENTS = [
    t.value
    for t in (
        EventType.INBOX_SNOOZED,
        EventType.INBOX_UNSNOOZED,
        EventType.INBOX_CLAIMED,
        EventType.INBOX_UNCLAIMED,
        EventType.INBOX_CLAIM_EXPIRED,
        EventType.INBOX_ESCALATED,
    )
]


def marks_from_log(conn: Connection) -> dict[str, InboxMark]:
    """The marks folded from the event log (a replica's: it holds the log, not the table)."""
    query = select(events).where(events.c.type.in_(MARK_EVENTS)).order_by(events.c.seq)
    return marks_from_events(event_from_row(row) for row in conn.execute(query).mappings())
