"""The auto-advance decision (spec §2.2.3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.gates import PhaseCompletionGate, TaskRequirement
from core.model import Contract, PendingPhaseConfirmation, Task, TaskStatus
from core.phases import ContractType
from core.progress import ProgressAction, ProgressDecision, ProgressSettings, decide_progress
from core.status import ContractStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)
A = ProgressAction


def contract(**changes: Any) -> Contract:
    """An unguarded simple contract in `plan` whose gate is satisfied."""
    fields: dict[str, Any] = {
        "id": "c1",
        "owner": "ann",
        "name": "Ship it",
        "contract_type": ContractType.SIMPLE,
        "phase": "plan",
        "status": ContractStatus.ACTIVE,
        "created_at": NOW,
        "updated_at": NOW,
        "status_changed_at": NOW,
        "last_activity_at": NOW,
        "phase_guard": False,
        "completed_deliverables": {"plan": ("plan-document",), "execute": ("pull-request",)},
    }
    fields.update(changes)
    return Contract(**fields)


def done_task() -> Task:
    return Task("t1", "c1", "build", TaskStatus.DONE, NOW, NOW)


def test_ready_unguarded_advances_to_next_phase() -> None:
    decision = decide_progress(contract(), [done_task()], ProgressSettings())
    assert decision == ProgressDecision(A.ADVANCE, "plan", "execute", (), "gate satisfied")


def test_ready_guarded_awaits_confirmation() -> None:
    decision = decide_progress(contract(phase_guard=True), [], ProgressSettings())
    assert (decision.action, decision.next_phase) == (A.AWAIT_CONFIRMATION, "execute")


@pytest.mark.parametrize("status", [s for s in ContractStatus if s is not ContractStatus.ACTIVE])
def test_only_active_contracts_progress(status: ContractStatus) -> None:
    assert decide_progress(contract(status=status), [], ProgressSettings()).action is A.NOTHING


def test_pending_confirmation_means_nothing() -> None:
    pending = PendingPhaseConfirmation("t", "execute", NOW)
    decision = decide_progress(contract(pending_confirmation=pending), [], ProgressSettings())
    assert decision.action is A.NOTHING


def test_unmet_gate_is_nothing_with_missing_items() -> None:
    unmet = contract(completed_deliverables={})
    running = Task("t1", "c1", "build", TaskStatus.RUNNING, NOW, NOW)
    decision = decide_progress(unmet, [running], ProgressSettings())
    assert decision.action is A.NOTHING
    assert decision.missing == ("Deliverable: plan-document", "1 tasks incomplete")


def test_global_auto_advance_off_notifies() -> None:
    settings = ProgressSettings(auto_advance_phases=False)
    decision = decide_progress(contract(), [], settings)
    assert (decision.action, decision.next_phase) == (A.NOTIFY, "execute")


def test_gate_auto_advance_off_notifies() -> None:
    gates = {"plan": PhaseCompletionGate((), TaskRequirement.none(), auto_advance=False)}
    assert decide_progress(contract(), [], ProgressSettings(), gates).action is A.NOTIFY


def test_phase_without_gate_notifies() -> None:
    gates = {"execute": PhaseCompletionGate((), TaskRequirement.none())}
    assert decide_progress(contract(), [], ProgressSettings(), gates).action is A.NOTIFY


def test_validators_are_passed_to_the_gate() -> None:
    gates = {"plan": PhaseCompletionGate((), TaskRequirement.none(), validator="v")}
    decision = decide_progress(contract(), [], ProgressSettings(), gates, {"v": lambda c, t: "no"})
    assert (decision.action, decision.missing) == (A.NOTHING, ("no",))


def test_terminal_phase_starts_completing() -> None:
    decision = decide_progress(contract(phase="execute"), [], ProgressSettings())
    assert (decision.action, decision.next_phase) == (A.START_COMPLETING, None)


@pytest.mark.parametrize(
    ("contract_switch", "global_switch"), [(False, True), (True, False), (False, False)]
)
def test_terminal_phase_with_auto_complete_off_notifies(
    contract_switch: bool, global_switch: bool
) -> None:
    c = contract(phase="execute", auto_complete_enabled=contract_switch)
    settings = ProgressSettings(auto_complete_enabled=global_switch)
    assert decide_progress(c, [], settings).action is A.NOTIFY


def test_terminal_phase_ignores_the_phase_guard_and_auto_advance() -> None:
    c = contract(phase="execute", phase_guard=True)
    settings = ProgressSettings(auto_advance_phases=False)
    assert decide_progress(c, [], settings).action is A.START_COMPLETING


def test_terminal_phase_unmet_is_nothing() -> None:
    c = contract(phase="execute", completed_deliverables={})
    assert decide_progress(c, [], ProgressSettings()).action is A.NOTHING
