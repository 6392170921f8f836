"""Heartbeat batches, supervisor status, saved state and restoration."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from core.actors import Actor, Role
from core.clock import ManualClock
from core.errors import ContractNotFound, InvalidTransition, SupervisorNotFound
from core.events import EventType
from core.store import ContractRepository, Store, queries
from core.supervisor import Heartbeat, RestorationAction, SupervisorPersistentState, SupervisorState
from tests.store.helpers import REVIEWER, SUPERVISOR
from tests.store.helpers import started_contract as _started_contract

TIMEOUT = timedelta(seconds=120)


# Each contract's supervisor task id: a heartbeat naming another task is refused.
SUPERVISORS: dict[str, str] = {}


async def started_contract(repo: ContractRepository, *args: Any, **options: Any) -> str:
    cid = await _started_contract(repo, *args, **options)
    detail = await queries.get_contract(repo.store, cid, None)
    SUPERVISORS[cid] = detail.contract.supervisor_task_id or ""
    return cid


def beat(contract_id: str, at: datetime, state: str = "working", progress: int = 10) -> Heartbeat:
    return Heartbeat(
        task_id=SUPERVISORS.get(contract_id, "sup-task"),
        contract_id=contract_id,
        state=SupervisorState(state),
        phase="plan",
        current_activity=f"{state} at {progress}",
        progress=progress,
        pending_task_ids=("t1",),
        timestamp=at,
    )


async def test_a_batch_is_stored_per_item_and_touches_activity_without_a_version_bump(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    first, second = await started_contract(repo), await started_contract(repo)
    other_owner = await repo.create_contract(Actor("bob", Role.REVIEWER), "B", "simple")
    before = {
        cid: (await queries.get_contract(store, cid, "alice")).contract for cid in (first, second)
    }
    now = clock.advance(600)
    batch = [
        beat(first, now - timedelta(seconds=20), progress=10),
        beat("no-such-contract", now),
        beat(first, now - timedelta(seconds=5), progress=20),
        beat(other_owner.contract.id, now),
        beat(second, now, state="idle", progress=0),
    ]
    result = await repo.record_heartbeats(batch, "alice")
    assert result.accepted == (batch[0], batch[2], batch[4])
    assert result.rejected == (batch[1], batch[3])
    for cid in (first, second):
        after = (await queries.get_contract(store, cid, "alice")).contract
        assert after.version == before[cid].version
        assert after.last_activity_at == now
    history = await queries.heartbeat_history(store, first, "alice", limit=10)
    assert history == [batch[2], batch[0]]  # newest first


async def test_status_reads_the_latest_heartbeat_and_judges_liveness(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    waiting = await queries.supervisor_status(
        store, cid, "alice", now=clock.now(), heartbeat_timeout=TIMEOUT
    )
    assert (waiting.state, waiting.alive, waiting.last_heartbeat) == (None, False, None)
    t1 = clock.advance(10)
    await repo.record_heartbeats([beat(cid, t1, progress=40)], "alice")
    await repo.record_heartbeats([beat(cid, t1 - timedelta(seconds=9), progress=30)], None)
    status = await queries.supervisor_status(store, cid, "alice", now=t1, heartbeat_timeout=TIMEOUT)
    assert (status.progress, status.last_heartbeat, status.alive) == (40, t1, True)
    assert status.to_wire()["pending_task_ids"] == ["t1"]
    late = await queries.supervisor_status(
        store, cid, "alice", now=t1 + TIMEOUT + timedelta(seconds=1), heartbeat_timeout=TIMEOUT
    )
    assert late.alive is False


async def test_status_of_a_contract_without_supervisor(
    repo: ContractRepository, store: Store
) -> None:
    created = await repo.create_contract(REVIEWER, "No supervisor", "simple")
    with pytest.raises(SupervisorNotFound):
        await queries.supervisor_status(
            store,
            created.contract.id,
            "alice",
            now=created.contract.created_at,
            heartbeat_timeout=TIMEOUT,
        )
    with pytest.raises(ContractNotFound):
        await queries.supervisor_status(
            store,
            created.contract.id,
            "bob",
            now=created.contract.created_at,
            heartbeat_timeout=TIMEOUT,
        )


def saved(state: str, at: datetime, **extra: object) -> SupervisorPersistentState:
    return SupervisorPersistentState.parse(
        {
            "state": state,
            "phase": "plan",
            "createdAt": at.isoformat(),
            "updatedAt": at.isoformat(),
            **extra,
        }
    )


async def test_saved_state_round_trips_and_state_changes_are_logged(
    repo: ContractRepository, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    assert await repo.load_supervisor_state(cid, "alice") is None
    first = await repo.save_supervisor_state(cid, SUPERVISOR, saved("working", clock.now()))
    assert [e.payload["new_state"] for e in first.events] == ["working"]
    same = await repo.save_supervisor_state(cid, SUPERVISOR, saved("working", clock.now()))
    assert same.events == ()
    done = await repo.save_supervisor_state(cid, SUPERVISOR, saved("completed", clock.now()))
    assert done.events[0].type is EventType.SUPERVISOR_STATE_CHANGED
    assert (done.events[0].payload["old_state"], done.events[0].payload["new_state"]) == (
        "working",
        "completed",
    )
    with pytest.raises(InvalidTransition):
        await repo.save_supervisor_state(cid, SUPERVISOR, saved("working", clock.now()))
    loaded = await repo.load_supervisor_state(cid, "alice")
    assert loaded == saved("completed", clock.now())


async def test_restoration_uses_the_saved_state_and_pending_questions(
    repo: ContractRepository, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    fresh = await repo.restoration(cid, "alice")
    assert fresh.action is RestorationAction.START_FRESH
    asked = await repo.ask_question(cid, SUPERVISOR, "Proceed?", "confirmation")
    await repo.save_supervisor_state(cid, SUPERVISOR, saved("waiting_for_user", clock.now()))
    plan = await repo.restoration(cid, "alice")
    assert plan.action is RestorationAction.RESUME
    assert plan.redeliver_questions == asked.questions
    with pytest.raises(ContractNotFound):
        await repo.restoration(cid, "bob")
