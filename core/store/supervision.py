"""Supervisor storage: heartbeat batches, the saved persistent state, restoration inputs.

Heartbeats arrive every 30 s per supervisor, so a daemon's batch is written in ONE
transaction with bulk statements: the history rows, the per-contract liveness row (latest
heartbeat, so status and alive checks never scan the history) and the contracts'
`last_activity_at`. A heartbeat is activity, not a change: no version bump, no event.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core.actors import Actor
from core.clock import Clock
from core.events import EventType, NewEvent
from core.model import Contract
from core.outcome import Outcome
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
)

_INSERT_HEARTBEAT = insert(supervisor_heartbeats)


@dataclass(frozen=True, slots=True)
class HeartbeatBatch:
    """The heartbeats stored, and those refused (unknown contract, or another owner's)."""

    accepted: tuple[Heartbeat, ...]
    rejected: tuple[Heartbeat, ...]


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
            known = _lock_owned(uow.conn, {hb.contract_id for hb in heartbeats}, owner)
            accepted = tuple(hb for hb in heartbeats if hb.contract_id in known)
            if accepted:
                _store_accepted(uow, accepted, self.clock.now(), known)
            rejected = tuple(hb for hb in heartbeats if hb.contract_id not in known)
            return HeartbeatBatch(accepted, rejected)

        return await self.store.run_write(work)

    async def save_state(
        self, contract_id: str, actor: Actor, state: SupervisorPersistentState
    ) -> Applied:
        """Upsert the saved state; a new state (by the supervisor table) logs an event.

        Raises InvalidTransition when the move is not in `SUPERVISOR_TRANSITIONS`.
        """

        def work(uow: WriteUnitOfWork) -> Applied:
            contract = uow.load_for_update(contract_id, owner_scope(actor))
            old = _saved_state_name(uow.conn, contract_id)
            if old is not None:
                check_supervisor_move(old, state.state)
            now = self.clock.now()
            _upsert_state(uow, contract, state, now)
            return uow.apply(_state_outcome(contract, old, state.state), actor, now)

        return await self.store.run_write(work)

    async def load_state(
        self, contract_id: str, owner: str | None
    ) -> SupervisorPersistentState | None:

        def work(uow: ReadUnitOfWork) -> SupervisorPersistentState | None:
            uow.contract(contract_id, owner)
            return saved_state(uow, contract_id)

        return await self.store.run_read(work)

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


def _lock_owned(conn: Connection, ids: set[str], owner: str | None) -> dict[str, str]:
    """The known contracts among `ids` (of `owner`, if given), locked, with their owners."""
    # Locked in id order (PostgreSQL): two batches touching the same contracts queue
    # instead of deadlocking. FOR NO KEY UPDATE still lets tasks reference the rows.
    query = select(contracts.c.id, contracts.c.owner).where(contracts.c.id.in_(sorted(ids)))
    if owner is not None:
        query = query.where(contracts.c.owner == owner)
    query = query.order_by(contracts.c.id).with_for_update(key_share=True)
    return {cid: row_owner for cid, row_owner in conn.execute(query)}


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
    return values


def _saved_state_name(conn: Connection, contract_id: str) -> SupervisorState | None:
    query = select(supervisor_states.c.state).where(supervisor_states.c.contract_id == contract_id)
    value = conn.scalar(query)
    return None if value is None else SupervisorState(value)


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
