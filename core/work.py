"""Work reported on a contract — deliverables and tasks — and the auto-progress it triggers.

A finished task or a new deliverable may satisfy the phase gate; the progress flow then
advances the phase, asks the reviewer to confirm, or starts completion (spec §2.2.3), all
inside the same use case: one version bump, one Outcome. Import these from `core.lifecycle`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from core.actors import Actor
from core.contract_change import ContractChange
from core.errors import TaskNotFound, ValidationFailed
from core.events import EventType
from core.evidence import check_note
from core.gates import PhaseCompletionGate, Validator
from core.model import Contract, DeliverableNote, PendingPhaseConfirmation, Task, TaskStatus
from core.outcome import Outcome
from core.phases import validate_deliverable
from core.progress import (
    DEFAULT_PROGRESS,
    ProgressAction,
    ProgressDecision,
    ProgressSettings,
    decide_progress,
)
from core.status import ContractStatus, WaitingFor

_STOP = frozenset({ProgressAction.NOTHING, ProgressAction.NOTIFY})


def new_transition_id() -> str:
    return str(uuid.uuid4())


def unchanged(contract: Contract) -> Outcome:
    """The Outcome of a use case that found nothing to do."""
    return Outcome(contract=contract, previous_version=contract.version)


def require_text(value: str, what: str) -> str:
    """`value` stripped; blank text is a validation error naming `what`."""
    text = value.strip()
    if not text:
        raise ValidationFailed(f"{what} must not be empty", details={"field": what})
    return text


def mark_deliverable(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    tasks: Sequence[Task],
    deliverable_id: str,
    now: datetime,
    actor: Actor,
    phase: str | None = None,
    settings: ProgressSettings = DEFAULT_PROGRESS,
    new_id: Callable[[], str] = new_transition_id,
    *,
    url: str | None = None,
    summary: str | None = None,
) -> Outcome:
    """Record a deliverable of `phase` (default: the current phase), then run auto-progress.

    `url` and `summary` attach where it lives and what it says (`core.evidence.check_note`);
    given on one already recorded, they replace its note's fields (each version is an event,
    so the history keeps all of them). Marking one already recorded with nothing new changes
    nothing. Trap: a deliverable of an earlier phase can be recorded late; only the current
    phase's gate drives the progress flow.
    """
    del actor
    target = phase or contract.phase
    _check_not_ended(contract, "record deliverables")
    validate_deliverable(contract.phase_config, target, deliverable_id)
    url, summary = check_note(url, summary)
    done = contract.completed_in(target)
    old = contract.note_of(target, deliverable_id) or DeliverableNote()
    note = DeliverableNote(url or old.url, summary or old.summary)
    if deliverable_id in done and note == old:
        return unchanged(contract)
    change = ContractChange(contract)
    if note != old:
        notes = {**contract.deliverable_notes}
        notes[target] = {**notes.get(target, {}), deliverable_id: note}
        change.set(deliverable_notes=notes)
    if deliverable_id not in done:
        change.set(
            completed_deliverables={
                **contract.completed_deliverables,
                target: (*done, deliverable_id),
            }
        )
    change.touch(now)
    # The note rides on the event only when there is one (older readers see the same event).
    attached = {k: v for k, v in note.to_wire().items() if v is not None}
    change.emit(
        EventType.DELIVERABLE_COMPLETED, phase=target, deliverable_id=deliverable_id, **attached
    )
    decision = run_progress(change, tasks, now, settings, new_id)
    return change.outcome(now, extra={"progress": decision})


def create_task(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    tasks: Sequence[Task],
    task_id: str,
    name: str,
    now: datetime,
    actor: Actor,
    is_supervisor: bool = False,
) -> Outcome:
    """Create a task; the supervisor task (one per contract) starts `running`."""
    del actor
    task_name = require_text(name, "Task name")
    _check_not_ended(contract, "create tasks")
    if any(t.id == task_id for t in tasks):
        raise ValidationFailed(f"Task {task_id} already exists", details={"task_id": task_id})
    if is_supervisor and (contract.supervisor_task_id or any(t.is_supervisor for t in tasks)):
        raise ValidationFailed("The contract already has a supervisor task")
    status = TaskStatus.RUNNING if is_supervisor else TaskStatus.PENDING
    task = Task(task_id, contract.id, task_name, status, now, now, is_supervisor)
    change = ContractChange(contract)
    if is_supervisor:
        change.set(supervisor_task_id=task_id)
    change.touch(now)
    change.emit(
        EventType.TASK_CREATED,
        task_id=task_id,
        task_name=task_name,
        is_supervisor=is_supervisor,
        status=status.value,
    )
    return change.outcome(now, tasks=(task,))


def update_task(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    tasks: Sequence[Task],
    task_id: str,
    status: TaskStatus,
    now: datetime,
    actor: Actor,
    settings: ProgressSettings = DEFAULT_PROGRESS,
    new_id: Callable[[], str] = new_transition_id,
) -> Outcome:
    """Move a task. Finishing it (done or failed) is activity and runs auto-progress.

    A finished task is final: moving it again is a validation error, since its
    `task_completed` event has already been published.
    """
    del actor
    task = _find_task(contract, tasks, task_id)
    if task.status is status:
        return unchanged(contract)
    _check_task_move(task, status)
    updated = replace(task, status=status, updated_at=now)
    change = ContractChange(contract)
    if task.status is TaskStatus.FAILED:
        return _retry(change, tasks, updated, task.status, now, settings, new_id)
    if not status.is_finished:
        change.emit(
            EventType.TASK_UPDATED,
            task_id=task_id,
            task_name=task.name,
            old_status=task.status.value,
            new_status=status.value,
        )
        return change.outcome(now, tasks=(updated,))
    change.touch(now)
    success = status is TaskStatus.DONE
    change.emit(EventType.TASK_COMPLETED, task_id=task_id, task_name=task.name, success=success)
    after = [updated if t.id == task_id else t for t in tasks]
    decision = run_progress(change, after, now, settings, new_id)
    return change.outcome(now, tasks=(updated,), extra={"progress": decision})


def _check_task_move(task: Task, status: TaskStatus) -> None:
    """A done task is final; a failed one may only be retried (back to pending or running)."""
    if task.status is TaskStatus.DONE or (task.status is TaskStatus.FAILED and status.is_finished):
        allowed = "pending or running (a retry)" if task.status is TaskStatus.FAILED else "none"
        raise ValidationFailed(
            f"Task {task.id} is already {task.status}; allowed moves: {allowed}",
            details={"task_id": task.id, "status": task.status.value},
        )


def _retry(  # noqa: PLR0917 - the steps of update_task, kept apart for reading
    change: ContractChange,
    tasks: Sequence[Task],
    retried: Task,
    old: TaskStatus,
    now: datetime,
    settings: ProgressSettings,
    new_id: Callable[[], str],
) -> Outcome:
    """`failed` → `pending`/`running`: the task runs again (event `task_retried`).

    The gate is checked again: a phase marked ready may no longer be (its tasks run again).
    """
    change.touch(now)
    change.emit(
        EventType.TASK_RETRIED,
        task_id=retried.id,
        task_name=retried.name,
        old_status=old.value,
        new_status=retried.status.value,
    )
    after = [retried if t.id == retried.id else t for t in tasks]
    decision = run_progress(change, after, now, settings, new_id)
    return change.outcome(now, tasks=(retried,), extra={"progress": decision})


def stop_supervisor(
    change: ContractChange, tasks: Sequence[Task], now: datetime
) -> tuple[Task, ...]:
    """Step 9 of §2.2.3: a `completed` contract's supervisor task is finished (`done`).

    Logs `task_completed` (so replicas see the task end) and `supervisor_stop_requested`
    (so the supervisor's daemon stops it and cleans up). Returns the changed task, if any.
    """
    sup_id = change.contract.supervisor_task_id
    task = next((t for t in tasks if t.id == sup_id), None)
    if task is None or task.status.is_finished:
        return ()
    done = replace(task, status=TaskStatus.DONE, updated_at=now)
    change.emit(EventType.TASK_COMPLETED, task_id=task.id, task_name=task.name, success=True)
    change.emit(
        EventType.SUPERVISOR_STOP_REQUESTED,
        supervisor_task_id=task.id,
        reason="contract completed",
    )
    return (done,)


def _find_task(contract: Contract, tasks: Sequence[Task], task_id: str) -> Task:
    for task in tasks:
        if task.id == task_id and task.contract_id == contract.id:
            return task
    raise TaskNotFound(task_id)


def _check_not_ended(contract: Contract, action: str) -> None:
    if contract.status.is_terminal:
        raise ValidationFailed(
            f"Cannot {action} on a contract that is '{contract.status}'",
            details={"status": contract.status.value},
        )


def run_progress(
    change: ContractChange,
    tasks: Sequence[Task],
    now: datetime,
    settings: ProgressSettings = DEFAULT_PROGRESS,
    new_id: Callable[[], str] = new_transition_id,
    *,
    gates: Mapping[str, PhaseCompletionGate] | None = None,
    validators: Mapping[str, Validator] | None = None,
) -> ProgressDecision:
    """Apply `decide_progress` until it says NOTHING or NOTIFY; return the last decision.

    An advance can land in a phase whose gate is already met, hence the loop; it is bounded
    by the number of phases (+1 for the completion step) so a bad gate cannot spin forever.
    """
    decision = ProgressDecision(ProgressAction.NOTHING, change.contract.phase)
    for _ in range(len(change.contract.phase_config.phases) + 1):
        decision = decide_progress(change.contract, tasks, settings, gates, validators)
        if decision.action in _STOP or not _apply(change, decision, now, new_id):
            break
    _note_readiness(change, decision)
    return decision


def _note_readiness(change: ContractChange, decision: ProgressDecision) -> None:
    """Step 3 of §2.2.3, "notify user, wait for manual advance".

    A ready phase a human must advance (or complete) is logged once as `phase_ready` and
    marked `waitingFor: phase_ready` on the still `active` contract, so the dashboard lists
    it as waiting on the reviewer; the mark goes when the gate is no longer met. Trap: the
    flow runs after every task update, so the event is logged only when the mark is new.
    """
    contract = change.contract
    marked = contract.waiting_for is WaitingFor.PHASE_READY
    if decision.action is ProgressAction.NOTIFY and not marked:
        change.set(waiting_for=WaitingFor.PHASE_READY)
        change.emit(EventType.PHASE_READY, phase=decision.phase, next_phase=decision.next_phase)
    elif decision.action is ProgressAction.NOTHING and marked and decision.missing:
        change.set(waiting_for=None)


def _apply(
    change: ContractChange, decision: ProgressDecision, now: datetime, new_id: Callable[[], str]
) -> bool:
    """Apply one decision; False when it could not be applied (the flow then stops)."""
    contract = change.contract
    if decision.action is ProgressAction.START_COMPLETING:
        # Custom gates may ask less than the status table; the table's guard still rules.
        if contract.missing_required(contract.terminal_phase):
            return False
        change.move(ContractStatus.COMPLETING, now, (), reason="terminal phase complete")
        return True
    next_phase = decision.next_phase
    if next_phase is None:  # only the terminal phase has none, and it never advances
        return False
    if decision.action is ProgressAction.ADVANCE:
        change.set(phase=next_phase, pending_confirmation=None, waiting_for=None)
        change.touch(now)
        change.emit(
            EventType.PHASE_CHANGED, old_phase=contract.phase, new_phase=next_phase, comment=None
        )
        return True
    transition_id = new_id()
    change.set(pending_confirmation=PendingPhaseConfirmation(transition_id, next_phase, now))
    change.emit(
        EventType.PHASE_CONFIRMATION_REQUESTED,
        current_phase=contract.phase,
        next_phase=next_phase,
        transition_id=transition_id,
    )
    change.move(ContractStatus.WAITING_FOR_INPUT, now, ())
    return True
