"""Typed payloads of the monitor events: one frozen type per event type, one reader.

The log and the wire keep each event's payload as a flat JSON object (API.md's event
object); `payload_of` turns that object into the event type's frozen payload so a reader
asks `PhaseChanged.new_phase` instead of `payload.get("new_phase")`.

The trap: a reader talks to servers older and newer than itself. An unknown event type, or a
payload missing a field this version expects, is kept as `RawPayload` (the fields as they
came) and never raises: a history line is better than a crashed reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

from core.events import EventType


@dataclass(frozen=True, slots=True)
class EventPayload:
    """Base of every typed payload; `KIND` is the event type it belongs to."""

    KIND: ClassVar[EventType | None] = None

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RawPayload(EventPayload):
    """An event this reader has no type for (another server version): its fields as sent."""

    fields: Mapping[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return dict(self.fields)


@dataclass(frozen=True, slots=True)
class ContractCreated(EventPayload):
    KIND = EventType.CONTRACT_CREATED
    name: str
    contract_type: str
    phase: str
    status: str = "created"


@dataclass(frozen=True, slots=True)
class StatusChanged(EventPayload):
    KIND = EventType.STATUS_CHANGED
    old_status: str
    new_status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PhaseChanged(EventPayload):
    KIND = EventType.PHASE_CHANGED
    old_phase: str
    new_phase: str
    comment: str | None = None
    forced: bool = False


@dataclass(frozen=True, slots=True)
class SupervisorStateChanged(EventPayload):
    KIND = EventType.SUPERVISOR_STATE_CHANGED
    new_state: str
    old_state: str | None = None
    supervisor_task_id: str | None = None


@dataclass(frozen=True, slots=True)
class StaleDetected(EventPayload):
    KIND = EventType.STALE_DETECTED
    stale_duration_secs: int
    last_activity: str | None = None


@dataclass(frozen=True, slots=True)
class TaskCompleted(EventPayload):
    KIND = EventType.TASK_COMPLETED
    task_id: str
    task_name: str
    success: bool


@dataclass(frozen=True, slots=True)
class DeliverableCompleted(EventPayload):
    KIND = EventType.DELIVERABLE_COMPLETED
    phase: str
    deliverable_id: str
    # The note as recorded by this event (each version stays in the history).
    url: str | None = None
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class QuestionAsked(EventPayload):
    KIND = EventType.QUESTION_ASKED
    question_id: str
    question: str
    question_type: str
    choices: tuple[str, ...] = ()
    phase: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = asdict(self)
        wire["choices"] = list(self.choices)
        return wire


@dataclass(frozen=True, slots=True)
class QuestionAnswered(EventPayload):
    KIND = EventType.QUESTION_ANSWERED
    question_id: str
    answer: str


@dataclass(frozen=True, slots=True)
class PhaseConfirmationRequested(EventPayload):
    KIND = EventType.PHASE_CONFIRMATION_REQUESTED
    current_phase: str
    next_phase: str
    transition_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChangesRequested(EventPayload):
    KIND = EventType.CHANGES_REQUESTED
    feedback: str
    # The thread's id (core.feedback) and the phase it is about; None on older events.
    feedback_id: str | None = None
    phase: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackAcknowledged(EventPayload):
    KIND = EventType.FEEDBACK_ACKNOWLEDGED
    feedback_id: str
    via: str = "ack"


@dataclass(frozen=True, slots=True)
class SupervisorRestartRequested(EventPayload):
    KIND = EventType.SUPERVISOR_RESTART_REQUESTED
    supervisor_task_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContractDeleted(EventPayload):
    KIND = EventType.CONTRACT_DELETED
    name: str | None = None


@dataclass(frozen=True, slots=True)
class TaskCreated(EventPayload):
    KIND = EventType.TASK_CREATED
    task_id: str
    task_name: str
    is_supervisor: bool = False
    status: str | None = None


@dataclass(frozen=True, slots=True)
class TaskUpdated(EventPayload):
    KIND = EventType.TASK_UPDATED
    task_id: str
    task_name: str
    old_status: str
    new_status: str


@dataclass(frozen=True, slots=True)
class QuestionTimedOut(EventPayload):
    KIND = EventType.QUESTION_TIMED_OUT
    question_id: str


@dataclass(frozen=True, slots=True)
class ContractUpdated(EventPayload):
    KIND = EventType.CONTRACT_UPDATED
    changes: Mapping[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"changes": dict(self.changes)}


@dataclass(frozen=True, slots=True)
class WorktreeCleanupRequested(EventPayload):
    """A reviewer asked the daemon to remove a worktree of a finished contract."""

    KIND = EventType.WORKTREE_CLEANUP_REQUESTED
    path: str
    supervisor_task_id: str | None = None


@dataclass(frozen=True, slots=True)
class PhaseReady(EventPayload):
    KIND = EventType.PHASE_READY
    phase: str
    next_phase: str | None = None  # None: the terminal phase, ready to complete


@dataclass(frozen=True, slots=True)
class SupervisorStopRequested(EventPayload):
    KIND = EventType.SUPERVISOR_STOP_REQUESTED
    supervisor_task_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class QuestionRedelivered(EventPayload):
    KIND = EventType.QUESTION_REDELIVERED
    question_id: str
    question: str
    question_type: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRetried(EventPayload):
    KIND = EventType.TASK_RETRIED
    task_id: str
    task_name: str
    old_status: str
    new_status: str


@dataclass(frozen=True, slots=True)
class Heartbeat(EventPayload):
    KIND = EventType.HEARTBEAT
    state: str | None = None
    activity: str | None = None
    progress: float | None = None


@dataclass(frozen=True, slots=True)
class InboxSnoozed(EventPayload):
    KIND = EventType.INBOX_SNOOZED
    item_id: str
    until: str  # ISO 8601 UTC
    revision: str | None = None  # the item's revision snoozed (core.inbox): a change ends it


@dataclass(frozen=True, slots=True)
class InboxUnsnoozed(EventPayload):
    KIND = EventType.INBOX_UNSNOOZED
    item_id: str


@dataclass(frozen=True, slots=True)
class InboxClaimed(EventPayload):
    KIND = EventType.INBOX_CLAIMED
    item_id: str
    claimed_by: str


@dataclass(frozen=True, slots=True)
class InboxUnclaimed(EventPayload):
    KIND = EventType.INBOX_UNCLAIMED
    item_id: str
    claimed_by: str | None = None


@dataclass(frozen=True, slots=True)
class InboxClaimExpired(EventPayload):
    KIND = EventType.INBOX_CLAIM_EXPIRED
    item_id: str
    claimed_by: str | None = None
    claimed_at: str | None = None


@dataclass(frozen=True, slots=True)
class InboxEscalated(EventPayload):
    KIND = EventType.INBOX_ESCALATED
    phase: str
    item_ids: tuple[str, ...] = ()
    escalate_to: tuple[str, ...] = ()
    waited_secs: int = 0

    def to_wire(self) -> dict[str, Any]:
        wire = asdict(self)
        wire["item_ids"] = list(self.item_ids)
        wire["escalate_to"] = list(self.escalate_to)
        return wire


_TYPES: Mapping[EventType, type[EventPayload]] = {
    cls.KIND: cls
    for cls in (
        ContractCreated,
        StatusChanged,
        PhaseChanged,
        SupervisorStateChanged,
        StaleDetected,
        TaskCompleted,
        DeliverableCompleted,
        QuestionAsked,
        QuestionAnswered,
        PhaseConfirmationRequested,
        ChangesRequested,
        FeedbackAcknowledged,
        SupervisorRestartRequested,
        ContractDeleted,
        TaskCreated,
        TaskUpdated,
        QuestionTimedOut,
        ContractUpdated,
        WorktreeCleanupRequested,
        PhaseReady,
        SupervisorStopRequested,
        QuestionRedelivered,
        TaskRetried,
        Heartbeat,
        InboxSnoozed,
        InboxUnsnoozed,
        InboxClaimed,
        InboxUnclaimed,
        InboxClaimExpired,
        InboxEscalated,
    )
    if cls.KIND is not None
}

P = TypeVar("P", bound=EventPayload)


def payload_type(event_type: EventType | str) -> type[EventPayload] | None:
    """The payload type of an event type (None for a type this version does not know)."""
    try:
        return _TYPES.get(EventType(event_type))
    except ValueError:
        return None


def payload_of(event_type: EventType | str, wire: Mapping[str, Any]) -> EventPayload:
    """The typed payload of an event read from the log or the wire; raw when unknown.

    Fields the type does not declare (the envelope's `seq`, `at`, ... or a newer server's
    additions) are ignored; a missing or ill-typed required field makes it raw.
    """
    cls = payload_type(event_type)
    if cls is None:
        return RawPayload(dict(wire))
    values = {f.name: wire[f.name] for f in fields(cls) if f.name in wire}
    for name in ("choices", "item_ids", "escalate_to"):  # lists on the wire, tuples here
        if name in values and isinstance(values[name], list):
            values[name] = tuple(str(c) for c in values[name])
    try:
        payload = cls(**values)
    except TypeError:
        return RawPayload(dict(wire))
    return payload if _well_typed(payload) else RawPayload(dict(wire))


# What each declared field type admits (annotations are strings here: `from __future__`).
_ADMITS: Mapping[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "bool": (bool,),
    "int": (int,),
    "float | None": (int, float, type(None)),
    "tuple[str, ...]": (tuple,),
    "Mapping[str, Any]": (Mapping,),
}


def _well_typed(payload: EventPayload) -> bool:
    """Every field holds what its type admits (an old server may have sent null or text)."""
    for f in fields(payload):
        admits = _ADMITS.get(str(f.type))
        if admits is not None and not isinstance(getattr(payload, f.name), admits):
            return False
    return True


def as_type(payload: EventPayload, cls: type[P]) -> P | None:
    """`payload` when it is a `cls`, else None (for readers that want one type)."""
    return payload if isinstance(payload, cls) else None
