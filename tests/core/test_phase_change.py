"""The phase-change decision: its answers and its refusals, in their order (spec §6.1, §6.3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.actors import SYSTEM, Actor, Role
from core.api.errors import http_status
from core.errors import (
    ErrorCode,
    Forbidden,
    InvalidTransition,
    PhaseGuardRequired,
    ValidationFailed,
    VersionConflict,
)
from core.model import Contract
from core.phase_change import (
    PhaseChangeDecision,
    PhaseChangeKind,
    PhaseChangeRequest,
    decide_phase_change,
)
from core.phases import ContractType
from core.status import ContractStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REVIEWER = Actor("ann", Role.REVIEWER)
ADMIN = Actor("root", Role.ADMIN)
SUPERVISOR = Actor("bot", Role.SUPERVISOR)
K = PhaseChangeKind
S = ContractStatus
ALL_DONE = {
    "research": ("research-notes",),
    "specify": ("requirements-document",),
    "plan": ("plan-document",),
    "execute": ("pull-request",),
}


def contract(**changes: Any) -> Contract:
    """A guarded specification contract in `plan`, version 4, with every deliverable done."""
    fields: dict[str, Any] = {
        "id": "c1",
        "owner": "ann",
        "name": "Ship it",
        "contract_type": ContractType.SPECIFICATION,
        "phase": "plan",
        "status": S.ACTIVE,
        "created_at": NOW,
        "updated_at": NOW,
        "status_changed_at": NOW,
        "last_activity_at": NOW,
        "version": 4,
        "completed_deliverables": ALL_DONE,
    }
    fields.update(changes)
    return Contract(**fields)


def decide(c: Contract, actor: Actor = REVIEWER, **request: Any) -> PhaseChangeDecision:
    request.setdefault("phase", "execute")
    return decide_phase_change(c, [], [], PhaseChangeRequest(**request), actor)


# 1. version


def test_stale_version_is_a_conflict_with_details() -> None:
    with pytest.raises(VersionConflict) as caught:
        decide(contract(), expected_version=3)
    assert caught.value.details == {
        "expected_version": 3,
        "actual_version": 4,
        "current_phase": "plan",
    }
    assert http_status(caught.value.code) == 409


def test_version_is_checked_before_anything_else() -> None:
    closed = contract(status=S.ARCHIVED)
    with pytest.raises(VersionConflict):
        decide(closed, SUPERVISOR, phase="nowhere", confirmed=True, expected_version=1)


def test_matching_version_passes() -> None:
    assert decide(contract(), confirmed=True, expected_version=4).kind is K.ADVANCE


# 2. open contract


@pytest.mark.parametrize("status", [S.COMPLETING, S.COMPLETED, S.FAILED, S.ARCHIVED])
def test_closed_contract_refuses_phase_changes(status: ContractStatus) -> None:
    with pytest.raises(ValidationFailed, match="open contract"):
        decide(contract(status=status), phase="nowhere")


@pytest.mark.parametrize("status", [S.CREATED, S.ACTIVE, S.WAITING_FOR_INPUT, S.PAUSED, S.BLOCKED])
def test_open_contract_may_change_phase(status: ContractStatus) -> None:
    assert decide(contract(status=status, phase_guard=False)).kind is K.ADVANCE


# 3. target phase


def test_unknown_phase_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        decide(contract(), phase="deploy", feedback="no")
    assert caught.value.details["missing_requirements"] == [
        "Phase must be one of: research, specify, plan, execute, review"
    ]


def test_same_phase_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="already in phase 'plan'"):
        decide(contract(), phase="plan", confirmed=True)


# 4. feedback


def test_guarded_feedback_requests_changes_even_with_deliverables_missing() -> None:
    decision = decide(contract(completed_deliverables={}), REVIEWER, feedback="add tests")
    assert decision == PhaseChangeDecision(K.CHANGES_REQUESTED, "execute", "plan")


@pytest.mark.parametrize("guard", [True, False])
def test_a_supervisor_may_not_request_changes(guard: bool) -> None:
    """Feedback is a reviewer's decision (core.permissions), guarded contract or not."""
    with pytest.raises(Forbidden, match="request changes"):
        decide(contract(phase_guard=guard), SUPERVISOR, feedback="add tests")


def test_blank_feedback_is_no_feedback() -> None:
    assert decide(contract(), feedback="  ").kind is K.REQUIRES_CONFIRMATION


def test_confirmed_with_feedback_advances() -> None:
    assert decide(contract(), confirmed=True, feedback="fine").kind is K.ADVANCE


def test_unguarded_feedback_is_ignored() -> None:
    assert decide(contract(phase_guard=False), feedback="hm").kind is K.ADVANCE


# 5. required deliverables


def test_forward_with_missing_deliverables_is_refused() -> None:
    missing_plan = contract(completed_deliverables={**ALL_DONE, "plan": ()})
    with pytest.raises(ValidationFailed) as caught:
        decide(missing_plan, confirmed=True)
    assert caught.value.details["missing_requirements"] == ["Deliverable: plan-document"]
    assert caught.value.code is ErrorCode.VALIDATION_FAILED


def test_skipped_phases_are_checked_too() -> None:
    early = contract(
        phase="research", completed_deliverables={"specify": ("requirements-document",)}
    )
    with pytest.raises(ValidationFailed) as caught:
        decide(early, phase="execute", confirmed=True)
    assert caught.value.details["missing_requirements"] == [
        "Deliverable: research-notes",
        "Deliverable: plan-document",
    ]


def test_target_phase_deliverables_are_not_required() -> None:
    c = contract(completed_deliverables={"plan": ("plan-document",)})
    assert decide(c, confirmed=True).kind is K.ADVANCE


def test_backward_move_checks_nothing() -> None:
    decision = decide(contract(completed_deliverables={}), phase="research", confirmed=True)
    assert decision == PhaseChangeDecision(K.ADVANCE, "research", "plan")


@pytest.mark.parametrize("actor", [REVIEWER, ADMIN])
def test_human_force_skips_missing_deliverables(actor: Actor) -> None:
    decision = decide(contract(completed_deliverables={}), actor, confirmed=True, force=True)
    assert decision.kind is K.ADVANCE
    assert decision.forced_past == ("Deliverable: plan-document",)


@pytest.mark.parametrize("actor", [SUPERVISOR, SYSTEM])
def test_force_by_anyone_else_is_ignored(actor: Actor) -> None:
    with pytest.raises(ValidationFailed):
        decide(contract(completed_deliverables={}, phase_guard=False), actor, force=True)


def test_force_with_nothing_missing_records_nothing() -> None:
    assert decide(contract(), confirmed=True, force=True).forced_past == ()


# 6. supervisor confirmation


def test_supervisor_cannot_confirm_a_guarded_change() -> None:
    with pytest.raises(PhaseGuardRequired) as caught:
        decide(contract(), SUPERVISOR, confirmed=True)
    assert http_status(caught.value.code) == 409


def test_missing_deliverables_are_reported_before_the_guard() -> None:
    with pytest.raises(ValidationFailed):
        decide(contract(completed_deliverables={}), SUPERVISOR, confirmed=True)


def test_supervisor_may_advance_an_unguarded_contract() -> None:
    assert decide(contract(phase_guard=False), SUPERVISOR, confirmed=True).kind is K.ADVANCE


# 7. confirmation required


@pytest.mark.parametrize("actor", [REVIEWER, SUPERVISOR])
def test_guarded_unconfirmed_requires_confirmation_for_everyone(actor: Actor) -> None:
    decision = decide(contract(), actor)
    assert decision == PhaseChangeDecision(K.REQUIRES_CONFIRMATION, "execute", "plan")


def test_confirmation_may_be_requested_while_already_waiting() -> None:
    decision = decide(contract(status=S.WAITING_FOR_INPUT))
    assert decision.kind is K.REQUIRES_CONFIRMATION


@pytest.mark.parametrize("status", [S.CREATED, S.PAUSED, S.BLOCKED])
def test_confirmation_cannot_be_requested_from_other_statuses(status: ContractStatus) -> None:
    with pytest.raises(InvalidTransition) as caught:
        decide(contract(status=status))
    details = caught.value.details
    assert (details["from"], details["to"]) == (status.value, "waiting_for_input")
    assert "waiting_for_input" not in details["allowed"]


# 8. advance


def test_reviewer_confirmation_advances() -> None:
    decision = decide(contract(), ADMIN, confirmed=True, comment="looks good")
    assert decision == PhaseChangeDecision(K.ADVANCE, "execute", "plan")


def test_unguarded_change_advances_without_confirmation() -> None:
    assert decide(contract(phase_guard=False), SUPERVISOR).kind is K.ADVANCE
