"""Rows ↔ core value types. The only place that knows how a Contract is laid out in columns.

Readers take a SQLAlchemy `RowMapping` (`result.mappings()`); writers return the column dict
for an INSERT or UPDATE. Times pass through `UtcDateTime`, so they are aware UTC both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping

from core.actors import Actor, Role
from core.events import EventType, LoggedEvent
from core.model import (
    Contract,
    DeliverableNote,
    PendingPhaseConfirmation,
    Question,
    QuestionStatus,
    QuestionType,
    Task,
    TaskStatus,
)
from core.phases import ContractType, parse_phase_config
from core.status import ContractStatus, WaitingFor


def contract_from_row(row: RowMapping) -> Contract:
    config = row["phase_config"]
    return Contract(
        id=row["id"],
        owner=row["owner"],
        name=row["name"],
        description=row["description"],
        contract_type=ContractType(row["contract_type"]),
        custom_phase_config=parse_phase_config(config) if config is not None else None,
        phase=row["phase"],
        status=ContractStatus(row["status"]),
        phase_guard=bool(row["phase_guard"]),
        auto_complete_enabled=bool(row["auto_complete_enabled"]),
        version=row["version"],
        completed_deliverables=_deliverables_from_json(row["completed_deliverables"]),
        deliverable_notes=notes_from_json(row["deliverable_notes"]),
        waiting_for=WaitingFor(row["waiting_for"]) if row["waiting_for"] else None,
        blocked_reason=row["blocked_reason"],
        failure_reason=row["failure_reason"],
        supervisor_task_id=row["supervisor_task_id"],
        pending_confirmation=_pending_from_row(row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status_changed_at=row["status_changed_at"],
        last_activity_at=row["last_activity_at"],
        completion_detected_at=row["completion_detected_at"],
        stale_notified_at=row["stale_notified_at"],
    )


def _deliverables_from_json(raw: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    return {phase: tuple(ids) for phase, ids in (raw or {}).items()}


def notes_from_json(raw: Mapping[str, Any] | None) -> dict[str, dict[str, DeliverableNote]]:
    return {
        phase: {
            ident: DeliverableNote(note.get("url"), note.get("summary"))
            for ident, note in (notes or {}).items()
        }
        for phase, notes in (raw or {}).items()
    }


def notes_to_json(contract: Contract) -> dict[str, Any] | None:
    notes = contract.deliverable_notes
    if not notes:
        return None
    return {phase: {d: n.to_wire() for d, n in by_id.items()} for phase, by_id in notes.items()}


def _pending_from_row(row: RowMapping) -> PendingPhaseConfirmation | None:
    if row["pending_transition_id"] is None:
        return None
    return PendingPhaseConfirmation(
        transition_id=row["pending_transition_id"],
        next_phase=row["pending_phase"],
        requested_at=row["pending_requested_at"],
    )


def contract_values(contract: Contract) -> dict[str, Any]:
    """Every column of the contract row (INSERT, or a full UPDATE after a decision)."""
    pending = contract.pending_confirmation
    config = contract.custom_phase_config
    return {
        "id": contract.id,
        "owner": contract.owner,
        "name": contract.name,
        "description": contract.description,
        "contract_type": contract.contract_type.value,
        "phase_config": config.to_wire() if config is not None else None,
        "phase": contract.phase,
        "status": contract.status.value,
        "phase_guard": contract.phase_guard,
        "auto_complete_enabled": contract.auto_complete_enabled,
        "version": contract.version,
        "completed_deliverables": {k: list(v) for k, v in contract.completed_deliverables.items()},
        "deliverable_notes": notes_to_json(contract),
        "waiting_for": contract.waiting_for.value if contract.waiting_for else None,
        "blocked_reason": contract.blocked_reason,
        "failure_reason": contract.failure_reason,
        "supervisor_task_id": contract.supervisor_task_id,
        "pending_phase": pending.next_phase if pending else None,
        "pending_transition_id": pending.transition_id if pending else None,
        "pending_requested_at": pending.requested_at if pending else None,
        "created_at": contract.created_at,
        "updated_at": contract.updated_at,
        "status_changed_at": contract.status_changed_at,
        "last_activity_at": contract.last_activity_at,
        "completion_detected_at": contract.completion_detected_at,
        "stale_notified_at": contract.stale_notified_at,
    }


def task_from_row(row: RowMapping) -> Task:
    return Task(
        id=row["id"],
        contract_id=row["contract_id"],
        name=row["name"],
        status=TaskStatus(row["status"]),
        is_supervisor=bool(row["is_supervisor"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def task_values(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "contract_id": task.contract_id,
        "name": task.name,
        "status": task.status.value,
        "is_supervisor": task.is_supervisor,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def question_from_row(row: RowMapping) -> Question:
    return Question(
        id=row["id"],
        contract_id=row["contract_id"],
        phase=row["phase"],
        question=row["question"],
        question_type=QuestionType(row["question_type"]),
        choices=tuple(row["choices"] or ()),
        status=QuestionStatus(row["status"]),
        answer=row["answer"],
        asked_at=row["asked_at"],
        answered_at=row["answered_at"],
        answered_by=row["answered_by"],
    )


def question_values(question: Question) -> dict[str, Any]:
    return {
        "id": question.id,
        "contract_id": question.contract_id,
        "phase": question.phase,
        "question": question.question,
        "question_type": question.question_type.value,
        "choices": list(question.choices),
        "status": question.status.value,
        "answer": question.answer,
        "asked_at": question.asked_at,
        "answered_at": question.answered_at,
        "answered_by": question.answered_by,
    }


def event_from_row(row: RowMapping) -> LoggedEvent:
    return LoggedEvent(
        seq=row["seq"],
        at=row["at"],
        type=EventType(row["type"]),
        contract_id=row["contract_id"],
        actor=Actor(row["actor_owner"], Role(row["actor_role"]), row.get("actor_user")),
        payload=row["payload"] or {},
        owner=row["owner"],
    )
