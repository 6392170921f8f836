"""The local replica: the server's tables in a local SQLite file, kept current by events.

`Replica.open(path)` creates or opens the file (core/store's schema through its migrations,
plus the local `sync_cursor` and `outbox` tables). Reads answer from the file alone, so the
reviewer sees contracts, tasks, questions, history, supervisor status and the dashboard
offline; they reuse `core.store.queries` / `core.store.aggregates`, the same code the server
answers with. Writes come from `ReplicaFeed` (the snapshot, events, refreshes): every write
method tells `contracts_changed` observers which contract ids changed.

Rows carry the replica's `owner` (the wire never names an owner); reads pass `owner=None`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.clock import parse_iso, utc
from core.config import ContractTimeoutConfig
from core.dashboard import Dashboard
from core.errors import SupervisorNotFound, ValidationFailed
from core.events import EventType, LoggedEvent
from core.inbox import InboxMark
from core.model import Contract, Question, QuestionStatus, Task
from core.status import ContractStatus
from core.store import aggregates, inbox_marks, queries
from core.store.engine import Store, open_store
from core.store.queries import ContractFilter, ContractPage, EventPage, SupervisorStatus
from core.store.rows import contract_from_row, contract_values, question_values, task_from_row
from core.store.schema import (
    contracts,
    events,
    questions,
    supervisor_heartbeats,
    supervisor_liveness,
    supervisor_states,
    tasks,
)
from core.store.unit_of_work import ReadUnitOfWork, WriteUnitOfWork
from core.supervisor import Heartbeat, SupervisorState
from sync.observers import Observers
from sync.replica_apply import (
    Cursor,
    PageResult,
    apply_page,
    read_cursor,
    store_events,
    write_cursor,
)
from sync.replica_bulk import insert_rows, store_event_rows
from sync.replica_history import HistoryFold, write_rows
from sync.replica_schema import create_local_tables

LOCAL_OWNER = "replica"
IN_CHUNK = 500  # ids per `IN (...)` (SQLite allows 32,766 parameters; keep plans small)
HEARTBEAT_RETENTION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ReplicaDetail:
    """A contract as the detail view shows it: tasks, every question, pending ones."""

    contract: Contract
    tasks: tuple[Task, ...]
    questions: tuple[Question, ...]

    @property
    def pending_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.is_pending)


class Replica:
    """One replica file. Create with `await Replica.open(path)`; `close()` when done."""

    def __init__(self, store: Store, owner: str = LOCAL_OWNER) -> None:
        self.store = store
        self.owner = owner
        self.contracts_changed: Observers[frozenset[str]] = Observers("contracts_changed")
        # Each page's events new to the replica: what no row shows (a question asked again).
        self.events_applied: Observers[tuple[LoggedEvent, ...]] = Observers("events_applied")

    @classmethod
    async def open(cls, path: str | Path, *, owner: str = LOCAL_OWNER) -> Replica:
        """Open (creating if needed) the replica at `path`, schema brought up to date."""
        store = await open_store(replica_url(path), migrate=True)
        await store.run_write(lambda uow: create_local_tables(uow.conn))
        return cls(store, owner)

    async def close(self) -> None:
        await self.store.close()

    def _notify(self, ids: Iterable[str]) -> None:
        changed = frozenset(ids)
        if changed:
            self.contracts_changed.publish(changed)

    # --- the cursor ----------------------------------------------------------------------

    async def cursor(self) -> Cursor:
        return await self.store.run_read(lambda uow: read_cursor(uow.conn))

    async def has_snapshot(self, server_url: str | None = None) -> bool:
        """A complete snapshot exists (of `server_url`, when given)."""
        cursor = await self.cursor()
        if cursor.snapshot_at is None:
            return False
        return server_url is None or cursor.server_url == server_url

    # --- writes from the feed ------------------------------------------------------------

    async def apply_events(self, page: Sequence[LoggedEvent]) -> PageResult:
        """Apply a page of logged events in one transaction (already applied ones are
        skipped); transient heartbeats in the page update supervisor liveness."""
        logged = [e for e in page if e.seq is not None]
        beats = [e for e in page if e.seq is None and e.type is EventType.HEARTBEAT]
        result = await self.store.run_write(lambda uow: apply_page(uow.conn, logged, self.owner))
        await self.record_heartbeats(beats)
        self._notify(result.changed)
        if result.fresh:
            self.events_applied.publish(result.fresh)
        return result

    async def reset(self, server_url: str) -> None:
        """Forget every server row (not the outbox) before a new snapshot."""

        def work(uow: WriteUnitOfWork) -> None:
            for table in (supervisor_heartbeats, supervisor_liveness, supervisor_states):
                uow.conn.execute(delete(table))
            for table in (questions, tasks, contracts, events):
                uow.conn.execute(delete(table))
            write_cursor(
                uow.conn, server_url=server_url, last_seq=0, snapshot_at=None, refresh_since=None
            )

        await self.store.run_write(work)

    async def store_snapshot_events(self, page: Sequence[LoggedEvent]) -> None:
        """Part of a snapshot: store event rows only (their effects come with the contracts)."""
        if page:
            await self.store.run_write(lambda uow: store_events(uow.conn, page, self.owner))

    async def store_snapshot_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Part of a snapshot: event rows made by `replica_bulk.event_rows`."""
        if rows:
            await self.store.run_write(lambda uow: store_event_rows(uow.conn, rows))

    async def store_snapshot_contracts(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Part of a snapshot: contract rows (as `contract_values` gives them), replacing a
        row of the same id (no task or question rows exist yet to cascade)."""
        if rows:
            owned = [{**r, "owner": self.owner} for r in rows]
            await self.store.run_write(
                lambda uow: insert_rows(uow.conn, contracts, owned, replace=True)
            )

    async def finish_snapshot(
        self,
        held: set[str],
        fold: HistoryFold,
        pending: Sequence[Question],
        *,
        last_seq: int,
        at: datetime,
    ) -> None:
        """Complete a snapshot in one transaction: the tasks and questions folded from the
        events (of the `held` contracts, stored before), the server's pending questions,
        and the cursor that makes the snapshot count."""

        def work(uow: WriteUnitOfWork) -> None:
            conn = uow.conn
            new_tasks = [t for t in fold.new_tasks.values() if t["contract_id"] in held]
            insert_rows(conn, tasks, new_tasks)
            asked = [q for q in fold.new_questions.values() if q["contract_id"] in held]
            insert_rows(conn, questions, asked)
            later = HistoryFold(
                task_updates=fold.task_updates, question_updates=fold.question_updates
            )
            write_rows(conn, later, present=held)
            current = [question_values(q) for q in pending if q.contract_id in held]
            if current:
                uow.upsert(questions, current)
            write_cursor(conn, last_seq=last_seq, snapshot_at=at, refresh_since=None)

        await self.store.run_write(work)
        self._notify(held)

    async def put_contracts(self, found: Sequence[Contract]) -> frozenset[str]:
        """Store the server's copies; a copy older than the stored row (lower version)
        loses. Returns the ids whose rows changed."""
        if not found:
            return frozenset()
        rows = [{**contract_values(c), "owner": self.owner} for c in found]

        def work(uow: WriteUnitOfWork) -> frozenset[str]:
            ids = [r["id"] for r in rows]
            before = _rows_by_id(uow, ids)
            statement = sqlite_insert(contracts)
            newer = statement.excluded.version >= contracts.c.version
            changed = {c: statement.excluded[c] for c in rows[0] if c not in ("id", "owner")}
            upsert = statement.on_conflict_do_update(
                index_elements=[contracts.c.id], set_=changed, where=newer
            )
            uow.conn.execute(upsert, rows)
            after = _rows_by_id(uow, ids)
            return frozenset(i for i in ids if before.get(i) != after.get(i))

        result = await self.store.run_write(work)
        self._notify(result)
        return result

    async def mark_refreshed(self, marker_seq: int) -> None:
        """A refresh that started when the cursor was at `marker_seq` has finished: only
        events applied after it still wait for a refresh."""

        def work(uow: WriteUnitOfWork) -> None:
            later = select(func.min(events.c.at)).where(events.c.seq > marker_seq)
            write_cursor(uow.conn, refresh_since=uow.conn.scalar(later))

        await self.store.run_write(work)

    async def put_questions(self, found: Sequence[Question]) -> None:
        """Store the server's copies of questions (of contracts the replica holds)."""
        if not found:
            return

        def work(uow: WriteUnitOfWork) -> set[str]:
            held = set(_rows_by_id(uow, {q.contract_id for q in found}))
            rows = [question_values(q) for q in found if q.contract_id in held]
            if rows:
                uow.upsert(questions, rows)
            return {r["contract_id"] for r in rows}

        self._notify(await self.store.run_write(work))

    async def put_supervisor(
        self,
        contract_id: str,
        status: Mapping[str, Any] | None,
        history: Sequence[Mapping[str, Any]],
    ) -> None:
        """Store `GET …/supervisor/status` (None: no supervisor) and `…/heartbeats`."""

        def work(uow: WriteUnitOfWork) -> bool:
            row = uow.conn.execute(select(contracts).where(contracts.c.id == contract_id))
            found = row.mappings().first()
            if found is None:
                return False
            contract = contract_from_row(found)
            task_id = (status or {}).get("task_id") or contract.supervisor_task_id
            _replace_liveness(uow, contract, status, task_id)
            _replace_history(uow, contract, history, task_id)
            return True

        if await self.store.run_write(work):
            self._notify([contract_id])

    async def record_heartbeats(self, beats: Sequence[LoggedEvent]) -> None:
        """Transient heartbeats from the monitor: each supervisor's liveness and history
        (one transaction for all; heartbeats of unknown or supervisor-less contracts are
        ignored)."""
        if not beats:
            return

        def work(uow: WriteUnitOfWork) -> set[str]:
            held = _rows_by_id(uow, {b.contract_id for b in beats})
            done: set[str] = set()
            for beat in beats:
                found = held.get(beat.contract_id)
                if found is None or found["supervisor_task_id"] is None:
                    continue
                contract = contract_from_row(found)
                try:
                    values = _heartbeat_values(contract, beat.payload, beat.at)
                except ValidationFailed:
                    continue  # a state this client does not know: not a heartbeat to show
                _upsert_liveness(uow, values)
                uow.conn.execute(supervisor_heartbeats.insert(), _history_row(values))
                done.add(contract.id)
            # History is kept as long as the server keeps it (API.md: 24 h by default).
            cutoff = max(b.at for b in beats) - HEARTBEAT_RETENTION
            old = supervisor_heartbeats.c.timestamp < cutoff
            uow.conn.execute(delete(supervisor_heartbeats).where(old))
            return done

        self._notify(await self.store.run_write(work))

    # --- reads (offline answers) ---------------------------------------------------------

    async def list_contracts(
        self,
        *,
        statuses: Sequence[ContractStatus] | None = None,
        phase: str | None = None,
        stale_threshold: timedelta | None = None,
        waiting: bool = False,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
        now: datetime,
    ) -> ContractPage:
        """Contracts like `GET /contracts` (same filters, same order, `now` anchors the
        stale rule), plus `search`: a case-insensitive substring of the name."""
        where = ContractFilter(statuses, phase, stale_threshold, waiting, None, limit, offset)
        if not search:
            return await queries.list_contracts(self.store, None, where, now=now)
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = contracts.c.name.ilike(pattern, escape="\\")
        base = queries._filtered(select(contracts), None, where, now).where(matches)
        counted = queries._filtered(select(func.count()).select_from(contracts), None, where, now)
        counted = counted.where(matches)
        page = base.order_by(contracts.c.last_activity_at.desc(), contracts.c.id)
        page = page.limit(queries.clamp_limit(limit)).offset(max(0, offset))

        def work(uow: ReadUnitOfWork) -> ContractPage:
            rows = uow.conn.execute(page).mappings().all()
            total = int(uow.conn.scalar(counted) or 0)
            return ContractPage(tuple(contract_from_row(r) for r in rows), total)

        return await self.store.run_read(work)

    async def contract(self, contract_id: str) -> ReplicaDetail:
        """The contract with its tasks and all its questions (ContractNotFound if unknown)."""

        def work(uow: ReadUnitOfWork) -> ReplicaDetail:
            contract = uow.contract(contract_id, None)
            return ReplicaDetail(
                contract, tuple(uow.tasks(contract_id)), tuple(uow.questions(contract_id))
            )

        return await self.store.run_read(work)

    async def contracts_by_id(self, ids: Iterable[str]) -> dict[str, Contract]:
        """The held contracts among `ids` (missing ones are left out)."""
        wanted = list(ids)
        return await self.store.run_read(
            lambda uow: {i: contract_from_row(r) for i, r in _rows_by_id(uow, wanted).items()}
        )

    async def tasks(self, contract_id: str) -> list[Task]:
        return await self.store.run_read(lambda uow: uow.tasks(contract_id))

    async def tasks_of(self, contract_ids: Iterable[str]) -> dict[str, list[Task]]:
        """The tasks of each of `contract_ids` (oldest first; a contract without tasks is
        left out), in one read: the inbox needs them for the phase-ready rule."""
        wanted = list(dict.fromkeys(contract_ids))

        def work(uow: ReadUnitOfWork) -> dict[str, list[Task]]:
            found: dict[str, list[Task]] = {}
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start : start + IN_CHUNK]
                query = (
                    select(tasks)
                    .where(tasks.c.contract_id.in_(chunk))
                    .order_by(tasks.c.created_at, tasks.c.id)
                )
                for row in uow.conn.execute(query).mappings():
                    task = task_from_row(row)
                    found.setdefault(task.contract_id, []).append(task)
            return found

        return await self.store.run_read(work)

    async def questions(
        self,
        *,
        status: QuestionStatus | None = None,
        contract_id: str | None = None,
        limit: int = 1000,
    ) -> list[Question]:
        """Questions, oldest first (like `GET /questions`)."""
        return await queries.list_questions(
            self.store, None, status=status, contract_id=contract_id, limit=limit
        )

    async def events(
        self, *, after: int = 0, limit: int = 1000, contract_id: str | None = None
    ) -> EventPage:
        """One page of the local event log (like `GET /events`)."""
        return await queries.events_after(
            self.store, None, after=after, contract_id=contract_id, limit=limit
        )

    async def inbox_marks(self) -> dict[str, InboxMark]:
        """The snoozes, claims and escalations the replicated log holds, by item id: lay them
        on `core.inbox.inbox_items` with `core.inbox.with_marks` for the server's inbox."""
        return await self.store.run_read(lambda uow: inbox_marks.marks_from_log(uow.conn))

    async def history(self, contract_id: str) -> list[LoggedEvent]:
        """Every event of the contract, oldest first (deleted contracts included)."""
        found: list[LoggedEvent] = []
        after = 0
        while True:
            page = await self.events(after=after, contract_id=contract_id)
            found.extend(page.events)
            if len(page.events) < queries.MAX_LIMIT:
                return found
            after = page.last_seq

    async def supervisor_status(
        self, contract_id: str, *, now: datetime, heartbeat_timeout: timedelta
    ) -> SupervisorStatus | None:
        """The supervisor as last heard of (None: the contract has no supervisor)."""
        try:
            return await queries.supervisor_status(
                self.store, contract_id, None, now=now, heartbeat_timeout=heartbeat_timeout
            )
        except SupervisorNotFound:
            return None

    async def heartbeats(self, contract_id: str, *, limit: int = 10) -> list[Heartbeat]:
        """The stored recent heartbeats, newest first."""
        return await queries.heartbeat_history(self.store, contract_id, None, limit=limit)

    async def dashboard(self, *, now: datetime, config: ContractTimeoutConfig) -> Dashboard:
        """The dashboard figures, computed by the server's own aggregate queries."""
        return await aggregates.dashboard(self.store, None, now=now, config=config)

    async def counts(self) -> dict[str, int]:
        """Row counts per table (for checks and the CLI)."""

        def work(uow: ReadUnitOfWork) -> dict[str, int]:
            return {
                t.name: int(uow.conn.scalar(select(func.count()).select_from(t)) or 0)
                for t in (contracts, tasks, questions, events)
            }

        return await self.store.run_read(work)


def replica_url(path: str | Path) -> str:
    """The SQLite URL of the replica file at `path` (its folder is created 0700: a replica
    holds the owner's contracts; the file itself is created 0600 by `open_store`)."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{target}"


def _rows_by_id(uow: ReadUnitOfWork, ids: Iterable[str]) -> dict[str, Any]:
    wanted = list(set(ids))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):
        query = select(contracts).where(contracts.c.id.in_(wanted[start : start + 500]))
        for row in uow.conn.execute(query).mappings():
            found[row["id"]] = dict(row)
    return found


def _time(value: Any, default: datetime) -> datetime:
    if isinstance(value, str):
        try:
            return parse_iso(value)
        except ValueError:
            return default
    return utc(value) if isinstance(value, datetime) else default


def _heartbeat_values(
    contract: Contract, raw: Mapping[str, Any], at: datetime, task_id: str | None = None
) -> dict[str, Any]:
    return {
        "contract_id": contract.id,
        "supervisor_task_id": task_id or contract.supervisor_task_id or "",
        "state": SupervisorState.parse(raw.get("state") or "working").value,
        "phase": str(raw.get("phase") or contract.phase),
        "current_activity": raw.get("current_activity", raw.get("activity")),
        "progress": int(raw.get("progress") or 0),
        "pending_task_ids": list(raw.get("pending_task_ids") or []),
        "last_heartbeat_at": at,
    }


def _upsert_liveness(uow: WriteUnitOfWork, values: dict[str, Any]) -> None:
    statement = sqlite_insert(supervisor_liveness).values(values)
    newer = or_(
        supervisor_liveness.c.last_heartbeat_at <= statement.excluded.last_heartbeat_at,
        supervisor_liveness.c.supervisor_task_id != statement.excluded.supervisor_task_id,
    )
    set_ = {c: statement.excluded[c] for c in values if c != "contract_id"}
    uow.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[supervisor_liveness.c.contract_id], set_=set_, where=newer
        )
    )


def _history_row(values: Mapping[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in values.items() if k != "last_heartbeat_at"}
    row["timestamp"] = values["last_heartbeat_at"]
    return row


def _replace_liveness(
    uow: WriteUnitOfWork, contract: Contract, status: Mapping[str, Any] | None, task_id: Any
) -> None:
    last = (status or {}).get("last_heartbeat")
    if status is None or not status.get("state") or last is None:
        uow.conn.execute(
            delete(supervisor_liveness).where(supervisor_liveness.c.contract_id == contract.id)
        )
        return
    at = _time(last, contract.last_activity_at)
    _upsert_liveness(uow, _heartbeat_values(contract, status, at, task_id))


def _replace_history(
    uow: WriteUnitOfWork,
    contract: Contract,
    history: Sequence[Mapping[str, Any]],
    task_id: Any,
) -> None:
    h = supervisor_heartbeats.c
    uow.conn.execute(delete(supervisor_heartbeats).where(h.contract_id == contract.id))
    rows = [
        _history_row(
            _heartbeat_values(
                contract, beat, _time(beat.get("timestamp"), contract.last_activity_at), task_id
            )
        )
        for beat in history
    ]
    if rows:
        uow.conn.execute(supervisor_heartbeats.insert(), rows)
