"""Phase completion gates, readiness and the completion check (spec §2.2.1, §2.2.2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from core.gates import (
    PhaseCompletionGate,
    PhaseReadiness,
    ReadinessKind,
    TaskRequirement,
    TaskRequirementKind,
    check_contract_completion,
    check_phase_readiness,
    default_gates,
)
from core.model import Contract, Task, TaskStatus
from core.phases import BUILTIN_PHASES, ContractType, parse_phase_config
from core.status import ContractStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def contract(**changes: Any) -> Contract:
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
    }
    fields.update(changes)
    return Contract(**fields)


def task(task_id: str, status: TaskStatus, supervisor: bool = False, name: str = "") -> Task:
    return Task(task_id, "c1", name or task_id, status, NOW, NOW, supervisor)


DONE, RUNNING, FAILED = TaskStatus.DONE, TaskStatus.RUNNING, TaskStatus.FAILED


def gate(tasks: TaskRequirement, *deliverables: str, **kw: Any) -> dict[str, PhaseCompletionGate]:
    return {"plan": PhaseCompletionGate(deliverables, tasks, **kw)}


def test_requirement_constructors() -> None:
    assert TaskRequirement.none().kind is TaskRequirementKind.NONE
    assert TaskRequirement.all_complete().kind is TaskRequirementKind.ALL_COMPLETE
    assert TaskRequirement.at_least(3) == TaskRequirement(TaskRequirementKind.MIN_COMPLETE, 3)
    assert TaskRequirement.named("a", "b").names == ("a", "b")
    with pytest.raises(ValueError, match="non-negative"):
        TaskRequirement.at_least(-1)


def test_default_gates_cover_every_phase_with_required_deliverables() -> None:
    gates = default_gates(BUILTIN_PHASES[ContractType.SPECIFICATION], auto_advance=False)
    assert list(gates) == ["research", "specify", "plan", "execute", "review"]
    assert gates["plan"] == PhaseCompletionGate(
        ("plan-document",), TaskRequirement.all_complete(), None, False
    )


def test_default_gates_leave_out_optional_deliverables() -> None:
    config = parse_phase_config(
        {
            "phases": [{"id": "a", "order": 0}],
            "deliverables": {"a": [{"id": "x"}, {"id": "y", "priority": "optional"}]},
        }
    )
    assert default_gates(config)["a"].required_deliverables == ("x",)


def test_missing_deliverable_is_reported() -> None:
    readiness = check_phase_readiness(contract(), [])
    assert readiness == PhaseReadiness(
        ReadinessKind.NOT_READY, "plan", ("Deliverable: plan-document",)
    )
    assert not readiness.ready


def test_ready_when_deliverable_done_and_no_tasks() -> None:
    done = contract(completed_deliverables={"plan": ("plan-document",)})
    assert check_phase_readiness(done, []).kind is ReadinessKind.READY


def test_deliverable_of_another_phase_does_not_count() -> None:
    elsewhere = contract(completed_deliverables={"execute": ("plan-document",)})
    assert check_phase_readiness(elsewhere, []).missing == ("Deliverable: plan-document",)


def test_all_complete_counts_incomplete_tasks_but_never_the_supervisor() -> None:
    tasks = [
        task("s", RUNNING, supervisor=True),
        task("a", RUNNING),
        task("b", FAILED),
        task("c", DONE),
    ]
    readiness = check_phase_readiness(contract(), tasks, gate(TaskRequirement.all_complete()))
    assert readiness.missing == ("2 tasks incomplete",)


def test_min_complete() -> None:
    tasks = [task("s", DONE, supervisor=True), task("a", DONE), task("b", RUNNING)]
    gates = gate(TaskRequirement.at_least(2))
    assert check_phase_readiness(contract(), tasks, gates).missing == (
        "Need 2 tasks complete, have 1",
    )
    tasks.append(task("c", DONE))
    assert check_phase_readiness(contract(), tasks, gates).ready


def test_named_tasks() -> None:
    tasks = [task("1", DONE, name="build"), task("2", FAILED, name="test")]
    gates = gate(TaskRequirement.named("build", "test", "lint"))
    assert check_phase_readiness(contract(), tasks, gates).missing == (
        "Task 'test' not complete",
        "Task 'lint' not complete",
    )


def test_named_supervisor_task_does_not_count() -> None:
    tasks = [task("s", DONE, supervisor=True, name="boss")]
    gates = gate(TaskRequirement.named("boss"))
    assert check_phase_readiness(contract(), tasks, gates).missing == ("Task 'boss' not complete",)


def test_no_requirement_ignores_tasks() -> None:
    gates = gate(TaskRequirement.none())
    assert check_phase_readiness(contract(), [task("a", RUNNING)], gates).ready


def test_missing_items_come_in_order_deliverables_tasks_validator() -> None:
    gates = gate(TaskRequirement.all_complete(), "plan-document", validator="review")
    validators = {"review": lambda c, t: "Review not signed off"}
    readiness = check_phase_readiness(contract(), [task("a", RUNNING)], gates, validators)
    assert readiness.missing == (
        "Deliverable: plan-document",
        "1 tasks incomplete",
        "Review not signed off",
    )


def test_validator_sees_contract_and_tasks_and_may_pass() -> None:
    seen: list[tuple[str, int]] = []

    def review(c: Contract, tasks: Sequence[Task]) -> str | None:
        seen.append((c.id, len(tasks)))
        return None

    gates = gate(TaskRequirement.none(), validator="review")
    assert check_phase_readiness(contract(), [task("a", DONE)], gates, {"review": review}).ready
    assert seen == [("c1", 1)]


def test_unregistered_validator_is_a_missing_item() -> None:
    gates = gate(TaskRequirement.none(), validator="review")
    assert check_phase_readiness(contract(), [], gates).missing == (
        "Validator 'review' is not registered",
    )


def test_phase_without_gate_is_no_gate_and_counts_as_ready() -> None:
    readiness = check_phase_readiness(contract(phase="execute"), [], gate(TaskRequirement.none()))
    assert readiness.kind is ReadinessKind.NO_GATE
    assert readiness.ready and readiness.missing == ()


def test_readiness_wire_shape() -> None:
    wire = check_phase_readiness(contract(), [task("a", RUNNING)]).to_wire(True)
    assert wire == {
        "phase": "plan",
        "ready": False,
        "missing": ["Deliverable: plan-document", "1 tasks incomplete"],
        "auto_advance_enabled": True,
    }


def terminal(**changes: Any) -> Contract:
    return contract(
        phase="execute", completed_deliverables={"execute": ("pull-request",)}, **changes
    )


def test_completion_ready_in_terminal_phase() -> None:
    check = check_contract_completion(terminal(), [task("a", DONE)])
    assert (check.ready, check.would_complete, check.missing) == (True, True, ())
    assert check.to_wire() == {"ready": True, "would_complete": True, "missing": []}


def test_completion_outside_terminal_phase_says_so_first() -> None:
    check = check_contract_completion(contract(), [])
    assert not check.ready and not check.would_complete
    assert check.missing == (
        "Not in terminal phase (current: plan, terminal: execute)",
        "Deliverable: pull-request",
    )


def test_completion_not_ready_when_terminal_gate_unmet() -> None:
    check = check_contract_completion(contract(phase="execute"), [task("a", RUNNING)])
    assert not check.ready
    assert check.missing == ("Deliverable: pull-request", "1 tasks incomplete")


def test_would_complete_needs_the_contract_switch() -> None:
    check = check_contract_completion(terminal(auto_complete_enabled=False), [])
    assert check.ready and not check.would_complete


@pytest.mark.parametrize("status", [s for s in ContractStatus if s is not ContractStatus.ACTIVE])
def test_would_complete_needs_status_active(status: ContractStatus) -> None:
    check = check_contract_completion(terminal(status=status), [])
    assert check.ready and not check.would_complete


def test_completion_uses_the_given_gates() -> None:
    gates = {"execute": PhaseCompletionGate((), TaskRequirement.at_least(1))}
    check = check_contract_completion(contract(phase="execute"), [], gates)
    assert check.missing == ("Need 1 tasks complete, have 0",)
