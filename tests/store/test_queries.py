"""Reads: contract lists with filters, questions, event pages, dashboard, export."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.actors import Actor, Role
from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.dashboard import aggregate_dashboard
from core.model import QuestionStatus, TaskStatus
from core.status import ContractStatus
from core.store import ContractRepository, Store, aggregates, queries
from core.store.queries import ContractFilter
from core.supervisor import Heartbeat, SupervisorState
from tests.store.helpers import REVIEWER, SUPERVISOR, started_contract

BOB = Actor("bob", Role.REVIEWER)


async def _fleet(repo: ContractRepository, clock: ManualClock) -> dict[str, str]:
    """alice: quiet (stale), busy, waiting, paused, created; bob: one of his own."""
    ids = {"quiet": await started_contract(repo)}
    clock.advance(minutes=45)
    ids["busy"] = await started_contract(repo, "specification")
    ids["waiting"] = await started_contract(repo)
    await repo.ask_question(ids["waiting"], SUPERVISOR, "Which DB?", "free_text")
    ids["paused"] = await started_contract(repo)
    await repo.change_status(ids["paused"], REVIEWER, "paused")
    await repo.create_task(ids["busy"], SUPERVISOR, "build", task_id="build-1")
    await repo.update_task(ids["busy"], SUPERVISOR, "build-1", TaskStatus.RUNNING)
    ids["created"] = (await repo.create_contract(REVIEWER, "Fresh", "execute")).contract.id
    ids["bobs"] = (await repo.create_contract(BOB, "Bob's", "simple")).contract.id
    clock.advance(minutes=1)
    return ids


async def test_list_filters_count_and_order(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    ids = await _fleet(repo, clock)
    now = clock.now()

    async def listed(**where: object) -> tuple[list[str], int]:
        page = await queries.list_contracts(store, "alice", ContractFilter(**where), now=now)
        return [c.id for c in page.contracts], page.total

    everything, total = await listed()
    assert total == 5 and ids["bobs"] not in everything
    activity = [
        c.last_activity_at
        for c in (await queries.list_contracts(store, "alice", ContractFilter(), now=now)).contracts
    ]
    assert activity == sorted(activity, reverse=True)
    assert await listed(stale_threshold=timedelta(minutes=30)) == ([ids["quiet"]], 1)
    assert await listed(waiting=True) == ([ids["waiting"]], 1)
    assert set((await listed(statuses=[ContractStatus.PAUSED, ContractStatus.CREATED]))[0]) == {
        ids["paused"],
        ids["created"],
    }
    assert (await listed(phase="research"))[0] == [ids["busy"]]
    first_page, counted = await listed(limit=2, offset=0)
    second_page, _ = await listed(limit=2, offset=2)
    assert counted == 5 and len(first_page) == 2 and not set(first_page) & set(second_page)
    assert (await listed(updated_since=now + timedelta(seconds=1)))[1] == 0


async def test_questions_list_is_owner_scoped(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    ids = await _fleet(repo, clock)
    pending = await queries.list_questions(store, "alice", status=QuestionStatus.PENDING)
    assert [q.contract_id for q in pending] == [ids["waiting"]]
    assert await queries.list_questions(store, "bob") == []
    assert await queries.list_questions(store, "alice", contract_id=ids["busy"]) == []


async def test_event_pages_by_seq_owner_and_contract(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    ids = await _fleet(repo, clock)
    everything = (await queries.events_after(store, None, limit=1000)).events
    alice = (await queries.events_after(store, "alice", limit=1000)).events
    assert len(everything) == len(alice) + 1  # bob's contract_created
    first = await queries.events_after(store, "alice", after=0, limit=3)
    rest = await queries.events_after(store, "alice", after=first.last_seq, limit=1000)
    assert first.events + rest.events == tuple(alice)
    assert (
        await queries.events_after(store, "alice", after=rest.last_seq)
    ).last_seq == rest.last_seq
    mine = await queries.events_after(store, "alice", contract_id=ids["paused"], limit=1000)
    assert {e.contract_id for e in mine.events} == {ids["paused"]}
    assert await queries.events_after(store, "bob", contract_id=ids["paused"]) == queries.EventPage(
        (), 0
    )
    assert await queries.head_seq(store) == everything[-1].seq


async def test_sql_dashboard_equals_the_in_memory_one(
    repo: ContractRepository, store: Store, clock: ManualClock, config: ContractTimeoutConfig
) -> None:
    """The replica's aggregate_dashboard over all rows is the reference for the SQL one."""
    ids = await _fleet(repo, clock)
    now = clock.now()
    busy = await queries.get_contract(store, ids["busy"], "alice")
    supervisor_task = busy.contract.supervisor_task_id or ""
    await repo.record_heartbeats([_beat(ids["busy"], supervisor_task, now)], "alice")
    sql = await aggregates.dashboard(store, "alice", now=now, config=config, recent_limit=5)
    contracts = (
        await queries.list_contracts(store, "alice", ContractFilter(limit=1000), now=now)
    ).contracts
    tasks = [t for c in contracts for t in (await queries.get_contract(store, c.id, "alice")).tasks]
    asked = await queries.list_questions(store, "alice")
    recent = tuple(reversed((await queries.events_after(store, "alice", limit=1000)).events))[:5]
    alive = {supervisor_task}
    memory = aggregate_dashboard(
        contracts,
        tasks,
        asked,
        recent,
        alive_supervisor_task_ids=alive,
        now=now,
        cfg=config,
        live_supervisors=[(None, ())],  # its one live heartbeat names no daemon or worktree
    )
    assert sql == memory
    assert sql.status_counts[ContractStatus.ACTIVE] == 2
    assert sql.resource_usage.active_supervisors == 1
    assert sql.resource_usage.running_tasks == 1
    assert [s.id for s in sql.stale_contracts] == [ids["quiet"]]


def _beat(contract_id: str, task_id: str, at: datetime) -> Heartbeat:
    return Heartbeat(task_id, contract_id, SupervisorState.WORKING, "research", "x", 5, (), at)


async def test_export_holds_everything_about_one_contract(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    ids = await _fleet(repo, clock)
    exported = await queries.export_contract(store, ids["waiting"], "alice")
    assert exported["contract"]["id"] == ids["waiting"]
    assert [q["question"] for q in exported["questions"]] == ["Which DB?"]
    assert [t["isSupervisor"] for t in exported["tasks"]] == [True]
    types = [e["type"] for e in exported["events"]]
    assert types[0] == "contract_created" and "question_asked" in types
    assert {e["contract_id"] for e in exported["events"]} == {ids["waiting"]}
    assert exported["supervisor"] is None and exported["heartbeats"] == []
