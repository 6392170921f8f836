"""Deliverables, tasks and the auto-progress flow they trigger (spec §2.2.3)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.errors import InvalidDeliverable, TaskNotFound, ValidationFailed
from core.events import EventType, NewEvent
from core.lifecycle import change_status, create_task, mark_deliverable, update_task
from core.model import PendingPhaseConfirmation, TaskStatus
from core.outcome import Outcome
from core.progress import ProgressAction, ProgressSettings
from core.status import ContractStatus, WaitingFor
from tests.core.desk import REVIEWER, SUPERVISOR, T0, Desk, started, types

S = ContractStatus
E = EventType
TS = TaskStatus


def deliver(desk: Desk, deliverable: str, **kw: Any) -> Outcome:
    kw.setdefault("new_id", lambda: "tr-auto")
    now = desk.tick()
    return desk.apply(
        mark_deliverable(desk.contract, desk.task_list, deliverable, now, SUPERVISOR, **kw)
    )


def add_task(desk: Desk, task_id: str, **kw: Any) -> Outcome:
    now = desk.tick()
    return desk.apply(
        create_task(
            desk.contract, desk.task_list, task_id, f"task {task_id}", now, SUPERVISOR, **kw
        )
    )


def set_task(desk: Desk, task_id: str, status: TaskStatus, **kw: Any) -> Outcome:
    now = desk.tick()
    return desk.apply(
        update_task(desk.contract, desk.task_list, task_id, status, now, SUPERVISOR, **kw)
    )


def progress(outcome: Outcome) -> ProgressAction:
    return outcome.extra["progress"].action  # type: ignore[no-any-return]


# mark_deliverable


def test_invalid_deliverable_carries_the_exact_message() -> None:
    with pytest.raises(
        InvalidDeliverable,
        match=r"^Invalid deliverable 'x' for plan phase\. Valid IDs: \[plan-document\]$",
    ):
        deliver(started(), "x")


def test_deliverable_is_recorded_as_activity_with_an_event() -> None:
    desk = started()
    add_task(desk, "t1")
    read = desk.contract
    outcome = deliver(desk, "plan-document")
    c = outcome.contract
    assert c.completed_in("plan") == ("plan-document",)
    assert (c.version, c.last_activity_at, c.updated_at) == (read.version + 1, desk.now, desk.now)
    assert outcome.events == (
        NewEvent(
            E.DELIVERABLE_COMPLETED, "c1", {"phase": "plan", "deliverable_id": "plan-document"}
        ),
    )
    assert progress(outcome) is ProgressAction.NOTHING  # t1 is still pending


def test_marking_twice_changes_nothing() -> None:
    desk = started()
    add_task(desk, "t1")
    deliver(desk, "plan-document")
    again = mark_deliverable(
        desk.contract, desk.task_list, "plan-document", desk.tick(), SUPERVISOR
    )
    assert (again.contract, again.events, again.previous_version) == (
        desk.contract,
        (),
        desk.contract.version,
    )


def test_deliverable_of_another_phase() -> None:
    desk = started()
    outcome = deliver(desk, "pull-request", phase="execute")
    assert outcome.contract.completed_in("execute") == ("pull-request",)
    assert (outcome.contract.phase, types(outcome)) == ("plan", [E.DELIVERABLE_COMPLETED])
    with pytest.raises(InvalidDeliverable, match="for execute phase"):
        deliver(desk, "plan-document", phase="execute")


@pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED, S.ARCHIVED])
def test_ended_contract_takes_no_deliverables(status: ContractStatus) -> None:
    desk = started()
    desk.contract = replace(desk.contract, status=status)
    with pytest.raises(ValidationFailed, match="record deliverables"):
        deliver(desk, "plan-document")


def test_unguarded_gate_met_advances_in_the_same_version() -> None:
    desk = started(phase_guard=False)
    read = desk.contract
    outcome = deliver(desk, "plan-document")
    assert (outcome.contract.phase, outcome.contract.version) == ("execute", read.version + 1)
    assert types(outcome) == [E.DELIVERABLE_COMPLETED, E.PHASE_CHANGED]
    assert outcome.events[1].payload == {
        "old_phase": "plan",
        "new_phase": "execute",
        "comment": None,
    }


def test_guarded_gate_met_asks_for_confirmation() -> None:
    desk = started()
    outcome = deliver(desk, "plan-document")
    c = outcome.contract
    assert c.pending_confirmation == PendingPhaseConfirmation("tr-auto", "execute", desk.now)
    assert (c.status, c.waiting_for, c.phase) == (
        S.WAITING_FOR_INPUT,
        WaitingFor.PHASE_CONFIRMATION,
        "plan",
    )
    assert types(outcome) == [
        E.DELIVERABLE_COMPLETED,
        E.PHASE_CONFIRMATION_REQUESTED,
        E.STATUS_CHANGED,
    ]
    assert outcome.events[1].payload == {
        "current_phase": "plan",
        "next_phase": "execute",
        "transition_id": "tr-auto",
    }


def test_terminal_gate_met_starts_completing() -> None:
    desk = started(phase_guard=False)
    desk.contract = replace(desk.contract, phase="execute")
    outcome = deliver(desk, "pull-request")
    c = outcome.contract
    assert (c.status, c.waiting_for, c.completion_detected_at) == (
        S.COMPLETING,
        WaitingFor.COMPLETION_CONFIRMATION,
        desk.now,
    )
    assert outcome.events[-1] == NewEvent(
        E.STATUS_CHANGED,
        "c1",
        {"old_status": "active", "new_status": "completing", "reason": "terminal phase complete"},
    )


def test_chain_of_ready_phases_runs_to_completion_in_one_version() -> None:
    desk = started("specification", phase_guard=False)
    for phase, deliverable in [
        ("specify", "requirements-document"),
        ("plan", "plan-document"),
        ("execute", "pull-request"),
        ("review", "release-notes"),
    ]:
        deliver(desk, deliverable, phase=phase)
    read = desk.contract
    outcome = deliver(desk, "research-notes")
    assert (outcome.contract.phase, outcome.contract.status) == ("review", S.COMPLETING)
    assert outcome.contract.version == read.version + 1
    assert types(outcome) == [E.DELIVERABLE_COMPLETED] + [E.PHASE_CHANGED] * 4 + [E.STATUS_CHANGED]


def test_global_auto_advance_off_only_notifies() -> None:
    desk = started(phase_guard=False)
    outcome = deliver(desk, "plan-document", settings=ProgressSettings(auto_advance_phases=False))
    assert (outcome.contract.phase, progress(outcome)) == ("plan", ProgressAction.NOTIFY)


def test_auto_complete_off_only_notifies() -> None:
    desk = started(phase_guard=False, auto_complete_enabled=False)
    desk.contract = replace(desk.contract, phase="execute")
    outcome = deliver(desk, "pull-request")
    assert (outcome.contract.status, progress(outcome)) == (S.ACTIVE, ProgressAction.NOTIFY)


def test_paused_contract_records_but_does_not_progress() -> None:
    desk = started(phase_guard=False)
    desk.apply(change_status(desk.contract, [], [], S.PAUSED, desk.tick(), REVIEWER))
    outcome = deliver(desk, "plan-document")
    assert (outcome.contract.phase, types(outcome)) == ("plan", [E.DELIVERABLE_COMPLETED])


# create_task


def test_create_task() -> None:
    desk = started()
    read = desk.contract
    outcome = add_task(desk, "t1")
    (task,) = outcome.tasks
    assert (task.status, task.is_supervisor, task.contract_id, task.created_at) == (
        TS.PENDING,
        False,
        "c1",
        desk.now,
    )
    assert (outcome.contract.version, outcome.contract.last_activity_at) == (
        read.version + 1,
        desk.now,
    )
    assert outcome.events == (
        NewEvent(
            E.TASK_CREATED,
            "c1",
            {
                "task_id": "t1",
                "task_name": "task t1",
                "is_supervisor": False,
                "status": "pending",
            },
        ),
    )


def test_supervisor_task_runs_and_is_recorded_on_the_contract() -> None:
    desk = Desk.new()
    outcome = add_task(desk, "sup", is_supervisor=True)
    assert (outcome.tasks[0].status, outcome.contract.supervisor_task_id) == (TS.RUNNING, "sup")
    with pytest.raises(ValidationFailed, match="already has a supervisor"):
        add_task(desk, "sup2", is_supervisor=True)


@pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED, S.ARCHIVED])
def test_ended_contract_takes_no_tasks(status: ContractStatus) -> None:
    desk = started()
    desk.contract = replace(desk.contract, status=status)
    with pytest.raises(ValidationFailed, match="create tasks"):
        add_task(desk, "t1")


def test_task_needs_a_name_and_a_new_id() -> None:
    desk = started()
    with pytest.raises(ValidationFailed, match="must not be empty"):
        create_task(desk.contract, [], "t1", "  ", desk.tick(), SUPERVISOR)
    with pytest.raises(ValidationFailed, match="already exists"):
        add_task(desk, "sup")


# update_task


def test_unknown_task() -> None:
    with pytest.raises(TaskNotFound):
        set_task(started(), "nope", TS.DONE)


def test_same_status_is_a_noop() -> None:
    desk = started()
    add_task(desk, "t1")
    outcome = update_task(desk.contract, desk.task_list, "t1", TS.PENDING, desk.tick(), SUPERVISOR)
    assert (outcome.contract, outcome.events, outcome.tasks) == (desk.contract, (), ())


def test_starting_a_task_changes_the_task_only() -> None:
    desk = started()
    add_task(desk, "t1")
    read = desk.contract
    outcome = set_task(desk, "t1", TS.RUNNING)
    assert (outcome.contract, outcome.tasks[0].status, outcome.tasks[0].updated_at) == (
        read,
        TS.RUNNING,
        desk.now,
    )
    assert outcome.events == (
        NewEvent(
            E.TASK_UPDATED,
            "c1",
            {
                "task_id": "t1",
                "task_name": "task t1",
                "old_status": "pending",
                "new_status": "running",
            },
        ),
    )


@pytest.mark.parametrize(("status", "success"), [(TS.DONE, True), (TS.FAILED, False)])
def test_finishing_a_task_is_activity_with_task_completed(
    status: TaskStatus, success: bool
) -> None:
    desk = started()
    add_task(desk, "t1")
    read = desk.contract
    outcome = set_task(desk, "t1", status)
    assert (outcome.contract.version, outcome.contract.last_activity_at) == (
        read.version + 1,
        desk.now,
    )
    assert outcome.events[0] == NewEvent(
        E.TASK_COMPLETED, "c1", {"task_id": "t1", "task_name": "task t1", "success": success}
    )


@pytest.mark.parametrize("finished", [TS.DONE, TS.FAILED])
@pytest.mark.parametrize("target", list(TaskStatus))
def test_finished_task_is_final(finished: TaskStatus, target: TaskStatus) -> None:
    """A done task is final; a failed one may only be retried (pending or running)."""
    desk = started()
    add_task(desk, "t1")
    set_task(desk, "t1", finished)
    if target is finished:
        return
    if finished is TS.FAILED and not target.is_finished:
        assert types(set_task(desk, "t1", target))[0] is E.TASK_RETRIED
        return
    with pytest.raises(ValidationFailed, match="is already"):
        set_task(desk, "t1", target)


def test_last_task_done_advances_the_phase() -> None:
    desk = started(phase_guard=False)
    add_task(desk, "t1")
    add_task(desk, "t2")
    deliver(desk, "plan-document")
    assert progress(set_task(desk, "t1", TS.DONE)) is ProgressAction.NOTHING
    outcome = set_task(desk, "t2", TS.DONE)
    assert outcome.contract.phase == "execute"
    assert types(outcome) == [E.TASK_COMPLETED, E.PHASE_CHANGED]


def test_failed_task_keeps_the_gate_closed() -> None:
    desk = started(phase_guard=False)
    add_task(desk, "t1")
    deliver(desk, "plan-document")
    outcome = set_task(desk, "t1", TS.FAILED)
    assert outcome.extra["progress"].missing == ("1 tasks incomplete",)
    assert outcome.contract.phase == "plan"


def test_execute_contract_completes_when_its_tasks_are_done() -> None:
    desk = started("execute", phase_guard=False)
    add_task(desk, "t1")
    outcome = set_task(desk, "t1", TS.DONE)
    assert outcome.contract.status is S.COMPLETING
    assert outcome.contract.completion_detected_at == desk.now != T0
