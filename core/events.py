"""Monitor event types: what the log records and the monitor stream carries.

A decision returns `NewEvent`s (type, contract, payload); the store gives each a `seq`, a
time and the actor when it appends them in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.actors import Actor
from core.clock import iso


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
    CHANGES_REQUESTED = "changes_requested"  # feedback
    SUPERVISOR_RESTART_REQUESTED = "supervisor_restart_requested"
    CONTRACT_DELETED = "contract_deleted"
    TASK_CREATED = "task_created"  # task_id, task_name, is_supervisor
    TASK_UPDATED = "task_updated"  # task_id, task_name, old_status, new_status
    QUESTION_TIMED_OUT = "question_timed_out"  # question_id
    CONTRACT_UPDATED = "contract_updated"  # changed fields
    PHASE_READY = "phase_ready"  # phase, next_phase (None: ready to complete)
    SUPERVISOR_STOP_REQUESTED = "supervisor_stop_requested"  # supervisor_task_id, reason
    QUESTION_REDELIVERED = "question_redelivered"  # question_id, question, question_type
    TASK_RETRIED = "task_retried"  # task_id, task_name, old_status, new_status
    HEARTBEAT = "heartbeat"  # transient: state, activity, progress; never stored


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


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event a decision wants appended; it has no seq until the store writes it."""

    type: EventType
    contract_id: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as stored in the log (or a transient heartbeat, with `seq` None)."""

    seq: int | None
    at: datetime
    type: EventType
    contract_id: str
    actor: Actor
    payload: Mapping[str, Any] = field(default_factory=dict)
    owner: str | None = None  # the contract's owner, for scoping; never on the wire

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


def status_changed(contract_id: str, old: str, new: str, reason: str | None = None) -> NewEvent:
    return NewEvent(
        EventType.STATUS_CHANGED,
        contract_id,
        {"old_status": old, "new_status": new, "reason": reason},
    )


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
