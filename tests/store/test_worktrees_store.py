"""Worktrees reported in heartbeats and the cleanup request, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from core.clock import ManualClock
from core.errors import Forbidden, ValidationFailed
from core.events import EventType
from core.store import ContractRepository, Store
from core.store.worktrees import list_reported
from core.supervisor import Heartbeat, SupervisorState
from tests.store.helpers import REVIEWER, SUPERVISOR, started_contract


def _beat(repo_now: ManualClock, contract_id: str, task_id: str, worktrees: object) -> Heartbeat:
    return Heartbeat.parse(
        {"task_id": task_id, "state": SupervisorState.WORKING.value, "phase": "plan",
         "worktrees": worktrees},
        contract_id,
        repo_now.now(),
    )  # fmt: skip


async def _task_id(repo: ContractRepository, contract_id: str) -> str:
    contract = await repo.store.run_read(lambda uow: uow.contract(contract_id, None))
    assert contract.supervisor_task_id is not None
    return contract.supervisor_task_id


async def test_heartbeats_replace_the_reported_worktrees(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    task = await _task_id(repo, cid)
    await repo.record_heartbeats([_beat(clock, cid, task, ["/w/a", "/w/b", "/w/a"])], "alice")
    assert [w.path for w in await list_reported(store, "alice")] == ["/w/a", "/w/b"]
    clock.advance(1)
    await repo.record_heartbeats([_beat(clock, cid, task, None)], "alice")  # not reported
    assert len(await list_reported(store, "alice")) == 2
    await repo.record_heartbeats([_beat(clock, cid, task, ["/w/b"])], "alice")
    [left] = await list_reported(store, "alice")
    assert (left.path, left.cleanable, left.contract_status.value) == ("/w/b", False, "active")
    assert await list_reported(store, "bob") == []
    assert await list_reported(store, "alice", cleanable_only=True) == []


async def test_cleanup_requests_one_event_per_worktree_of_a_finished_contract(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    task = await _task_id(repo, cid)
    await repo.record_heartbeats([_beat(clock, cid, task, ["/w/1", "/w/2"])], "alice")
    with pytest.raises(ValidationFailed, match="completed, failed or archived"):
        await repo.request_worktree_cleanup(cid, REVIEWER, None)
    await repo.change_status(cid, SUPERVISOR, "failed", reason="broken")
    assert [w.path for w in await list_reported(store, "alice", cleanable_only=True)] == [
        "/w/1",
        "/w/2",
    ]
    with pytest.raises(Forbidden):
        await repo.request_worktree_cleanup(cid, SUPERVISOR, None)
    with pytest.raises(ValidationFailed, match="/w/3"):
        await repo.request_worktree_cleanup(cid, REVIEWER, ["/w/3"])
    applied = await repo.request_worktree_cleanup(cid, REVIEWER, None)
    assert [e.type for e in applied.events] == [EventType.WORKTREE_CLEANUP_REQUESTED] * 2
    assert [e.payload["path"] for e in applied.events] == ["/w/1", "/w/2"]
    assert all(e.seq is not None for e in applied.events)
