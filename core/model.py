"""Plain value types the rules take and return: a contract, its tasks and its questions.

They carry no I/O. The store turns rows into these and writes back what a decision changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.clock import iso
from core.evidence import DeliverableNote, evidence_of
from core.phases import ContractType, PhaseConfig, phase_config_for
from core.status import ContractStatus, WaitingFor

__all__ = [  # DeliverableNote lives with the evidence rule; the model re-exports it
    "Contract",
    "DeliverableNote",
    "PendingPhaseConfirmation",
    "Question",
    "QuestionStatus",
    "QuestionType",
    "Task",
    "TaskStatus",
]


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def is_finished(self) -> bool:
        return self in (TaskStatus.DONE, TaskStatus.FAILED)


class QuestionType(StrEnum):
    FREE_TEXT = "free_text"
    CHOICE = "choice"
    CONFIRMATION = "confirmation"


class QuestionStatus(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class PendingPhaseConfirmation:
    """A guarded phase advance waiting for a reviewer."""

    transition_id: str
    next_phase: str
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class Contract:
    id: str
    owner: str
    name: str
    contract_type: ContractType
    phase: str
    status: ContractStatus
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    last_activity_at: datetime
    description: str | None = None
    custom_phase_config: PhaseConfig | None = None
    phase_guard: bool = True
    auto_complete_enabled: bool = True
    version: int = 1
    completed_deliverables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    waiting_for: WaitingFor | None = None
    blocked_reason: str | None = None
    failure_reason: str | None = None
    supervisor_task_id: str | None = None
    completion_detected_at: datetime | None = None
    stale_notified_at: datetime | None = None
    pending_confirmation: PendingPhaseConfirmation | None = None
    # phase → deliverable id → its note; only deliverables recorded with a url or summary.
    deliverable_notes: Mapping[str, Mapping[str, DeliverableNote]] = field(default_factory=dict)

    @property
    def phase_config(self) -> PhaseConfig:
        return phase_config_for(self.contract_type, self.custom_phase_config)

    @property
    def terminal_phase(self) -> str:
        return self.phase_config.terminal_phase

    @property
    def in_terminal_phase(self) -> bool:
        return self.phase == self.terminal_phase

    def completed_in(self, phase: str) -> tuple[str, ...]:
        return tuple(self.completed_deliverables.get(phase, ()))

    def note_of(self, phase: str, deliverable_id: str) -> DeliverableNote | None:
        return self.deliverable_notes.get(phase, {}).get(deliverable_id)

    def missing_required(self, phase: str) -> list[str]:
        done = set(self.completed_in(phase))
        return [d for d in self.phase_config.required_for(phase) if d not in done]

    def changed(self, now: datetime, **changes: Any) -> Contract:
        """A copy with `changes`, the version one higher and `updated_at` = now."""
        return replace(self, version=self.version + 1, updated_at=now, **changes)

    def to_wire(self) -> dict[str, Any]:
        """The API's Contract object (camelCase keys)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "contractType": self.contract_type.value,
            "phase": self.phase,
            "phases": self.phase_config.to_wire()["phases"],
            "phaseConfig": self.custom_phase_config.to_wire() if self.custom_phase_config else None,
            "status": self.status.value,
            "phaseGuard": self.phase_guard,
            "autoCompleteEnabled": self.auto_complete_enabled,
            "version": self.version,
            "completedDeliverables": {k: list(v) for k, v in self.completed_deliverables.items()},
            "waitingFor": self.waiting_for.value if self.waiting_for else None,
            "blockedReason": self.blocked_reason,
            "failureReason": self.failure_reason,
            "supervisorTaskId": self.supervisor_task_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "statusChangedAt": iso(self.status_changed_at),
            "lastActivityAt": iso(self.last_activity_at),
            "completionDetectedAt": iso(self.completion_detected_at),
            "pendingPhase": self.pending_confirmation.next_phase
            if self.pending_confirmation
            else None,
            "pendingConfirmation": self._pending_wire(),
            "deliverableNotes": {
                phase: {d: note.to_wire() for d, note in notes.items()}
                for phase, notes in self.deliverable_notes.items()
            },
        }

    def _pending_wire(self) -> dict[str, Any] | None:
        """The open confirmation request: what a reviewer's decision must name to bind to it."""
        pending, evidence = self.pending_confirmation, evidence_of(self)
        if pending is None or evidence is None:
            return None
        return {
            "transitionId": pending.transition_id,
            "nextPhase": pending.next_phase,
            "requestedAt": iso(pending.requested_at),
            "evidenceDigest": evidence.digest,
        }


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    contract_id: str
    name: str
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    is_supervisor: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contractId": self.contract_id,
            "name": self.name,
            "status": self.status.value,
            "isSupervisor": self.is_supervisor,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    contract_id: str
    phase: str
    question: str
    question_type: QuestionType
    asked_at: datetime
    choices: tuple[str, ...] = ()
    status: QuestionStatus = QuestionStatus.PENDING
    answer: str | None = None
    answered_at: datetime | None = None
    answered_by: str | None = None

    @property
    def is_pending(self) -> bool:
        return self.status is QuestionStatus.PENDING

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contractId": self.contract_id,
            "phase": self.phase,
            "question": self.question,
            "questionType": self.question_type.value,
            "choices": list(self.choices),
            "status": self.status.value,
            "answer": self.answer,
            "askedAt": iso(self.asked_at),
            "answeredAt": iso(self.answered_at),
            "answeredBy": self.answered_by,
        }
