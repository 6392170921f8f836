"""Monitor event types: what the log records and the monitor stream carries.

A decision returns `NewEvent`s (type, contract, payload); the store gives each a `seq`, a
time and the actor when it appends them in the same transaction as the change.

Both are generic over their typed payload (`core.event_payloads`): `event_of(cid,
PhaseChanged(...))` is a `NewEvent[PhaseChanged]`, and `event.data` reads the payload as its
type (a `RawPayload` for a type or shape this version does not know). `payload` stays the
flat wire form the log stores and API.md shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, cast

from typing_extensions import TypeVar

from core.actors import Actor
from core.clock import iso

if TYPE_CHECKING:
    from core.event_payloads import EventPayload, StatusChanged

# The payload type of an event; unsaid, any payload (an event read from the log).
# Covariant: a NewEvent[StatusChanged] is a NewEvent (of any payload), never the reverse.
P_co = TypeVar("P_co", bound="EventPayload", default="EventPayload", covariant=True)
Q = TypeVar("Q", bound="EventPayload")


class EventType(StrEnum):
    CONTRACT_CREATED = "contract_created"
    STATUS_CHANGED = "status_changed"  # old_status, new_status, reason
    PHASE_CHANGED = "phase_changed"  # old_phase, new_phase (+ comment)
    SUPERVISOR_STATE_CHANGED = (
        "supervisor_state_changed"  # supervisor_task_id, old_state, new_state
    )
    STALE_DETECTED = "stale_detected"  # last_activity, stale_duration_secs
    TASK_COMPLETED = "task_completed"  # task_id, task_name, success
    DELIVERABLE_COMPLETED = "deliverable_completed"  # phase, deliverable_id
    QUESTION_ASKED = "question_asked"  # question_id, question, question_type
    QUESTION_ANSWERED = "question_answered"  # question_id, answer
    PHASE_CONFIRMATION_REQUESTED = (
        "phase_confirmation_requested"  # current_phase, next_phase, transition_id
    )
    CHANGES_REQUESTED = "changes_requested"  # feedback, feedback_id, phase
    FEEDBACK_ACKNOWLEDGED = "feedback_acknowledged"  # feedback_id, via (ack | heartbeat)
    SUPERVISOR_RESTART_REQUESTED = "supervisor_restart_requested"
    CONTRACT_DELETED = "contract_deleted"
    TASK_CREATED = "task_created"  # task_id, task_name, is_supervisor
    TASK_UPDATED = "task_updated"  # task_id, task_name, old_status, new_status
    QUESTION_TIMED_OUT = "question_timed_out"  # question_id
    CONTRACT_UPDATED = "contract_updated"  # changed fields
    WORKTREE_CLEANUP_REQUESTED = "worktree_cleanup_requested"  # path, supervisor_task_id
    PHASE_READY = "phase_ready"  # phase, next_phase (None: ready to complete)
    SUPERVISOR_STOP_REQUESTED = "supervisor_stop_requested"  # supervisor_task_id, reason
    QUESTION_REDELIVERED = "question_redelivered"  # question_id, question, question_type
    TASK_RETRIED = "task_retried"  # task_id, task_name, old_status, new_status
    HEARTBEAT = "heartbeat"  # transient: state, activity, progress; never stored
    INBOX_SNOOZED = "inbox_snoozed"  # item_id, until
    INBOX_UNSNOOZED = "inbox_unsnoozed"  # item_id
    INBOX_CLAIMED = "inbox_claimed"  # item_id, claimed_by
    INBOX_UNCLAIMED = "inbox_unclaimed"  # item_id, claimed_by (who had it)
    INBOX_CLAIM_EXPIRED = "inbox_claim_expired"  # item_id, claimed_by, claimed_at
    INBOX_ESCALATED = "inbox_escalated"  # phase, item_ids, escalate_to, waited_secs


# Events a reviewer must look at (the CLI's --quiet keeps only these).
IMPORTANT_EVENTS = frozenset(
    {
        EventType.STATUS_CHANGED,
        EventType.PHASE_CHANGED,
        EventType.STALE_DETECTED,
        EventType.QUESTION_ASKED,
        EventType.PHASE_CONFIRMATION_REQUESTED,
        EventType.SUPERVISOR_RESTART_REQUESTED,
        EventType.CONTRACT_DELETED,
        EventType.PHASE_READY,
        EventType.QUESTION_REDELIVERED,
    }
)


def _typed(event_type: EventType, payload: Mapping[str, Any]) -> Any:
    from core.event_payloads import payload_of  # late: that module imports this one

    return payload_of(event_type, payload)


@dataclass(frozen=True, slots=True)
class NewEvent(Generic[P_co]):
    """An event a decision wants appended; it has no seq until the store writes it."""

    type: EventType
    contract_id: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> P_co:
        """The payload as its type (RawPayload when it does not fit one)."""
        return cast(P_co, _typed(self.type, self.payload))


@dataclass(frozen=True, slots=True)
class LoggedEvent(Generic[P_co]):
    """An event as stored in the log (or a transient heartbeat, with `seq` None)."""

    seq: int | None
    at: datetime
    type: EventType
    contract_id: str
    actor: Actor
    payload: Mapping[str, Any] = field(default_factory=dict)
    owner: str | None = None  # the contract's owner, for scoping; never on the wire

    @property
    def data(self) -> P_co:
        """The payload as its type (RawPayload when it does not fit one)."""
        return cast(P_co, _typed(self.type, self.payload))

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "seq": self.seq,
            "at": iso(self.at),
            "type": self.type.value,
            "contract_id": self.contract_id,
            "actor": self.actor.to_wire(),
        }
        wire.update(self.payload)
        return wire


def event_of(contract_id: str, payload: Q) -> NewEvent[Q]:
    """The event of a typed payload (its type is the payload's KIND)."""
    if payload.KIND is None:
        raise ValueError(f"{type(payload).__name__} names no event type")
    return NewEvent(payload.KIND, contract_id, payload.to_wire())


def status_changed(
    contract_id: str, old: str, new: str, reason: str | None = None
) -> NewEvent[StatusChanged]:
    from core.event_payloads import StatusChanged  # late: that module imports this one

    return event_of(contract_id, StatusChanged(old, new, reason))


@dataclass(frozen=True, slots=True)
class MonitorFilter:
    """A monitor subscription's filter (API.md, `WS /contracts/monitor`)."""

    contract_ids: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    include_stale: bool = True
    include_heartbeats: bool = False
    after: int | None = None

    def wants(self, event_type: EventType, contract_id: str, contract_status: str | None) -> bool:
        """Whether a subscriber with this filter receives the event.

        `contract_status` is the contract's status after the event (None when unknown,
        e.g. a deleted contract), used for the `statuses` narrowing.
        """
        if event_type is EventType.HEARTBEAT and not self.include_heartbeats:
            return False
        if event_type is EventType.STALE_DETECTED and not self.include_stale:
            return False
        if self.contract_ids is not None and contract_id not in self.contract_ids:
            return False
        return self.statuses is None or contract_status is None or contract_status in self.statuses

    @classmethod
    def from_statuses(cls, statuses: Sequence[str] | None, **kwargs: Any) -> MonitorFilter:
        return cls(statuses=frozenset(statuses) if statuses else None, **kwargs)
