"""The time-driven rules through the store: each contract its own small transaction."""

from __future__ import annotations

from datetime import timedelta

from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.events import EventType
from core.model import QuestionStatus, TaskStatus
from core.status import ContractStatus
from core.store import ContractRepository, Store, queries
from core.supervisor import Heartbeat, SupervisorState
from tests.store.helpers import REVIEWER, SUPERVISOR, started_contract


async def test_stale_is_reported_once_per_episode_without_a_version_bump(
    repo: ContractRepository, store: Store, clock: ManualClock, config: ContractTimeoutConfig
) -> None:
    cid = await started_contract(repo)
    version = (await queries.get_contract(store, cid, "alice")).contract.version
    assert (await repo.sweep(clock.advance(minutes=30))).stale == []  # not *over* the threshold
    report = await repo.sweep(clock.advance(minutes=1))
    assert report.stale == [cid]
    assert [(e.type, e.payload["stale_duration_secs"]) for e in report.events] == [
        (EventType.STALE_DETECTED, 31 * 60)
    ]
    assert report.events[0].actor.role.value == "system"
    assert (await repo.sweep(clock.advance(minutes=10))).stale == []  # same episode
    stored = (await queries.get_contract(store, cid, "alice")).contract
    assert stored.version == version and stored.stale_notified_at is not None
    sup = (await queries.get_contract(store, cid, None)).contract.supervisor_task_id or ""
    beat = Heartbeat(sup, cid, SupervisorState.WORKING, "plan", "", 0, (), clock.now())
    await repo.record_heartbeats([beat], "alice")  # activity ends the episode
    assert (await repo.sweep(clock.advance(minutes=31))).stale == [cid]


async def test_input_timeout_pauses_and_times_out_the_questions(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    asked = await repo.ask_question(cid, SUPERVISOR, "Proceed?", "confirmation")
    assert (await repo.sweep(clock.advance(hours=23))).timed_out == []
    report = await repo.sweep(clock.advance(hours=1))
    assert report.timed_out == [cid]
    assert [e.type for e in report.events] == [
        EventType.STATUS_CHANGED,
        EventType.QUESTION_TIMED_OUT,
    ]
    detail = await queries.get_contract(store, cid, "alice")
    assert detail.contract.status is ContractStatus.PAUSED and detail.pending_questions == ()
    stored = await queries.get_question(store, asked.questions[0].id, "alice")
    assert stored.status is QuestionStatus.TIMED_OUT


async def test_grace_completes_and_retention_deletes(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    cid = await started_contract(repo, "execute", phase_guard=False)
    await repo.create_task(cid, SUPERVISOR, "work", task_id="w")
    completing = await repo.update_task(cid, SUPERVISOR, "w", TaskStatus.DONE)
    assert completing.contract.status is ContractStatus.COMPLETING
    report = await repo.sweep(clock.advance(minutes=5))
    assert report.completed == [cid]
    await repo.change_status(cid, REVIEWER, "archived")
    assert (await repo.sweep(clock.advance(days=29))).deleted == []
    report = await repo.sweep(clock.advance(days=1))
    assert report.deleted == [cid]
    assert [e.type for e in report.events] == [EventType.CONTRACT_DELETED]
    assert await queries.list_contracts(
        store, "alice", queries.ContractFilter(), now=clock.now()
    ) == (queries.ContractPage((), 0))


async def test_old_heartbeats_are_purged(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    start = clock.now()
    sup = (await queries.get_contract(store, cid, None)).contract.supervisor_task_id or ""
    beats = [
        Heartbeat(sup, cid, SupervisorState.WORKING, "plan", "", i, (), start + timedelta(hours=i))
        for i in range(4)
    ]
    clock.advance(hours=3)
    await repo.record_heartbeats(beats, "alice")
    report = await repo.sweep(start + timedelta(hours=25, seconds=1))
    assert report.heartbeats_purged == 2
    kept = await queries.heartbeat_history(store, cid, "alice", limit=10)
    assert [hb.progress for hb in kept] == [3, 2]
