"""The feedback thread of a contract, read from the event log; acknowledgements appended.

What a thread is and when an acknowledgement counts is `core.feedback`'s rule; this module
loads the thread's events and appends `feedback_acknowledged` in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from core.actors import Actor
from core.errors import FeedbackNotFound
from core.events import LoggedEvent
from core.feedback import THREAD_EVENTS, AckVia, FeedbackEntry, acknowledgements, feedback_thread
from core.store import event_log
from core.store.engine import Store
from core.store.rows import event_from_row
from core.store.schema import events
from core.store.unit_of_work import ReadUnitOfWork, WriteUnitOfWork

_TYPES = [t.value for t in THREAD_EVENTS]


def thread_of(conn: Connection, contract_id: str) -> list[FeedbackEntry]:
    """The contract's feedback thread (its events of THREAD_EVENTS, in seq order)."""
    query = (
        select(events)
        .where(events.c.contract_id == contract_id, events.c.type.in_(_TYPES))
        .order_by(events.c.seq)
    )
    return feedback_thread(event_from_row(row) for row in conn.execute(query).mappings())


async def feedback_of(store: Store, contract_id: str, owner: str | None) -> list[FeedbackEntry]:
    """The thread of a contract of `owner` (404 CONTRACT_NOT_FOUND otherwise)."""

    def work(uow: ReadUnitOfWork) -> list[FeedbackEntry]:
        uow.contract(contract_id, owner)
        return thread_of(uow.conn, contract_id)

    return await store.run_read(work)


@dataclass(frozen=True, slots=True)
class Acknowledged:
    thread: list[FeedbackEntry]  # after the acknowledgements
    events: list[LoggedEvent]  # the ones appended (none when all were acknowledged already)


async def acknowledge(  # noqa: PLR0917 - one acknowledgement's facts
    store: Store,
    contract_id: str,
    owner: str | None,
    actor: Actor,
    feedback_ids: Sequence[str],
    via: AckVia,
    now: datetime,
    *,
    strict: bool,
) -> Acknowledged:
    """Acknowledge `feedback_ids` of the contract. `strict`: an id not in the thread is
    404 FEEDBACK_NOT_FOUND (the ack route); else it is skipped (a heartbeat never fails on
    an id it repeats after the thread moved on)."""

    def work(uow: WriteUnitOfWork) -> Acknowledged:
        contract = uow.contract(contract_id, owner)
        thread = thread_of(uow.conn, contract_id)
        known = {e.id for e in thread}
        missing = [i for i in feedback_ids if i not in known]
        if strict and missing:
            raise FeedbackNotFound(contract_id, missing[0])
        new = acknowledgements(thread, contract_id, feedback_ids, via)
        logged = event_log.append(
            uow.conn, uow.dialect, new, owner=contract.owner, actor=actor, at=now
        )
        return Acknowledged(thread_of(uow.conn, contract_id) if logged else thread, logged)

    return await store.run_write(work)
