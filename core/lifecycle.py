"""The contract use cases: pure functions from (contract, input, now, actor) to an Outcome.

Every use case that changes the contract bumps its version by exactly one, however many
steps it takes, sets `updated_at = now` and reports the version it read as
`previous_version`; one that finds nothing to do returns the contract unchanged with no
events. The store writes an Outcome in one transaction, guarded by `previous_version`.

Deliverables and tasks live in `core.work`, questions in `core.questions`; they are
re-exported here so callers have one place to import use cases from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.actors import Actor
from core.contract_change import ContractChange
from core.errors import InvalidTransition, SupervisorNotFound, ValidationFailed
from core.events import EventType, NewEvent
from core.gates import check_contract_completion
from core.model import Contract, PendingPhaseConfirmation, Question, Task, TaskStatus
from core.outcome import (
    CompletionChecked,
    ConfirmationRequested,
    DeliverableProgress,
    FeedbackRecorded,
    Outcome,
    StatusMoved,
)
from core.phase_change import (
    PhaseChangeKind,
    PhaseChangeRequest,
    check_version,
    decide_phase_change,
)
from core.phases import (
    ContractType,
    PhaseConfig,
    parse_contract_type,
    parse_phase_config,
    phase_config_for,
)
from core.progress import DEFAULT_PROGRESS, ProgressSettings
from core.questions import answer_question, ask_question
from core.status import ContractStatus, WaitingFor, check_actor_may_move
from core.work import (
    create_task,
    mark_deliverable,
    new_transition_id,
    require_text,
    run_progress,
    stop_supervisor,
    unchanged,
    update_task,
)

__all__ = [
    "answer_question",
    "ask_question",
    "change_phase",
    "change_status",
    "check_completion",
    "confirmation_request",
    "create_contract",
    "create_task",
    "delete_contract",
    "mark_deliverable",
    "new_transition_id",
    "record_activity",
    "request_supervisor_restart",
    "run_progress",
    "set_auto_complete",
    "update_contract",
    "update_task",
]

MAX_NAME_LENGTH = 200


def create_contract(  # noqa: PLR0917 - the use-case signature shared with server/
    contract_id: str,
    owner: str,
    name: str,
    contract_type: str,
    now: datetime,
    actor: Actor,
    description: str | None = None,
    phase_config: Mapping[str, Any] | None = None,
    phase_guard: bool = True,
    auto_complete_enabled: bool = True,
) -> Outcome:
    """A new contract: status `created`, version 1, in its type's default phase.

    A `custom` contract needs `phase_config`; any other type must not be given one (it
    would be silently ignored otherwise).
    """
    del actor
    clean_name = _check_name(name)
    kind = parse_contract_type(contract_type)
    custom = _custom_config(kind, phase_config)
    config = phase_config_for(kind, custom)
    contract = Contract(
        id=contract_id,
        owner=owner,
        name=clean_name,
        contract_type=kind,
        phase=config.default_phase,
        status=ContractStatus.CREATED,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        last_activity_at=now,
        description=description,
        custom_phase_config=custom,
        phase_guard=phase_guard,
        auto_complete_enabled=auto_complete_enabled,
    )
    payload = {
        "name": clean_name,
        "contract_type": kind.value,
        "phase": contract.phase,
        "status": contract.status.value,
    }
    event = NewEvent(EventType.CONTRACT_CREATED, contract_id, payload)
    return Outcome(contract=contract, events=(event,), previous_version=None)


def _check_name(name: str) -> str:
    clean = require_text(name, "Contract name")
    if len(clean) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"Contract name must be at most {MAX_NAME_LENGTH} characters (got {len(clean)})",
            details={"field": "name"},
        )
    return clean


def _custom_config(kind: ContractType, raw: Mapping[str, Any] | None) -> PhaseConfig | None:
    if kind is ContractType.CUSTOM:
        if raw is None:
            raise ValidationFailed(
                "A custom contract needs a phaseConfig", details={"field": "phaseConfig"}
            )
        return parse_phase_config(raw)
    if raw is not None:
        raise ValidationFailed(
            f"phaseConfig is only for custom contracts, not '{kind}'",
            details={"field": "phaseConfig"},
        )
    return None


def update_contract(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    now: datetime,
    actor: Actor,
    name: str | None = None,
    description: str | None = None,
    phase_guard: bool | None = None,
    expected_version: int | None = None,
) -> Outcome:
    """Change name, description or phase guard (None: leave as is); a stale version loses."""
    del actor
    check_version(contract, expected_version)
    wanted = {
        "name": None if name is None else _check_name(name),
        "description": description,
        "phase_guard": phase_guard,
    }
    return _update_fields(contract, now, wanted)


def set_auto_complete(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    enabled: bool,
    now: datetime,
    actor: Actor,
    tasks: Sequence[Task] = (),
    settings: ProgressSettings = DEFAULT_PROGRESS,
    new_id: Callable[[], str] = new_transition_id,
) -> Outcome:
    """Switch this contract's auto-completion on or off.

    Switching it on runs the progress flow: a contract whose terminal gate is already met
    starts completing now rather than waiting for some later event.
    """
    del actor
    if contract.auto_complete_enabled == enabled:
        return unchanged(contract)
    change = ContractChange(contract)
    change.set(auto_complete_enabled=enabled)
    change.emit(EventType.CONTRACT_UPDATED, changes={"auto_complete_enabled": enabled})
    if enabled:
        run_progress(change, tasks, now, settings, new_id)
    return change.outcome(now)


def check_completion(
    contract: Contract,
    tasks: Sequence[Task],
    now: datetime,
    actor: Actor,
    settings: ProgressSettings = DEFAULT_PROGRESS,
) -> Outcome:
    """`POST /contracts/{id}/check-completion`, the specification's "force completion check".

    A ready contract that would auto-complete (its own switch and the global one on,
    status `active`) starts completing now; otherwise nothing changes and the answer lists
    what is missing (a `CompletionChecked` decision).
    """
    del actor
    check = check_contract_completion(contract, tasks)
    would = check.would_complete and settings.auto_complete_enabled
    change = ContractChange(contract)
    if would:
        change.move(ContractStatus.COMPLETING, now, (), reason="completion check")
    checked = CompletionChecked(
        ready=check.ready,
        would_complete=would,
        missing=tuple(check.missing),
        started=would,
        status=change.contract.status,
    )
    return change.outcome(now, decision=checked)


def _update_fields(contract: Contract, now: datetime, wanted: Mapping[str, Any]) -> Outcome:
    changes = {
        field: value
        for field, value in wanted.items()
        if value is not None and getattr(contract, field) != value
    }
    if not changes:
        return unchanged(contract)
    change = ContractChange(contract)
    change.set(**changes)
    change.emit(EventType.CONTRACT_UPDATED, changes=changes)
    return change.outcome(now)


def change_status(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    tasks: Sequence[Task],
    questions: Sequence[Question],
    target: ContractStatus,
    now: datetime,
    actor: Actor,
    reason: str | None = None,
    blocker: str | None = None,
    expected_version: int | None = None,
    settings: ProgressSettings = DEFAULT_PROGRESS,
    new_id: Callable[[], str] = new_transition_id,
) -> Outcome:
    """Move the status by the table (`POST /contracts/{id}/status`).

    Checked in order: version, the actor's role, the table, the move's guard. The move's
    side effects (blocker, failure reason, waiting_for, completion time) are those of
    `core.contract_change.status_effects`. A contract made `active` while a question or a
    confirmation is still pending (resumed after a pause, unblocked) goes on to
    `waiting_for_input`: it waits on the reviewer, and `newStatus` says so.
    """
    check_version(contract, expected_version)
    check_actor_may_move(actor, contract.status, target)
    change = ContractChange(contract)
    change.move(target, now, questions, reason, blocker)
    change.await_pending_input(now, questions)
    changed_tasks = _after_move(change, contract.status, tasks, now, settings, new_id)
    return change.outcome(
        now, decision=StatusMoved(contract.status, change.contract.status), tasks=changed_tasks
    )


def _after_move(  # noqa: PLR0917 - the steps of change_status, kept apart for reading
    change: ContractChange,
    old: ContractStatus,
    tasks: Sequence[Task],
    now: datetime,
    settings: ProgressSettings,
    new_id: Callable[[], str],
) -> tuple[Task, ...]:
    """What a status move sets off: the progress flow for a contract that (re)starts work,
    the supervisor's stop for one that completed.

    Trap: a completion the reviewer rejected (`completing → active`) must not start
    completing again at once, so a move out of `completing` does not run the flow.
    """
    status = change.contract.status
    if status is ContractStatus.ACTIVE and old is not ContractStatus.COMPLETING:
        run_progress(change, tasks, now, settings, new_id)
    if status is ContractStatus.COMPLETED:
        return stop_supervisor(change, tasks, now)
    return ()


def change_phase(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    tasks: Sequence[Task],
    questions: Sequence[Question],
    request: PhaseChangeRequest,
    now: datetime,
    actor: Actor,
    transition_id: str,
    settings: ProgressSettings = DEFAULT_PROGRESS,
) -> Outcome:
    """Answer `POST /contracts/{id}/phase` (see `decide_phase_change` for the refusals).

    `decision` is ConfirmationRequested or FeedbackRecorded, or None when the phase moved
    (the answer is then the Contract). A move runs the progress flow in the new phase:
    confirming the advance into a terminal phase whose deliverables are already in starts
    completing at once (spec §2.2.3).
    """
    decision = decide_phase_change(contract, tasks, questions, request, actor)
    change = ContractChange(contract)
    if decision.kind is PhaseChangeKind.REQUIRES_CONFIRMATION:
        pending = _await_confirmation(change, questions, decision.target_phase, now, transition_id)
        request_seen = confirmation_request(contract, tasks, pending)
        missing = tuple(decision.forced_past)
        return change.outcome(now, decision=replace(request_seen, missing_requirements=missing))
    change.set(pending_confirmation=None)
    if decision.kind is PhaseChangeKind.CHANGES_REQUESTED:
        # The request's fresh id names the feedback thread (core.feedback).
        change.emit(
            EventType.CHANGES_REQUESTED,
            feedback=request.feedback,
            feedback_id=transition_id,
            phase=contract.phase,
        )
        change.settle_waiting(now, questions)
        return change.outcome(
            now, decision=FeedbackRecorded(request.feedback or "", feedback_id=transition_id)
        )
    ready_mark = contract.waiting_for is WaitingFor.PHASE_READY
    change.set(phase=decision.target_phase, **({"waiting_for": None} if ready_mark else {}))
    change.touch(now)
    change.emit(
        EventType.PHASE_CHANGED,
        old_phase=contract.phase,
        new_phase=decision.target_phase,
        comment=request.comment,
        # A reviewer's `force` (§5.4): the guard confirmed, missing deliverables skipped.
        # Written only when true (the payload's default is false), as older events read.
        **({"forced": True} if request.force and actor.is_human else {}),
    )
    change.settle_waiting(now, questions)
    run_progress(change, tasks, now, settings, lambda: transition_id)
    return change.outcome(now)


def _await_confirmation(
    change: ContractChange,
    questions: Sequence[Question],
    next_phase: str,
    now: datetime,
    transition_id: str,
) -> PendingPhaseConfirmation:
    """Make the contract wait for the reviewer; a repeat for the same next phase reuses the
    pending confirmation (same transition id, no new event), so retries do not pile up."""
    pending = change.contract.pending_confirmation
    if pending is None or pending.next_phase != next_phase:
        pending = PendingPhaseConfirmation(transition_id, next_phase, now)
        change.set(pending_confirmation=pending)
        change.emit(
            EventType.PHASE_CONFIRMATION_REQUESTED,
            current_phase=change.contract.phase,
            next_phase=next_phase,
            transition_id=transition_id,
        )
    if change.contract.status is ContractStatus.ACTIVE:
        change.move(ContractStatus.WAITING_FOR_INPUT, now, questions)
    change.set(waiting_for=WaitingFor.PHASE_CONFIRMATION)
    return pending


def confirmation_request(
    contract: Contract, tasks: Sequence[Task], pending: PendingPhaseConfirmation
) -> ConfirmationRequested:
    """What the reviewer is asked to confirm: the current phase's deliverables and tasks."""
    done = set(contract.completed_in(contract.phase))
    defs = contract.phase_config.deliverables_for(contract.phase)
    work = tuple(t for t in tasks if not t.is_supervisor)
    finished = sum(1 for t in work if t.status is TaskStatus.DONE)
    summary = (
        f"Phase '{contract.phase}' deliverables: {sum(1 for d in defs if d.id in done)} of "
        f"{len(defs)} complete, {finished} tasks completed."
    )
    return ConfirmationRequested(
        transition_id=pending.transition_id,
        current_phase=contract.phase,
        next_phase=pending.next_phase,
        summary=summary,
        deliverables=tuple(DeliverableProgress(d.id, d.name, d.id in done) for d in defs),
        phase_tasks=work,
    )


def request_supervisor_restart(contract: Contract, now: datetime, actor: Actor) -> Outcome:
    """Ask the contract's supervisor to restart: an event only, the contract is unchanged."""
    del actor
    if contract.supervisor_task_id is None:
        raise SupervisorNotFound(contract.id)
    change = ContractChange(contract)
    change.emit(
        EventType.SUPERVISOR_RESTART_REQUESTED, supervisor_task_id=contract.supervisor_task_id
    )
    return change.outcome(now)


def delete_contract(contract: Contract, now: datetime, actor: Actor) -> Outcome:
    """Delete an archived contract (its events stay in the log)."""
    del actor
    if contract.status is not ContractStatus.ARCHIVED:
        raise InvalidTransition(contract.status.value, "deleted", [ContractStatus.ARCHIVED.value])
    change = ContractChange(contract)
    change.emit(EventType.CONTRACT_DELETED, name=contract.name)
    return change.outcome(now, deleted=True)


def record_activity(contract: Contract, now: datetime) -> Outcome:
    """A heartbeat's activity: `last_activity_at = now`, no version bump, no event.

    Trap: heartbeats arrive every 30 s; bumping the version would turn every reviewer's
    `expectedVersion` stale while they read the contract.
    """
    change = ContractChange(contract)
    change.touch(now)
    return Outcome(
        contract=change.contract,
        previous_version=contract.version,
        activity_only=True,
    )
