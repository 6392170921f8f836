"""The `change_phase` use case: confirmation requests, feedback and advances (API.md phase)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.errors import (
    PhaseGuardRequired,
    VersionConflict,
)
from core.events import EventType, NewEvent
from core.lifecycle import (
    create_task,
)
from core.model import PendingPhaseConfirmation, TaskStatus
from core.outcome import (
    ConfirmationRequested,
    DeliverableProgress,
    FeedbackRecorded,
    StatusMoved,
)
from core.status import ContractStatus, WaitingFor
from tests.core.desk import (
    ADMIN,
    SUPERVISOR,
    Desk,
    pending_question,
    phase,
    started,
    status,
    types,
)

S = ContractStatus
E = EventType


# change_phase: confirmation


def guarded_plan_done() -> Desk:
    desk = started()
    desk.apply(
        create_task(desk.contract, desk.task_list, "t1", "write plan", desk.tick(), SUPERVISOR)
    )
    desk.tasks["t1"] = replace(desk.tasks["t1"], status=TaskStatus.DONE)
    desk.contract = replace(desk.contract, completed_deliverables={"plan": ("plan-document",)})
    return desk


def test_requires_confirmation_response_and_state() -> None:
    desk = guarded_plan_done()
    read = desk.contract
    outcome = phase(desk, "execute", SUPERVISOR, tid="tr-1")
    assert outcome.decision == ConfirmationRequested(
        transition_id="tr-1",
        current_phase="plan",
        next_phase="execute",
        summary="Phase 'plan' deliverables: 1 of 1 complete, 1 tasks completed.",
        deliverables=(DeliverableProgress("plan-document", "Plan Document", True),),
        phase_tasks=(desk.tasks["t1"],),
        message="Phase guard is enabled. User confirmation required.",
        missing_requirements=(),
    )
    c = outcome.contract
    assert c.pending_confirmation == PendingPhaseConfirmation("tr-1", "execute", desk.now)
    assert (c.status, c.waiting_for, c.phase) == (
        S.WAITING_FOR_INPUT,
        WaitingFor.PHASE_CONFIRMATION,
        "plan",
    )
    assert (c.version, c.last_activity_at) == (read.version + 1, read.last_activity_at)
    assert outcome.events[0] == NewEvent(
        E.PHASE_CONFIRMATION_REQUESTED,
        "c1",
        {"current_phase": "plan", "next_phase": "execute", "transition_id": "tr-1"},
    )
    assert types(outcome) == [E.PHASE_CONFIRMATION_REQUESTED, E.STATUS_CHANGED]


def test_summary_counts_incomplete_deliverables() -> None:
    desk = started()
    desk.contract = replace(desk.contract, completed_deliverables={})
    outcome = phase(desk, "execute", force=True)
    assert isinstance(outcome.decision, ConfirmationRequested)
    assert outcome.decision.summary == (
        "Phase 'plan' deliverables: 0 of 1 complete, 0 tasks completed."
    )
    assert outcome.decision.phase_tasks == ()  # the supervisor task is not a phase task


def test_repeated_request_reuses_the_pending_confirmation() -> None:
    desk = guarded_plan_done()
    first = phase(desk, "execute", SUPERVISOR, tid="tr-1")
    again = phase(desk, "execute", SUPERVISOR, tid="tr-2")
    assert again.decision == first.decision
    assert (again.events, again.contract) == ((), first.contract)


def test_request_for_another_phase_replaces_the_confirmation() -> None:
    desk = started("specification")
    desk.contract = replace(desk.contract, phase="plan")
    phase(desk, "research", tid="tr-1")
    other = phase(desk, "specify", tid="tr-2")
    assert types(other) == [E.PHASE_CONFIRMATION_REQUESTED]
    assert other.contract.pending_confirmation == PendingPhaseConfirmation(
        "tr-2", "specify", desk.now
    )


def test_resume_with_a_pending_confirmation_waits_again_with_the_same_transition() -> None:
    desk = guarded_plan_done()
    phase(desk, "execute", tid="tr-1")
    status(desk, S.PAUSED)
    resumed = status(desk, S.ACTIVE)
    # Resumed with the confirmation still pending: it waits on the reviewer again at once.
    assert resumed.contract.status is S.WAITING_FOR_INPUT
    assert resumed.contract.waiting_for is WaitingFor.PHASE_CONFIRMATION
    assert resumed.decision == StatusMoved(S.PAUSED, S.WAITING_FOR_INPUT)
    assert [e.payload["new_status"] for e in resumed.events] == ["active", "waiting_for_input"]
    again = phase(desk, "execute", tid="tr-2")
    assert isinstance(again.decision, ConfirmationRequested)
    assert again.decision.transition_id == "tr-1"
    assert types(again) == []
    assert again.contract.waiting_for is WaitingFor.PHASE_CONFIRMATION


def test_resume_with_an_open_question_waits_on_the_reviewer_not_active() -> None:
    desk = started()
    status(desk, S.PAUSED)
    pending_question(desk)  # asked while paused: the status stays `paused`
    resumed = status(desk, S.ACTIVE)
    assert resumed.contract.status is S.WAITING_FOR_INPUT
    assert resumed.contract.waiting_for is WaitingFor.QUESTION


def test_resume_with_nothing_pending_is_active() -> None:
    desk = started()
    status(desk, S.PAUSED)
    assert status(desk, S.ACTIVE).contract.status is S.ACTIVE


def test_confirmation_while_a_question_waits_names_the_confirmation() -> None:
    desk = guarded_plan_done()
    pending_question(desk)
    status(desk, S.WAITING_FOR_INPUT)
    outcome = phase(desk, "execute")
    assert types(outcome) == [E.PHASE_CONFIRMATION_REQUESTED]
    assert outcome.contract.waiting_for is WaitingFor.PHASE_CONFIRMATION


# change_phase: feedback


def test_feedback_rejects_the_confirmation() -> None:
    desk = guarded_plan_done()
    phase(desk, "execute")
    outcome = phase(desk, "execute", feedback="Add rollback plan")
    decision = outcome.decision
    assert isinstance(decision, FeedbackRecorded)
    assert decision.feedback == "Add rollback plan"
    feedback_id = decision.feedback_id
    assert feedback_id == outcome.events[0].payload["feedback_id"]
    c = outcome.contract
    assert (c.status, c.waiting_for, c.pending_confirmation, c.phase) == (
        S.ACTIVE,
        None,
        None,
        "plan",
    )
    assert outcome.events[0] == NewEvent(
        E.CHANGES_REQUESTED,
        "c1",
        {"feedback": "Add rollback plan", "feedback_id": feedback_id, "phase": "plan"},
    )
    assert types(outcome) == [E.CHANGES_REQUESTED, E.STATUS_CHANGED]


def test_feedback_keeps_waiting_while_a_question_is_pending() -> None:
    desk = guarded_plan_done()
    phase(desk, "execute")
    pending_question(desk)
    outcome = phase(desk, "execute", feedback="no")
    assert (outcome.contract.status, outcome.contract.waiting_for) == (
        S.WAITING_FOR_INPUT,
        WaitingFor.QUESTION,
    )
    assert types(outcome) == [E.CHANGES_REQUESTED]


def test_feedback_with_nothing_pending_is_only_an_event() -> None:
    desk = guarded_plan_done()
    read = desk.contract
    outcome = phase(desk, "execute", feedback="not yet")
    assert (outcome.contract, types(outcome)) == (read, [E.CHANGES_REQUESTED])


# change_phase: advance


def test_confirmed_advance_resolves_the_confirmation() -> None:
    desk = guarded_plan_done()
    phase(desk, "execute")
    read = desk.contract
    outcome = phase(
        desk, "execute", ADMIN, confirmed=True, comment="ship", expected_version=read.version
    )
    c = outcome.contract
    assert (c.phase, c.status, c.waiting_for, c.pending_confirmation) == (
        "execute",
        S.ACTIVE,
        None,
        None,
    )
    assert (c.version, c.last_activity_at, outcome.decision) == (read.version + 1, desk.now, None)
    assert outcome.events[0] == NewEvent(
        E.PHASE_CHANGED, "c1", {"old_phase": "plan", "new_phase": "execute", "comment": "ship"}
    )
    assert types(outcome) == [E.PHASE_CHANGED, E.STATUS_CHANGED]


def test_advance_keeps_waiting_for_a_pending_question() -> None:
    desk = guarded_plan_done()
    phase(desk, "execute")
    pending_question(desk)
    outcome = phase(desk, "execute", confirmed=True)
    assert (outcome.contract.status, outcome.contract.waiting_for) == (
        S.WAITING_FOR_INPUT,
        WaitingFor.QUESTION,
    )
    assert types(outcome) == [E.PHASE_CHANGED]


def test_unguarded_advance_is_one_event_and_one_version() -> None:
    desk = started(phase_guard=False)
    desk.contract = replace(desk.contract, completed_deliverables={"plan": ("plan-document",)})
    read = desk.contract
    outcome = phase(desk, "execute", SUPERVISOR)
    assert (outcome.contract.phase, outcome.contract.status) == ("execute", S.ACTIVE)
    assert (types(outcome), outcome.contract.version) == ([E.PHASE_CHANGED], read.version + 1)


def test_phase_change_refusals_propagate() -> None:
    desk = guarded_plan_done()
    with pytest.raises(PhaseGuardRequired):
        phase(desk, "execute", SUPERVISOR, confirmed=True)
    with pytest.raises(VersionConflict):
        phase(desk, "execute", confirmed=True, expected_version=1)
