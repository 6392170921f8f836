"""Contracts, tasks and questions on the wire: the Create / Update / Public family.

Request bodies (`…Create`, `…Update`, `…Body`) are strict and bounded; values whose rules
live in core (contract type, phase, question type, choices) stay plain strings so core's
messages, which list the valid values, reach the client unchanged. Public models describe
the answers key for key as `Contract.to_wire` & co. write them (a test round-trips them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StrictBool, StrictInt, Tag

from core.api.base import (
    MAX_TEXT,
    MAX_VERSION,
    Body,
    CamelModel,
    SnakeModel,
    WireTime,
)
from core.api.feedback import FeedbackPublic
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
from core.phases import ContractType, DeliverablePriority, parse_phase_config
from core.status import ContractStatus, WaitingFor

Version = Annotated[int, Field(ge=0, le=MAX_VERSION)]

# --- request bodies ------------------------------------------------------------------------


class ContractCreate(Body):
    name: str = Field(max_length=MAX_TEXT)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    contract_type: str = Field(max_length=64)
    phase_config: dict[str, Any] | None = None
    phase_guard: bool = True
    auto_complete_enabled: bool | None = None  # None: `[contracts] auto_complete_enabled`


class ContractUpdate(Body):
    name: str | None = Field(default=None, max_length=MAX_TEXT)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    phase_guard: bool | None = None
    expected_version: Version | None = None


class StatusChangeBody(Body):
    target_status: ContractStatus = Field(strict=False)
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    blocker: str | None = Field(default=None, max_length=MAX_TEXT)
    expected_version: Version | None = None


class PhaseChangeBody(Body):
    phase: str = Field(max_length=200)
    confirmed: bool = False
    feedback: str | None = Field(default=None, max_length=MAX_TEXT)
    comment: str | None = Field(default=None, max_length=MAX_TEXT)
    expected_version: Version | None = None
    force: bool = False
    # Bind the decision to the request seen and its evidence (core.phase_change.check_binding).
    transition_id: str | None = Field(default=None, max_length=64)
    evidence_digest: str | None = Field(default=None, max_length=128)


class AutoCompleteBody(Body):
    enabled: bool


class DeliverableMarkBody(Body):
    deliverable_id: str = Field(max_length=200)
    phase: str | None = Field(default=None, max_length=200)
    # Checked by core.evidence.check_note (http(s)/file URL, summary of at most 64 KiB of
    # UTF-8); the bounds here only stop absurd bodies before they are parsed further.
    url: str | None = Field(default=None, max_length=MAX_TEXT)
    summary: str | None = Field(default=None, max_length=MAX_TEXT)


class TaskCreate(Body):
    name: str = Field(max_length=MAX_TEXT)
    is_supervisor: bool = False


class TaskUpdate(Body):
    status: TaskStatus = Field(strict=False)


class QuestionCreate(Body):
    question: str = Field(max_length=MAX_TEXT)
    question_type: str = Field(max_length=64)
    choices: list[str] = Field(default_factory=list, max_length=100)


class AnswerBody(Body):
    answer: str = Field(max_length=MAX_TEXT)


class ContractListQuery(CamelModel):
    """`GET /contracts` query parameters (values arrive as text, so not strict)."""

    status: str | None = Field(default=None, max_length=500)
    phase: str | None = Field(default=None, max_length=200)
    stale: bool = False
    threshold: str | None = Field(default=None, max_length=50)
    waiting: bool = False
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=2**62)
    updated_since: str | None = Field(default=None, max_length=64)


# --- answers -------------------------------------------------------------------------------


class PhasePublic(CamelModel):
    id: str
    name: str
    order: int


class DeliverableDefPublic(CamelModel):
    id: str
    name: str
    priority: DeliverablePriority


class PhaseConfigPublic(CamelModel):
    phases: list[PhasePublic]
    default_phase: str
    deliverables: dict[str, list[DeliverableDefPublic]]


class PendingConfirmationPublic(CamelModel):
    """The open confirmation request: what a reviewer's decision names to bind to it."""

    transition_id: str
    next_phase: str
    requested_at: WireTime
    evidence_digest: str


class DeliverableNotePublic(CamelModel):
    url: str | None
    summary: str | None = Field(description="Markdown")


class DeliverableEvidencePublic(CamelModel):
    id: str
    name: str
    priority: DeliverablePriority
    state: Literal["done", "missing", "open"]
    url: str | None
    summary: str | None


class EvidencePublic(CamelModel):
    """What a reviewer confirms; `digest` is sha256 of the canonical JSON of the rest
    (without `transitionId`)."""

    transition_id: str
    digest: str
    phase: str
    next_phase: str
    deliverables: list[DeliverableEvidencePublic]
    missing: list[str]


class ContractPublic(CamelModel):
    """API.md's Contract object."""

    id: str
    name: str
    description: str | None = None
    contract_type: ContractType
    phase: str
    phases: list[PhasePublic] = Field(default_factory=list)
    phase_config: PhaseConfigPublic | None = None
    status: ContractStatus
    phase_guard: StrictBool = True
    auto_complete_enabled: StrictBool = True
    version: StrictInt
    completed_deliverables: dict[str, list[str]] = Field(default_factory=dict)
    waiting_for: WaitingFor | None = None
    blocked_reason: str | None = None
    failure_reason: str | None = None
    supervisor_task_id: str | None = None
    created_at: WireTime
    updated_at: WireTime
    status_changed_at: WireTime
    last_activity_at: WireTime
    completion_detected_at: WireTime | None = None
    pending_phase: str | None = Field(
        default=None, description="The phase a pending guarded advance asks to move to."
    )
    pending_confirmation: PendingConfirmationPublic | None = None
    deliverable_notes: dict[str, dict[str, DeliverableNotePublic]] = Field(
        default_factory=dict, description="phase → deliverable id → where it is, what it says"
    )

    def to_domain(self, owner: str, phase_config: Mapping[str, Any] | None) -> Contract:
        """The core Contract (`owner` is never on the wire; `phase_config` is the raw
        `phaseConfig`, checked by core's one parser).

        An older server shows only the phase of a pending guarded confirmation
        (`pendingPhase`): the contract's `pending_confirmation` then gets an empty
        transition id and `updatedAt` as its time.
        """
        return Contract(
            id=self.id,
            owner=owner,
            name=self.name,
            contract_type=self.contract_type,
            phase=self.phase,
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at,
            status_changed_at=self.status_changed_at,
            last_activity_at=self.last_activity_at,
            description=self.description,
            custom_phase_config=parse_phase_config(phase_config) if phase_config else None,
            phase_guard=self.phase_guard,
            auto_complete_enabled=self.auto_complete_enabled,
            version=self.version,
            completed_deliverables={k: tuple(v) for k, v in self.completed_deliverables.items()},
            waiting_for=self.waiting_for,
            blocked_reason=self.blocked_reason,
            failure_reason=self.failure_reason,
            supervisor_task_id=self.supervisor_task_id,
            completion_detected_at=self.completion_detected_at,
            pending_confirmation=self._pending(),
            deliverable_notes={
                phase: {d: DeliverableNote(n.url, n.summary) for d, n in notes.items()}
                for phase, notes in self.deliverable_notes.items()
            },
        )

    def _pending(self) -> PendingPhaseConfirmation | None:
        open_request = self.pending_confirmation
        if open_request is not None:
            return PendingPhaseConfirmation(
                open_request.transition_id, open_request.next_phase, open_request.requested_at
            )
        phase = self.pending_phase
        return PendingPhaseConfirmation("", phase, self.updated_at) if phase else None


class TaskPublic(CamelModel):
    id: str
    contract_id: str
    name: str
    status: TaskStatus
    is_supervisor: StrictBool = False
    created_at: WireTime
    updated_at: WireTime

    def to_domain(self) -> Task:
        return Task(
            id=self.id,
            contract_id=self.contract_id,
            name=self.name,
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at,
            is_supervisor=self.is_supervisor,
        )


class QuestionPublic(CamelModel):
    id: str
    contract_id: str
    phase: str
    question: str
    question_type: QuestionType
    choices: list[str] = Field(default_factory=list)
    status: QuestionStatus
    answer: str | None = None
    asked_at: WireTime
    answered_at: WireTime | None = None
    answered_by: str | None = None

    def to_domain(self) -> Question:
        return Question(
            id=self.id,
            contract_id=self.contract_id,
            phase=self.phase,
            question=self.question,
            question_type=self.question_type,
            asked_at=self.asked_at,
            choices=tuple(self.choices),
            status=self.status,
            answer=self.answer,
            answered_at=self.answered_at,
            answered_by=self.answered_by,
        )


class ReadinessPublic(SnakeModel):
    """`GET /contracts/{id}/phase-readiness` (snake_case, as the specification shows)."""

    phase: str
    ready: bool
    missing: list[str]
    auto_advance_enabled: bool


class CompletionCheckPublic(SnakeModel):
    """`POST /contracts/{id}/check-completion`."""

    ready: bool
    would_complete: bool
    missing: list[str]
    started: bool = Field(default=False, description="Completion started now.")
    status: ContractStatus | None = Field(default=None, description="The status after it.")
    version: int | None = None


class SupervisorStatusPublic(SnakeModel):
    """`GET /contracts/{id}/supervisor/status` (snake_case, as the specification shows)."""

    task_id: str | None
    state: str | None
    phase: str | None
    current_activity: str | None
    progress: int
    last_heartbeat: WireTime | None
    pending_task_ids: list[str]
    alive: bool


class ContractDetailPublic(ContractPublic):
    """`GET /contracts/{id}`: the Contract plus its tasks, pending questions, supervisor
    status (null without a supervisor) and the current phase's readiness."""

    tasks: list[TaskPublic]
    pending_questions: list[QuestionPublic]
    supervisor: SupervisorStatusPublic | None
    readiness: ReadinessPublic
    evidence: EvidencePublic | None = None
    feedback: list[FeedbackPublic] = Field(
        default_factory=list, description="Each change request and whether it was picked up."
    )


class ContractListPublic(CamelModel):
    contracts: list[ContractPublic]
    total: int


class QuestionListPublic(CamelModel):
    questions: list[QuestionPublic]


class StatusChangeAnswer(CamelModel):
    """`POST /contracts/{id}/status`: `newStatus` may be `waiting_for_input` when the move
    landed on a contract that still waits on the reviewer."""

    success: bool = True
    previous_status: ContractStatus
    new_status: ContractStatus
    rejection_reason: str | None = None
    version: int | None = Field(default=None, description="The contract's version after it.")


class DeliverableCheck(CamelModel):
    id: str
    name: str
    completed: bool


class RequiresConfirmation(CamelModel):
    """A guarded advance asks a reviewer first; the contract now waits for one."""

    status: Literal["requires_confirmation"] = "requires_confirmation"
    transition_id: str
    current_phase: str
    next_phase: str
    deliverables_summary: str
    deliverables: list[DeliverableCheck]
    phase_tasks: list[TaskPublic]
    requires_confirmation: bool = True
    message: str
    missing_requirements: list[str] = Field(
        default_factory=list, description="Required deliverables still missing (§6.3)."
    )
    version: int | None = None


class ChangesRequestedAnswer(CamelModel):
    """The reviewer's feedback was recorded; the contract is active again."""

    status: Literal["changes_requested"] = "changes_requested"
    feedback: str
    feedback_id: str | None = Field(
        default=None, description="Names the feedback thread the supervisor acknowledges."
    )
    version: int | None = None


PHASE_ANSWER_STATUSES = frozenset({"requires_confirmation", "changes_requested"})


def _phase_answer_kind(value: Any) -> str:
    """Which answer a body is: the Contract (the phase moved) carries the contract's status,
    the two others carry their own `status` text."""
    status = value.get("status") if isinstance(value, dict) else getattr(value, "status", None)
    return str(status) if status in PHASE_ANSWER_STATUSES else "advanced"


PhaseChangeAnswer = Annotated[
    Annotated[ContractPublic, Tag("advanced")]
    | Annotated[RequiresConfirmation, Tag("requires_confirmation")]
    | Annotated[ChangesRequestedAnswer, Tag("changes_requested")],
    Discriminator(_phase_answer_kind),
]
"""`POST /contracts/{id}/phase`: advanced (the moved Contract) | requires_confirmation |
changes_requested."""


class HealthPublic(SnakeModel):
    status: str
    db: str
