"""Reads: each function is one read transaction on the store, scoped to an owner.

`owner=None` means every owner (background services, admin tooling); routes always pass the
key's owner, so another owner's contract reads as missing (`ContractNotFound`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select

from core.attention import waiting_on_reviewer
from core.clock import iso
from core.errors import SupervisorNotFound
from core.events import EventType, LoggedEvent
from core.model import Contract, Question, QuestionStatus, Task
from core.status import ContractStatus
from core.store import event_log, feedback_log, predicates, sqlite_events
from core.store.engine import Store
from core.store.rows import contract_from_row, question_from_row, task_from_row
from core.store.schema import (
    contracts,
    events,
    questions,
    supervisor_heartbeats,
    supervisor_liveness,
    tasks,
)
from core.store.supervision import saved_state
from core.store.unit_of_work import ReadUnitOfWork
from core.supervisor import Heartbeat, SupervisorState, is_alive

MAX_LIMIT = 1000


def clamp_limit(limit: int) -> int:
    """API.md: lists take at most 1000 items; anything below 1 means 1."""
    return max(1, min(limit, MAX_LIMIT))


@dataclass(frozen=True, slots=True)
class ContractDetail:
    contract: Contract
    tasks: tuple[Task, ...]
    pending_questions: tuple[Question, ...]


async def get_contract(store: Store, contract_id: str, owner: str | None) -> ContractDetail:
    """The contract with its tasks (oldest first) and pending questions (oldest first)."""

    def work(uow: ReadUnitOfWork) -> ContractDetail:
        contract = uow.contract(contract_id, owner)
        tasks = uow.tasks(contract_id)
        pending = uow.questions(contract_id, pending_only=True)
        return ContractDetail(contract, tuple(tasks), tuple(pending))

    return await store.run_read(work)


@dataclass(frozen=True, slots=True)
class ContractFilter:
    """`GET /contracts` filters. `stale_threshold` set means `stale=true` with it."""

    statuses: Sequence[ContractStatus] | None = None
    phase: str | None = None
    stale_threshold: timedelta | None = None
    waiting: bool = False
    updated_since: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ContractPage:
    contracts: tuple[Contract, ...]
    total: int  # matching contracts, before limit and offset


async def list_contracts(
    store: Store, owner: str | None, where: ContractFilter, *, now: datetime
) -> ContractPage:
    """Matching contracts, most recent activity first, and how many match in all.

    `now` anchors the stale filter (the same rule as `core.timing.stale_duration`: status
    `active` and quiet for longer than the threshold).
    """
    query = _filtered(select(contracts), owner, where, now)
    page = query.order_by(contracts.c.last_activity_at.desc(), contracts.c.id)
    page = page.limit(clamp_limit(where.limit)).offset(max(0, where.offset))
    counted = _filtered(select(func.count()).select_from(contracts), owner, where, now)

    def work(uow: ReadUnitOfWork) -> ContractPage:
        rows = uow.conn.execute(page).mappings().all()
        total = uow.conn.scalar(counted)
        return ContractPage(tuple(contract_from_row(r) for r in rows), int(total or 0))

    return await store.run_read(work)


def _filtered(query: Select[Any], owner: str | None, where: ContractFilter, now: datetime) -> Any:
    c = contracts.c
    if owner is not None:
        query = query.where(c.owner == owner)
    if where.statuses:
        query = query.where(c.status.in_([ContractStatus(s).value for s in where.statuses]))
    if where.phase is not None:
        query = query.where(c.phase == where.phase)
    if where.stale_threshold is not None:
        query = query.where(predicates.stale(now, where.stale_threshold))
    if where.waiting:
        # Waiting on the reviewer, by core.attention's rule (the dashboard's list too).
        query = query.where(predicates.waiting_on_reviewer())
    if where.updated_since is not None:
        query = query.where(c.updated_at >= where.updated_since)
    return query


@dataclass(frozen=True, slots=True)
class InboxSources:
    """What `core.inbox.inbox_items` reads: the contracts that may wait on the reviewer,
    their pending questions, and (when ready phases are asked for) their tasks."""

    contracts: tuple[Contract, ...]
    questions: tuple[Question, ...]
    tasks: tuple[Task, ...] | None


async def inbox_sources(
    store: Store,
    owner: str | None,
    *,
    now: datetime,
    stale_threshold: timedelta,
    ready_phases: bool,
) -> InboxSources:
    """The owner's contracts waiting on the reviewer or stale, and with `ready_phases` every
    active one with its tasks (auto-advance off: a met gate waits for a human).

    The SQL narrows by core's rules (`core.store.predicates`); `core.inbox` then decides on
    what is loaded.
    """
    c = contracts.c
    active = c.status == ContractStatus.ACTIVE.value
    wanted = or_(
        predicates.waiting_on_reviewer(),
        active if ready_phases else predicates.stale(now, stale_threshold),
    )
    query = select(contracts).where(wanted)
    if owner is not None:
        query = query.where(c.owner == owner)
    query = query.order_by(c.id)

    def work(uow: ReadUnitOfWork) -> InboxSources:
        found = [contract_from_row(r) for r in uow.conn.execute(query).mappings()]
        waiting = [x.id for x in found if waiting_on_reviewer(x) is not None]
        return InboxSources(
            tuple(found),
            tuple(_pending_questions(uow, waiting)),
            tuple(_tasks_of(uow, [x.id for x in found if x.status is ContractStatus.ACTIVE]))
            if ready_phases
            else None,
        )

    return await store.run_read(work)


_IN_CHUNK = 500  # ids per IN (...) list, well under every backend's parameter limit


def _pending_questions(uow: ReadUnitOfWork, ids: Sequence[str]) -> list[Question]:
    found: list[Question] = []
    for start in range(0, len(ids), _IN_CHUNK):
        query = select(questions).where(
            questions.c.contract_id.in_(ids[start : start + _IN_CHUNK]),
            questions.c.status == QuestionStatus.PENDING.value,
        )
        found.extend(question_from_row(r) for r in uow.conn.execute(query).mappings())
    return found


def _tasks_of(uow: ReadUnitOfWork, ids: Sequence[str]) -> list[Task]:
    found: list[Task] = []
    for start in range(0, len(ids), _IN_CHUNK):
        query = select(tasks).where(tasks.c.contract_id.in_(ids[start : start + _IN_CHUNK]))
        found.extend(task_from_row(r) for r in uow.conn.execute(query).mappings())
    return found


async def deliverable_payloads(
    store: Store, contract_id: str, owner: str | None
) -> list[dict[str, Any]]:
    """The payloads of the contract's `deliverable_completed` events, oldest first (the
    versions of its deliverable notes, for `core.evidence.evidence_versions`)."""
    query = (
        select(events.c.payload)
        .where(
            events.c.contract_id == contract_id,
            events.c.type == EventType.DELIVERABLE_COMPLETED.value,
        )
        .order_by(events.c.seq)
    )
    if owner is not None:
        query = query.where(events.c.owner == owner)

    def work(uow: ReadUnitOfWork) -> list[dict[str, Any]]:
        return [dict(p or {}) for p in uow.conn.execute(query).scalars()]

    return await store.run_read(work)


async def list_questions(
    store: Store,
    owner: str | None,
    *,
    status: QuestionStatus | None = None,
    contract_id: str | None = None,
    limit: int = 100,
) -> list[Question]:
    """Questions of the owner's contracts, oldest first (`GET /questions`)."""
    query = select(questions).join(contracts, contracts.c.id == questions.c.contract_id)
    if owner is not None:
        query = query.where(contracts.c.owner == owner)
    if status is not None:
        query = query.where(questions.c.status == status.value)
    if contract_id is not None:
        query = query.where(questions.c.contract_id == contract_id)
    query = query.order_by(questions.c.asked_at, questions.c.id).limit(clamp_limit(limit))

    def work(uow: ReadUnitOfWork) -> list[Question]:
        return [question_from_row(r) for r in uow.conn.execute(query).mappings()]

    return await store.run_read(work)


async def get_question(store: Store, question_id: str, owner: str | None) -> Question:
    """The question, if its contract is the owner's (else QuestionNotFound)."""
    return await store.run_read(lambda uow: uow.question_owner_scoped(question_id, owner))


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[LoggedEvent, ...]
    last_seq: int  # the seq of the last event returned, or `after` when none was

    def to_wire(self) -> dict[str, Any]:
        return {"events": [e.to_wire() for e in self.events], "lastSeq": self.last_seq}


async def events_after(
    store: Store,
    owner: str | None,
    *,
    after: int = 0,
    contract_id: str | None = None,
    limit: int = 100,
) -> EventPage:
    """Events with seq > `after`, oldest first (`GET /events`, `GET /contracts/{id}/events`).

    Paging by seq is safe under concurrent writers: seq is allocated in commit order, so
    no event with a lower seq can appear after a page has been read.
    """

    def work(uow: ReadUnitOfWork) -> list[LoggedEvent]:
        return event_log.events_after(
            uow.conn, after=after, owner=owner, contract_id=contract_id, limit=clamp_limit(limit)
        )

    found = await store.run_read(work)
    last = found[-1].seq if found and found[-1].seq is not None else after
    return EventPage(tuple(found), last)


async def events_after_wire(
    store: Store,
    owner: str | None,
    *,
    after: int = 0,
    contract_id: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """`events_after(...).to_wire()`, built from the rows directly on SQLite (the first sync
    of a replica reads the whole log through this)."""
    if store.dialect != "sqlite":
        page = await events_after(store, owner, after=after, contract_id=contract_id, limit=limit)
        return page.to_wire()

    def work(uow: ReadUnitOfWork) -> list[dict[str, Any]]:
        return sqlite_events.events_after_wire(
            uow.conn, after=after, owner=owner, contract_id=contract_id, limit=clamp_limit(limit)
        )

    found = await store.run_read(work)
    return {"events": found, "lastSeq": found[-1]["seq"] if found else after}


async def head_seq(store: Store, owner: str | None = None) -> int:
    """The newest seq in the log (0 when empty): where a live subscription starts."""
    return await store.run_read(lambda uow: event_log.last_seq(uow.conn, owner))


@dataclass(frozen=True, slots=True)
class SupervisorStatus:
    task_id: str | None
    state: SupervisorState | None
    phase: str | None
    current_activity: str | None
    progress: int
    last_heartbeat: datetime | None
    pending_task_ids: tuple[str, ...]
    alive: bool

    def to_wire(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "state": self.state.value if self.state else None,
            "phase": self.phase,
            "current_activity": self.current_activity,
            "progress": self.progress,
            "last_heartbeat": iso(self.last_heartbeat),
            "pending_task_ids": list(self.pending_task_ids),
            "alive": self.alive,
        }


async def supervisor_status(
    store: Store,
    contract_id: str,
    owner: str | None,
    *,
    now: datetime,
    heartbeat_timeout: timedelta,
) -> SupervisorStatus:
    """The latest heartbeat's view of the supervisor (no scan of the history).

    Raises SupervisorNotFound when the contract has no supervisor task and never sent a
    heartbeat; a supervisor that has not sent one yet is reported with `alive: false`.
    """

    def work(uow: ReadUnitOfWork) -> tuple[Contract, Any]:
        return uow.contract(contract_id, owner), _liveness(uow, contract_id)

    contract, row = await store.run_read(work)
    if row is None:
        if contract.supervisor_task_id is None:
            raise SupervisorNotFound(contract_id)
        return SupervisorStatus(contract.supervisor_task_id, None, None, None, 0, None, (), False)
    return SupervisorStatus(
        task_id=row["supervisor_task_id"],
        state=SupervisorState(row["state"]),
        phase=row["phase"],
        current_activity=row["current_activity"],
        progress=row["progress"],
        last_heartbeat=row["last_heartbeat_at"],
        pending_task_ids=tuple(row["pending_task_ids"] or ()),
        # A heartbeat of a task that is not the supervisor (stored before such were
        # refused) must not make a made-up task look alive.
        alive=is_alive(row["last_heartbeat_at"], now, heartbeat_timeout)
        and row["supervisor_task_id"] == contract.supervisor_task_id,
    )


def _liveness(uow: ReadUnitOfWork, contract_id: str) -> Any:
    query = select(supervisor_liveness).where(supervisor_liveness.c.contract_id == contract_id)
    return uow.conn.execute(query).mappings().first()


async def heartbeat_history(
    store: Store, contract_id: str, owner: str | None, *, limit: int = 10
) -> list[Heartbeat]:
    """The contract's stored heartbeats, newest first."""

    def work(uow: ReadUnitOfWork) -> list[Heartbeat]:
        uow.contract(contract_id, owner)
        return heartbeats_of(uow, contract_id, limit)

    return await store.run_read(work)


def heartbeats_of(uow: ReadUnitOfWork, contract_id: str, limit: int) -> list[Heartbeat]:
    h = supervisor_heartbeats.c
    query = select(supervisor_heartbeats).where(h.contract_id == contract_id)
    query = query.order_by(h.timestamp.desc(), h.id.desc()).limit(clamp_limit(limit))
    return [_heartbeat_from_row(r) for r in uow.conn.execute(query).mappings()]


def _heartbeat_from_row(row: Any) -> Heartbeat:
    return Heartbeat(
        task_id=row["supervisor_task_id"],
        contract_id=row["contract_id"],
        state=SupervisorState(row["state"]),
        phase=row["phase"],
        current_activity=row["current_activity"] or "",
        progress=row["progress"],
        pending_task_ids=tuple(row["pending_task_ids"] or ()),
        timestamp=row["timestamp"],
    )


async def export_contract(
    store: Store, contract_id: str, owner: str | None, *, heartbeat_limit: int = MAX_LIMIT
) -> dict[str, Any]:
    """`GET /contracts/{id}/export`: everything known about one contract, in wire form."""

    def work(uow: ReadUnitOfWork) -> dict[str, Any]:
        contract = uow.contract(contract_id, owner)
        state = saved_state(uow, contract_id)
        return {
            "contract": contract.to_wire(),
            "tasks": [t.to_wire() for t in uow.tasks(contract_id)],
            "questions": [q.to_wire() for q in uow.questions(contract_id)],
            "events": [e.to_wire() for e in _all_events(uow, contract_id, contract.owner)],
            "feedback": [f.to_wire() for f in feedback_log.thread_of(uow.conn, contract_id)],
            "supervisor": state.to_wire() if state else None,
            "heartbeats": [
                hb.to_history_wire() for hb in heartbeats_of(uow, contract_id, heartbeat_limit)
            ],
        }

    return await store.run_read(work)


def _all_events(uow: ReadUnitOfWork, contract_id: str, owner: str) -> list[LoggedEvent]:
    found: list[LoggedEvent] = []
    after = 0
    while page := event_log.events_after(
        uow.conn, after=after, owner=owner, contract_id=contract_id, limit=MAX_LIMIT
    ):
        found.extend(page)
        after = page[-1].seq or after
    return found
