"""Feedback that reaches the supervisor: the thread on a phase, folded from the event log.

When a reviewer requests changes, `changes_requested` carries a `feedback_id` and the phase.
The supervisor acknowledges it (`POST .../feedback/{id}/ack`, or its next heartbeat naming
it in `acknowledged_feedback`): one `feedback_acknowledged` event. Its reply is what it does
next on the contract: a question (`question_asked`) or a new request to advance
(`phase_confirmation_requested`). The thread is those events in order; no table holds it,
so the history, the export and the contract's `feedback` field cannot disagree.

`delivery` is what the reviewer reads: "delivered" once acknowledged, else
"not_yet_picked_up".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.clock import iso
from core.event_payloads import (
    ChangesRequested,
    FeedbackAcknowledged,
    PhaseConfirmationRequested,
    QuestionAsked,
    payload_of,
)
from core.events import EventType, LoggedEvent, NewEvent

# The event types a thread is made of (the store loads only these).
THREAD_EVENTS = (
    EventType.CHANGES_REQUESTED,
    EventType.FEEDBACK_ACKNOWLEDGED,
    EventType.QUESTION_ASKED,
    EventType.PHASE_CONFIRMATION_REQUESTED,
)
MAX_ACKNOWLEDGED = 100  # feedback ids one heartbeat may name


class Delivery(StrEnum):
    DELIVERED = "delivered"
    NOT_YET_PICKED_UP = "not_yet_picked_up"


class AckVia(StrEnum):
    ACK = "ack"  # POST /contracts/{id}/feedback/{feedbackId}/ack
    HEARTBEAT = "heartbeat"  # a heartbeat's acknowledged_feedback


@dataclass(frozen=True, slots=True)
class Reply:
    """The supervisor's next word after the feedback: a question or a new request."""

    kind: str  # "question" | "request"
    text: str
    at: datetime

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "at": iso(self.at)}


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    id: str
    contract_id: str
    phase: str | None
    feedback: str
    requested_by: str
    requested_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_via: str | None = None
    reply: Reply | None = None

    @property
    def delivery(self) -> Delivery:
        return (
            Delivery.DELIVERED if self.acknowledged_at is not None else Delivery.NOT_YET_PICKED_UP
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phase": self.phase,
            "feedback": self.feedback,
            "requestedBy": self.requested_by,
            "requestedAt": iso(self.requested_at),
            "delivery": self.delivery.value,
            "acknowledgedAt": iso(self.acknowledged_at),
            "acknowledgedVia": self.acknowledged_via,
            "reply": self.reply.to_wire() if self.reply is not None else None,
        }


def feedback_thread(events: Iterable[LoggedEvent]) -> list[FeedbackEntry]:
    """The contract's feedback entries, oldest first, from its events in seq order (other
    event types are skipped). A reply belongs to the newest feedback before it, once."""
    entries: list[FeedbackEntry] = []
    for event in events:
        payload = payload_of(event.type, event.payload)
        if isinstance(payload, ChangesRequested) and payload.feedback_id:
            entries.append(
                FeedbackEntry(
                    id=payload.feedback_id,
                    contract_id=event.contract_id,
                    phase=payload.phase,
                    feedback=payload.feedback,
                    requested_by=event.actor.name,
                    requested_at=event.at,
                )
            )
        elif isinstance(payload, FeedbackAcknowledged):
            entries = [_acknowledged(e, payload, event.at) for e in entries]
        elif entries and entries[-1].reply is None:
            reply = _reply(payload, event.at)
            if reply is not None:
                entries[-1] = replace(entries[-1], reply=reply)
    return entries


def _acknowledged(entry: FeedbackEntry, ack: FeedbackAcknowledged, at: datetime) -> FeedbackEntry:
    if entry.id != ack.feedback_id or entry.acknowledged_at is not None:
        return entry
    return replace(entry, acknowledged_at=at, acknowledged_via=ack.via)


def _reply(payload: object, at: datetime) -> Reply | None:
    if isinstance(payload, QuestionAsked):
        return Reply("question", payload.question, at)
    if isinstance(payload, PhaseConfirmationRequested):
        return Reply(
            "request", f"asks again to move {payload.current_phase} → {payload.next_phase}", at
        )
    return None


def acknowledgements(
    thread: Sequence[FeedbackEntry], contract_id: str, feedback_ids: Iterable[str], via: AckVia
) -> list[NewEvent]:
    """One `feedback_acknowledged` per named feedback of the thread not acknowledged yet
    (already acknowledged or unknown ids: nothing; acknowledging is idempotent)."""
    open_ids = {e.id for e in thread if e.acknowledged_at is None}
    events: list[NewEvent] = []
    for ident in dict.fromkeys(feedback_ids):
        if ident in open_ids:
            payload = FeedbackAcknowledged(feedback_id=ident, via=via.value)
            events.append(NewEvent(EventType.FEEDBACK_ACKNOWLEDGED, contract_id, payload.to_wire()))
    return events
