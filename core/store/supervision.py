"""Supervisor storage: heartbeat batches, the saved persistent state, restoration inputs.

Heartbeats arrive every 30 s per supervisor, so a daemon's batch is written in ONE
transaction with bulk statements: the history rows, the per-contract liveness row (latest
heartbeat, so status and alive checks never scan the history) and the contracts'
`last_activity_at`. A heartbeat is activity, not a change: no version bump, no event.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core import lifecycle
from core.actors import Actor, Role
from core.clock import Clock
from core.errors import ValidationFailed
from core.events import EventType, LoggedEvent, NewEvent
from core.model import Contract
from core.outcome import Outcome
from core.status import ContractStatus
from core.store import sqlite_heartbeats, worktrees
from core.store.engine import Store
from core.store.schema import (
    contracts,
    supervisor_heartbeats,
    supervisor_liveness,
    supervisor_states,
)
from core.store.unit_of_work import (
    Applied,
    ReadUnitOfWork,
    WriteUnitOfWork,
    dialect_insert,
    owner_scope,
)
from core.supervisor import (
    Heartbeat,
    RestorationPlan,
    SupervisorPersistentState,
    SupervisorState,
    check_supervisor_move,
    decide_restoration,
    starts_contract,
    state_changed_payload,
    wrong_task,
)

_INSERT_HEARTBEAT = insert(supervisor_heartbeats)


@dataclass(frozen=True, slots=True)
class HeartbeatBatch:
    """The heartbeats stored, and those refused (unknown contract, or another owner's).

    `wrong_task`: heartbeats of a known contract naming a task that is not its supervisor
    task (refused, with why); `events`: what the batch logged (state changes, a contract
    started by its supervisor), committed, to publish.
    """

    accepted: tuple[Heartbeat, ...]
    rejected: tuple[Heartbeat, ...]
    wrong_task: tuple[tuple[Heartbeat, str], ...] = ()
    events: tuple[LoggedEvent, ...] = ()

    def check_tasks(self, given: Sequence[Heartbeat], *, numbered: bool = True) -> None:
        """400 VALIDATION_FAILED naming each heartbeat (by index, for a daemon's batch) whose
        task is wrong. The batch's other heartbeats are still recorded (`details.accepted`)."""
        if not self.wrong_task:
            return
        why = {id(hb): reason for hb, reason in self.wrong_task}
        problems = [
            f"heartbeats[{i}]: {why[id(hb)]}" for i, hb in enumerate(given) if id(hb) in why
        ]
        if not numbered:
            problems = [reason for _, reason in self.wrong_task]
        raise ValidationFailed(
            f"Heartbeat refused: {'; '.join(problems)}",
            details={"field": "task_id", "refused": problems, "accepted": len(self.accepted)},
        )


def heartbeat_values(heartbeat: Heartbeat) -> dict[str, Any]:
    return {
        "supervisor_task_id": heartbeat.task_id,
        "contract_id": heartbeat.contract_id,
        "state": heartbeat.state.value,
        "phase": heartbeat.phase,
        "current_activity": heartbeat.current_activity,
        "progress": heartbeat.progress,
        "pending_task_ids": list(heartbeat.pending_task_ids),
        "timestamp": heartbeat.timestamp,
    }


def latest_per_contract(heartbeats: Iterable[Heartbeat]) -> list[Heartbeat]:
    """The newest heartbeat of each contract, ordered by contract id (the lock order)."""
    latest: dict[str, Heartbeat] = {}
    for hb in heartbeats:
        seen = latest.get(hb.contract_id)
        if seen is None or hb.timestamp >= seen.timestamp:
            latest[hb.contract_id] = hb
    return [latest[cid] for cid in sorted(latest)]


class SupervisorStore:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def record_heartbeats(
        self, heartbeats: Sequence[Heartbeat], owner: str | None
    ) -> HeartbeatBatch:
        """Store the heartbeats of known contracts of `owner` (None: any) in one transaction.

        Each heartbeat is judged on its own: an unknown or foreign contract id rejects that
        heartbeat only. Returns which were accepted, in the order given.
        """
        if not heartbeats:
            return HeartbeatBatch((), ())

        def work(uow: WriteUnitOfWork) -> HeartbeatBatch:
            locked = _lock_owned(uow.conn, {hb.contract_id for hb in heartbeats}, owner)
            known = {cid: row_owner for cid, (row_owner, _, _) in locked.items()}
            wrong = tuple(
                (hb, why)
                for hb in heartbeats
                if hb.contract_id in locked
                and (why := wrong_task(hb.task_id, locked[hb.contract_id][1])) is not None
            )
            refused = {id(hb) for hb, _ in wrong}
            accepted = tuple(
                hb for hb in heartbeats if hb.contract_id in known and id(hb) not in refused
            )
            now = self.clock.now()
            logged: list[LoggedEvent] = []
            if accepted:
                logged = _state_changes(uow, accepted, now)
                _store_accepted(uow, accepted, now, known)
                created = {cid for cid, row in locked.items() if row[2] == ContractStatus.CREATED}
                starting = [hb for hb in accepted if hb.contract_id in created]
                logged += _start_contracts(uow, starting, now)
            rejected = tuple(hb for hb in heartbeats if hb.contract_id not in known)
            return HeartbeatBatch(accepted, rejected, wrong, tuple(logged))

        return await self.store.run_write(work)

    async def save_state(
        self, contract_id: str, actor: Actor, state: SupervisorPersistentState
    ) -> Applied:
        """Upsert the saved state; a new state (by the supervisor table) logs an event.

        Raises InvalidTransition when the move is not in `SUPERVISOR_TRANSITIONS`.
        """

        def work(uow: WriteUnitOfWork) -> Applied:
            contract = uow.load_for_update(contract_id, owner_scope(actor))
            old = _last_known_state(uow.conn, contract_id)
            if old is not None:
                check_supervisor_move(old, state.state)
            now = self.clock.now()
            _upsert_state(uow, contract, state, now)
            _set_liveness_state(uow.conn, contract_id, state.state)
            applied = uow.apply(_state_outcome(contract, old, state.state), actor, now)
            if not starts_contract(applied.contract, state.state):
                return applied
            started = _start(uow, applied.contract, now)
            return replace(applied, events=(*applied.events, *started))

        return await self.store.run_write(work)

    async def load_state(
        self, contract_id: str, owner: str | None
    ) -> SupervisorPersistentState | None:

        def work(uow: ReadUnitOfWork) -> SupervisorPersistentState | None:
            uow.contract(contract_id, owner)
            return saved_state(uow, contract_id)

        return await self.store.run_read(work)

    async def sync_state(
        self, contract_id: str, actor: Actor, heartbeat_state: SupervisorState
    ) -> Applied:
        """`supervisor/sync`: the saved state takes the latest heartbeat's state, phase and
        activity (a saved state is created from it when none was saved yet)."""

        def work(uow: WriteUnitOfWork) -> Applied:
            contract = uow.load_for_update(contract_id, owner_scope(actor))
            live = supervisor_liveness.c
            row = uow.conn.execute(
                select(live.state, live.phase, live.current_activity).where(
                    live.contract_id == contract_id
                )
            ).first()
            now = self.clock.now()
            state = SupervisorState(row.state) if row is not None else heartbeat_state
            saved = saved_state(uow, contract_id)
            fields = {
                "state": state,
                "phase": row.phase if row is not None else contract.phase,
                "current_activity": (row.current_activity or "") if row is not None else "",
                "updated_at": now,
            }
            synced = (
                saved.model_copy(update=fields)
                if saved is not None
                else SupervisorPersistentState(created_at=now, **fields)
            )
            _upsert_state(uow, contract, synced, now)
            return uow.apply(
                Outcome(contract=contract, previous_version=contract.version), actor, now
            )

        return await self.store.run_write(work)

    async def restore_and_redeliver(
        self, contract_id: str, actor: Actor
    ) -> tuple[RestorationPlan, list[LoggedEvent]]:
        """The restoration plan; each pending question is also re-delivered to the user as a
        `question_redelivered` event (the desktop alerts on it), not only to the supervisor."""

        def work(uow: WriteUnitOfWork) -> tuple[RestorationPlan, list[LoggedEvent]]:
            contract = uow.load_for_update(contract_id, owner_scope(actor))
            saved = saved_state(uow, contract_id)
            pending = uow.questions(contract_id, pending_only=True)
            plan = decide_restoration(saved, contract, uow.tasks(contract_id), pending)
            events = tuple(
                NewEvent(
                    EventType.QUESTION_REDELIVERED,
                    contract_id,
                    {
                        "question_id": q.id,
                        "question": q.question,
                        "question_type": q.question_type.value,
                    },
                )
                for q in plan.redeliver_questions
            )
            if not events:
                return plan, []
            outcome = Outcome(contract=contract, events=events, previous_version=contract.version)
            return plan, uow.persist(outcome, actor, self.clock.now())

        return await self.store.run_write(work)

    async def restoration(self, contract_id: str, owner: str | None) -> RestorationPlan:

        def work(uow: ReadUnitOfWork) -> RestorationPlan:
            contract = uow.contract(contract_id, owner)
            saved = saved_state(uow, contract_id)
            tasks = uow.tasks(contract_id)
            pending = uow.questions(contract_id, pending_only=True)
            return decide_restoration(saved, contract, tasks, pending)

        return await self.store.run_read(work)


def _store_accepted(
    uow: WriteUnitOfWork, accepted: Sequence[Heartbeat], now: datetime, owners: Mapping[str, str]
) -> None:
    latest = latest_per_contract(accepted)
    if uow.dialect == "sqlite":
        sqlite_heartbeats.insert_history(uow.conn, accepted)
        sqlite_heartbeats.upsert_liveness(uow.conn, latest, owners)
    else:
        uow.conn.execute(_INSERT_HEARTBEAT, [heartbeat_values(hb) for hb in accepted])
        _upsert_liveness(uow, latest, owners)
    worktrees.replace_reported(uow.conn, latest)
    # The rule of core.lifecycle.record_activity, in one statement for the whole batch:
    # activity now, and the stale episode (if any) is over. No version bump.
    touched = update(contracts).where(contracts.c.id.in_([hb.contract_id for hb in latest]))
    uow.conn.execute(touched.values(last_activity_at=now, stale_notified_at=None))


def saved_state(uow: ReadUnitOfWork, contract_id: str) -> SupervisorPersistentState | None:
    """The state last saved for the contract (None: never saved)."""
    query = select(supervisor_states.c.payload).where(
        supervisor_states.c.contract_id == contract_id
    )
    payload = uow.conn.scalar(query)
    return None if payload is None else SupervisorPersistentState.parse(payload)


def _lock_owned(
    conn: Connection, ids: set[str], owner: str | None
) -> dict[str, tuple[str, str | None, str]]:
    """The known contracts among `ids` (of `owner`, if given), locked, with their owners,
    supervisor task ids and statuses."""
    # Locked in id order (PostgreSQL): two batches touching the same contracts queue
    # instead of deadlocking. FOR NO KEY UPDATE still lets tasks reference the rows.
    c = contracts.c
    query = select(c.id, c.owner, c.supervisor_task_id, c.status).where(c.id.in_(sorted(ids)))
    if owner is not None:
        query = query.where(c.owner == owner)
    query = query.order_by(c.id).with_for_update(key_share=True)
    return {cid: (row_owner, sup, status) for cid, row_owner, sup, status in conn.execute(query)}


def _state_changes(
    uow: WriteUnitOfWork, accepted: Sequence[Heartbeat], now: datetime
) -> list[LoggedEvent]:
    """`supervisor_state_changed` for each contract whose state differs from its last
    heartbeat's (read before this batch overwrites it); steps within the batch count too."""
    ids = sorted({hb.contract_id for hb in accepted})
    live = supervisor_liveness.c
    query = select(live.contract_id, live.state).where(live.contract_id.in_(ids))
    last = {cid: SupervisorState(state) for cid, state in uow.conn.execute(query)}
    events: list[NewEvent] = []
    for hb in sorted(accepted, key=lambda b: b.timestamp):
        payload = state_changed_payload(hb.task_id, last.get(hb.contract_id), hb.state)
        last[hb.contract_id] = hb.state
        if payload is not None:
            events.append(NewEvent(EventType.SUPERVISOR_STATE_CHANGED, hb.contract_id, payload))
    return _log(uow, events, accepted, now)


def _log(
    uow: WriteUnitOfWork, events: Sequence[NewEvent], accepted: Sequence[Heartbeat], now: datetime
) -> list[LoggedEvent]:
    logged: list[LoggedEvent] = []
    for cid in sorted({e.contract_id for e in events}):
        contract = uow.load_for_update(cid, None)
        mine = tuple(e for e in events if e.contract_id == cid)
        outcome = Outcome(contract=contract, events=mine, previous_version=contract.version)
        logged += uow.persist(outcome, _supervisor_of(contract, accepted), now)
    return logged


def _supervisor_of(contract: Contract, accepted: Sequence[Heartbeat]) -> Actor:
    del accepted
    return Actor(contract.owner, Role.SUPERVISOR)


def _start_contracts(
    uow: WriteUnitOfWork, accepted: Sequence[Heartbeat], now: datetime
) -> list[LoggedEvent]:
    """A `created` contract whose supervisor reports a working state becomes `active`."""
    logged: list[LoggedEvent] = []
    for hb in latest_per_contract(accepted):
        contract = uow.load_for_update(hb.contract_id, None)
        if starts_contract(contract, hb.state):
            logged += _start(uow, contract, now)
    return logged


def _start(uow: WriteUnitOfWork, contract: Contract, now: datetime) -> list[LoggedEvent]:
    actor = Actor(contract.owner, Role.SUPERVISOR)
    tasks = uow.tasks(contract.id)
    pending = uow.questions(contract.id, pending_only=True)
    outcome = lifecycle.change_status(
        contract, tasks, pending, ContractStatus.ACTIVE, now, actor, reason="supervisor started"
    )
    return uow.persist(outcome, actor, now)


def _upsert_liveness(
    uow: WriteUnitOfWork, latest: Sequence[Heartbeat], owners: Mapping[str, str]
) -> None:
    rows = [_liveness_values(hb) | {"owner": owners[hb.contract_id]} for hb in latest]
    uow.conn.execute(_liveness_upsert(uow.dialect), rows)


@functools.cache
def _liveness_upsert(dialect: str) -> Any:
    """One upsert statement per dialect, run with a list of rows (executemany).

    Built once on purpose: a multi-row VALUES clause is compiled anew for every batch size,
    which cost more than the writes themselves for batches of thousands.
    """
    statement = dialect_insert(dialect)(supervisor_liveness)
    columns = [c.name for c in supervisor_liveness.c if c.name != "contract_id"]
    changed = {c: statement.excluded[c] for c in columns}
    # A late batch must not overwrite a newer heartbeat already recorded.
    newer = supervisor_liveness.c.last_heartbeat_at <= statement.excluded.last_heartbeat_at
    return statement.on_conflict_do_update(
        index_elements=[supervisor_liveness.c.contract_id], set_=changed, where=newer
    )


def _liveness_values(heartbeat: Heartbeat) -> dict[str, Any]:
    values = heartbeat_values(heartbeat)
    values["last_heartbeat_at"] = values.pop("timestamp")
    values["daemon_id"] = heartbeat.daemon_id
    values["worktrees"] = list(heartbeat.worktrees or ())
    return values


def _saved_state_name(conn: Connection, contract_id: str) -> SupervisorState | None:
    query = select(supervisor_states.c.state).where(supervisor_states.c.contract_id == contract_id)
    value = conn.scalar(query)
    return None if value is None else SupervisorState(value)


def _last_known_state(conn: Connection, contract_id: str) -> SupervisorState | None:
    """The supervisor's state as last reported: its latest heartbeat's, else its saved one.

    Trap: heartbeats do not write the saved state, so reading only the saved row reported
    a stale old state in `supervisor_state_changed` after heartbeats moved it.
    """
    live = supervisor_liveness.c
    value = conn.scalar(select(live.state).where(live.contract_id == contract_id))
    return SupervisorState(value) if value is not None else _saved_state_name(conn, contract_id)


def _set_liveness_state(conn: Connection, contract_id: str, state: SupervisorState) -> None:
    """A saved state is the newest word on the supervisor's state: the liveness row (if
    any) follows it, so the next heartbeat compares against it."""
    live = supervisor_liveness.c
    conn.execute(
        update(supervisor_liveness).where(live.contract_id == contract_id).values(state=state.value)
    )


def _upsert_state(
    uow: WriteUnitOfWork, contract: Contract, state: SupervisorPersistentState, now: datetime
) -> None:
    values = {
        "contract_id": contract.id,
        "task_id": contract.supervisor_task_id,
        "state": state.state.value,
        "phase": state.phase,
        "current_activity": state.current_activity,
        "progress": 0,
        "error_message": state.error,
        "payload": state.to_wire(),
        "updated_at": now,
    }
    statement = dialect_insert(uow.dialect)(supervisor_states).values(values)
    changed = {c: statement.excluded[c] for c in values if c != "contract_id"}
    uow.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[supervisor_states.c.contract_id], set_=changed
        )
    )


def _state_outcome(
    contract: Contract, old: SupervisorState | None, new: SupervisorState
) -> Outcome:
    """No contract change; an event only when the supervisor's state really moved."""
    events: tuple[NewEvent, ...] = ()
    if old is not new:
        payload = {
            "supervisor_task_id": contract.supervisor_task_id,
            "old_state": old.value if old else None,
            "new_state": new.value,
        }
        events = (NewEvent(EventType.SUPERVISOR_STATE_CHANGED, contract.id, payload),)
    return Outcome(contract=contract, events=events, previous_version=contract.version)
