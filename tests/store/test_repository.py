"""Every use case persists its decision and its events in one transaction, on both backends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from core.actors import Actor
from core.clock import ManualClock
from core.errors import (
    ContractNotFound,
    DomainError,
    InvalidTransition,
    QuestionNotFound,
    ValidationFailed,
    VersionConflict,
)
from core.events import EventType, NewEvent
from core.model import QuestionStatus, TaskStatus
from core.outcome import ConfirmationRequested, FeedbackRecorded, Outcome
from core.phase_change import PhaseChangeRequest
from core.status import ContractStatus, WaitingFor
from core.store import Applied, ContractRepository, Store, event_log, open_store, queries
from core.store.unit_of_work import WriteUnitOfWork
from tests.store.helpers import INTRUDER, REVIEWER, SUPERVISOR, started_contract

CUSTOM = {
    "phases": [
        {"id": "draft", "name": "Draft", "order": 0},
        {"id": "ship", "name": "Ship", "order": 1},
    ],
    "defaultPhase": "draft",
    "deliverables": {"draft": [{"id": "outline", "name": "Outline", "priority": "recommended"}]},
}


async def _log(store: Store) -> list[tuple[int, str]]:
    page = await queries.events_after(store, None, limit=1000)
    return [(e.seq or 0, e.type.value) for e in page.events]


async def _stored(store: Store, contract_id: str) -> Any:
    return (await queries.get_contract(store, contract_id, "alice")).contract


async def _assert_committed(store: Store, applied: Applied, before: list[tuple[int, str]]) -> None:
    """The contract as returned is the contract as stored; its events follow the old log,
    stored exactly as returned (payload, actor, owner and time included)."""
    if not applied.deleted:
        assert await _stored(store, applied.contract.id) == applied.contract
    after = await _log(store)
    added = [(e.seq, e.type.value) for e in applied.events]
    assert after == before + added
    assert [seq for seq, _ in after] == list(range(1, len(after) + 1))
    stored = await queries.events_after(store, "alice", after=len(before), limit=1000)
    assert stored.events == applied.events


async def test_create_contract_round_trips_every_field(
    repo: ContractRepository, store: Store
) -> None:
    applied = await repo.create_contract(
        REVIEWER, "Custom", "custom", description="d", phase_config=CUSTOM, phase_guard=False
    )
    assert applied.contract.version == 1
    assert [(e.seq, e.type) for e in applied.events] == [(1, EventType.CONTRACT_CREATED)]
    assert applied.events[0].owner == "alice" and applied.events[0].actor == REVIEWER
    stored = await _stored(store, applied.contract.id)
    assert stored == applied.contract
    assert stored.phase_config.phase_ids == ["draft", "ship"]


async def test_each_change_bumps_the_version_once_and_logs_its_events(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    steps: list[Callable[[], Awaitable[Applied]]] = [
        lambda: repo.update_contract(cid, REVIEWER, name="Renamed", expected_version=3),
        lambda: repo.set_auto_complete(cid, REVIEWER, False),
        lambda: repo.mark_deliverable(cid, SUPERVISOR, "plan-document"),
        lambda: repo.change_phase(cid, REVIEWER, PhaseChangeRequest("execute", confirmed=True)),
        lambda: repo.create_task(cid, SUPERVISOR, "build", task_id="t-build"),
        lambda: repo.update_task(cid, SUPERVISOR, "t-build", TaskStatus.DONE),
        lambda: repo.change_status(cid, SUPERVISOR, "blocked", blocker="waiting on CI"),
        lambda: repo.change_status(cid, SUPERVISOR, ContractStatus.ACTIVE),
    ]
    for step in steps:
        clock.advance(60)
        before, version = await _log(store), (await _stored(store, cid)).version
        applied = await step()
        assert applied.contract.version == version + 1
        assert applied.events
        await _assert_committed(store, applied, before)


async def test_guarded_phase_change_waits_then_feedback_reactivates(
    repo: ContractRepository, store: Store
) -> None:
    cid = await started_contract(repo)
    await repo.mark_deliverable(cid, SUPERVISOR, "plan-document")  # auto-asks confirmation
    stored = await _stored(store, cid)
    assert stored.status is ContractStatus.WAITING_FOR_INPUT
    assert stored.waiting_for is WaitingFor.PHASE_CONFIRMATION
    assert stored.pending_confirmation is not None
    again = await repo.change_phase(cid, SUPERVISOR, PhaseChangeRequest("execute"))
    assert isinstance(again.decision, ConfirmationRequested)
    assert again.decision.transition_id == stored.pending_confirmation.transition_id
    before = await _log(store)
    feedback = await repo.change_phase(cid, REVIEWER, PhaseChangeRequest("execute", feedback="no"))
    decision = feedback.decision
    assert isinstance(decision, FeedbackRecorded)
    assert decision.feedback == "no"
    assert decision.feedback_id == feedback.events[0].payload["feedback_id"]
    assert feedback.contract.status is ContractStatus.ACTIVE
    assert feedback.contract.pending_confirmation is None
    await _assert_committed(store, feedback, before)


async def test_questions_are_stored_answered_and_scoped(
    repo: ContractRepository, store: Store
) -> None:
    cid = await started_contract(repo)
    asked = await repo.ask_question(
        cid, SUPERVISOR, "Which DB?", "choice", choices=["pg", "sqlite"]
    )
    question = asked.questions[0]
    assert asked.contract.status is ContractStatus.WAITING_FOR_INPUT
    assert await queries.list_questions(store, "alice", status=QuestionStatus.PENDING) == [question]
    with pytest.raises(QuestionNotFound):
        await repo.answer_question(question.id, INTRUDER, "pg")
    before = await _log(store)
    answered = await repo.answer_question(question.id, REVIEWER, "pg")
    await _assert_committed(store, answered, before)
    stored = await queries.get_question(store, question.id, "alice")
    assert (stored.status, stored.answer, stored.answered_by) == (
        QuestionStatus.ANSWERED,
        "pg",
        "alice",
    )
    assert answered.contract.status is ContractStatus.ACTIVE


async def test_restart_request_logs_an_event_without_a_version_bump(
    repo: ContractRepository, store: Store
) -> None:
    cid = await started_contract(repo)
    version = (await _stored(store, cid)).version
    before = await _log(store)
    applied = await repo.request_supervisor_restart(cid, REVIEWER)
    assert applied.contract.version == version
    assert [e.type for e in applied.events] == [EventType.SUPERVISOR_RESTART_REQUESTED]
    await _assert_committed(store, applied, before)


async def test_delete_removes_the_contract_and_its_rows_but_keeps_the_events(
    repo: ContractRepository, store: Store
) -> None:
    cid = await started_contract(repo)
    await repo.ask_question(cid, SUPERVISOR, "Go?", "confirmation")
    with pytest.raises(InvalidTransition):
        await repo.delete_contract(cid, REVIEWER)
    await repo.change_status(cid, REVIEWER, "failed", reason="abandoned")
    await repo.change_status(cid, REVIEWER, "archived")
    before = await _log(store)
    deleted = await repo.delete_contract(cid, REVIEWER)
    assert deleted.deleted
    await _assert_committed(store, deleted, before)
    with pytest.raises(ContractNotFound):
        await queries.get_contract(store, cid, "alice")
    orphans = await store.run_read(
        lambda uow: [
            uow.conn.exec_driver_sql(
                f"SELECT count(*) FROM {t} WHERE contract_id = '{cid}'"
            ).scalar()
            for t in ("tasks", "questions")
        ]
    )
    assert orphans == [0, 0]
    assert (await _log(store))[-1][1] == "contract_deleted"


FAILING: list[
    tuple[str, Callable[[ContractRepository, str], Awaitable[Applied]], type[DomainError]]
] = [
    (
        "stale version",
        lambda r, c: r.change_status(c, REVIEWER, "paused", expected_version=1),
        VersionConflict,
    ),
    ("not in table", lambda r, c: r.change_status(c, REVIEWER, "completed"), InvalidTransition),
    ("guard fails", lambda r, c: r.change_status(c, REVIEWER, "blocked"), ValidationFailed),
    (
        "unknown phase",
        lambda r, c: r.change_phase(c, REVIEWER, PhaseChangeRequest("nope")),
        ValidationFailed,
    ),
    ("bad deliverable", lambda r, c: r.mark_deliverable(c, SUPERVISOR, "nope"), DomainError),
    (
        "second supervisor",
        lambda r, c: r.create_task(c, SUPERVISOR, "s2", is_supervisor=True),
        ValidationFailed,
    ),
]


@pytest.mark.parametrize(("why", "action", "error"), FAILING, ids=[f[0] for f in FAILING])
async def test_a_refused_change_writes_nothing(
    repo: ContractRepository,
    store: Store,
    why: str,
    action: Callable[[ContractRepository, str], Awaitable[Applied]],
    error: type[DomainError],
) -> None:
    cid = await started_contract(repo)
    contract, log = await _stored(store, cid), await _log(store)
    with pytest.raises(error):
        await action(repo, cid)
    assert await _stored(store, cid) == contract
    assert await _log(store) == log


OWNED: list[Callable[[ContractRepository, str, Actor], Awaitable[Applied]]] = [
    lambda r, c, a: r.update_contract(c, a, name="x"),
    lambda r, c, a: r.set_auto_complete(c, a, False),
    lambda r, c, a: r.change_status(c, a, "paused"),
    lambda r, c, a: r.change_phase(c, a, PhaseChangeRequest("execute", force=True, confirmed=True)),
    lambda r, c, a: r.mark_deliverable(c, a, "plan-document"),
    lambda r, c, a: r.create_task(c, a, "t"),
    lambda r, c, a: r.update_task(c, a, "missing", TaskStatus.DONE),
    lambda r, c, a: r.ask_question(c, a, "?", "free_text"),
    lambda r, c, a: r.request_supervisor_restart(c, a),
    lambda r, c, a: r.delete_contract(c, a),
]


@pytest.mark.parametrize("action", OWNED)
async def test_another_owners_contract_is_not_found(
    repo: ContractRepository,
    store: Store,
    action: Callable[[ContractRepository, str, Actor], Awaitable[Applied]],
) -> None:
    cid = await started_contract(repo)
    log = await _log(store)
    with pytest.raises(ContractNotFound):
        await action(repo, cid, INTRUDER)
    with pytest.raises(ContractNotFound):
        await action(repo, "no-such-contract", REVIEWER)
    assert await _log(store) == log


async def test_persist_refuses_an_outcome_built_on_a_stale_version(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    """The UPDATE's version check is the last line of defence: 0 rows → conflict, no events."""
    cid = await started_contract(repo)
    current = await _stored(store, cid)
    stale = Outcome(
        contract=current.changed(clock.now(), name="lost update"),
        events=(NewEvent(EventType.CONTRACT_UPDATED, cid, {"changes": {"name": "x"}}),),
        previous_version=current.version - 1,
    )
    log = await _log(store)
    with pytest.raises(VersionConflict) as raised:
        await store.run_write(lambda uow: uow.apply(stale, REVIEWER, clock.now()))
    assert raised.value.details["actual_version"] == current.version
    assert await _stored(store, cid) == current
    assert await _log(store) == log


async def test_activity_only_outcomes_do_not_bump_the_version(
    repo: ContractRepository, store: Store, clock: ManualClock
) -> None:
    cid = await started_contract(repo)
    current = await _stored(store, cid)
    later = clock.advance(3600)
    touched = Outcome(
        contract=replace(current, last_activity_at=later, name="ignored"),
        previous_version=current.version,
        activity_only=True,
    )
    await store.run_write(lambda uow: uow.apply(touched, SUPERVISOR, later))
    stored = await _stored(store, cid)
    assert (stored.version, stored.name, stored.last_activity_at) == (
        current.version,
        current.name,
        later,
    )


async def test_a_replica_copies_rows_and_events_idempotently(
    repo: ContractRepository, store: Store, sqlite_url: str
) -> None:
    """put_contract / put_events / remove_contract: what the local replica applies."""
    cid = await started_contract(repo)
    contract = await _stored(store, cid)
    logged = (await queries.events_after(store, None, limit=1000)).events
    replica = await open_store(sqlite_url.replace("store.db", "replica.db"), migrate=True)
    try:

        def apply(uow: WriteUnitOfWork) -> int:
            uow.put_contracts([contract])
            return uow.put_events(logged)

        assert await replica.run_write(apply) == len(logged)
        assert await replica.run_write(apply) == 0
        assert (await queries.get_contract(replica, cid, "alice")).contract == contract
        assert (await queries.events_after(replica, "alice", limit=1000)).events == logged
        await replica.run_write(lambda uow: uow.remove_contract(cid))
        with pytest.raises(ContractNotFound):
            await queries.get_contract(replica, cid, "alice")
    finally:
        await replica.close()


async def test_change_and_events_are_one_transaction(
    repo: ContractRepository, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If appending the events fails after the contract row was updated, neither is kept."""
    cid = await started_contract(repo)
    contract, log = await _stored(store, cid), await _log(store)

    def broken_append(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(event_log, "append", broken_append)
    with pytest.raises(RuntimeError, match="disk full"):
        await repo.change_status(cid, REVIEWER, "paused")
    monkeypatch.undo()
    assert await _stored(store, cid) == contract
    assert await _log(store) == log
    assert (
        await repo.change_status(cid, REVIEWER, "paused")
    ).contract.version == contract.version + 1
