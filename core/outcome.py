"""What a use case decided: the contract as it now is, what else changed, what to log.

Core functions return an `Outcome`; the store writes it in one transaction (contract row
with an optimistic version check, changed tasks and questions, events appended with `seq`).

When the answer is more than the contract itself, `decision` says what was decided as a
typed value (`StatusMoved`, `ConfirmationRequested`, `FeedbackRecorded`); the route maps it
to its wire model (`core.api.answers`). No use case builds a response body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.events import NewEvent
from core.model import Contract, Question, Task
from core.status import ContractStatus

CONFIRMATION_MESSAGE = "Phase guard is enabled. User confirmation required."


@dataclass(frozen=True, slots=True)
class StatusMoved:
    """A status change was applied: `new` may be `waiting_for_input` when the contract,
    made active, still waits on the reviewer."""

    previous: ContractStatus
    new: ContractStatus


@dataclass(frozen=True, slots=True)
class DeliverableProgress:
    id: str
    name: str
    completed: bool


@dataclass(frozen=True, slots=True)
class ConfirmationRequested:
    """A guarded phase advance waits for a reviewer: what the reviewer is asked to confirm."""

    transition_id: str
    current_phase: str
    next_phase: str
    summary: str
    deliverables: tuple[DeliverableProgress, ...]
    phase_tasks: tuple[Task, ...]
    message: str = CONFIRMATION_MESSAGE
    # Required deliverables still missing (§6.3: the guard answers first, the dialog shows them).
    missing_requirements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedbackRecorded:
    """A reviewer asked for changes instead of confirming; the contract works on."""

    feedback: str
    feedback_id: str | None = None  # names the thread the supervisor acknowledges


@dataclass(frozen=True, slots=True)
class CleanupRequested:
    """The daemon was asked to remove these worktrees (one event each)."""

    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompletionChecked:
    """The "force completion check": whether the contract is ready, what is missing, and
    whether completion started now (`status` is the contract's status after the check)."""

    ready: bool
    would_complete: bool
    missing: tuple[str, ...]
    started: bool
    status: ContractStatus


Decision = (
    StatusMoved | ConfirmationRequested | FeedbackRecorded | CleanupRequested | CompletionChecked
)


@dataclass(frozen=True, slots=True)
class Outcome:
    contract: Contract
    events: tuple[NewEvent, ...] = ()
    tasks: tuple[Task, ...] = ()  # tasks created or changed
    questions: tuple[Question, ...] = ()  # questions created or changed
    # What was decided when the answer is not the Contract itself (None: the Contract).
    decision: Decision | None = None
    previous_version: int | None = None  # the version read before the change (None: created)
    deleted: bool = False  # the contract row is to be deleted (events are kept)
    activity_only: bool = False  # only last_activity_at / stale marker moved: no version bump
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return (
            self.previous_version is None
            or self.contract.version != self.previous_version
            or bool(
                self.events or self.tasks or self.questions or self.deleted or self.activity_only
            )
        )
