"""From-wire parsers: the inverse of the `to_wire` methods of the model and the event log.

The client side (sync, CLI, desktop replica) reads the API's JSON back into the same core
types the server produced it from, so one set of rules works on both sides.

Each parser raises `ValidationFailed` naming the field when the JSON does not have the
expected shape, never a bare `KeyError` or `TypeError` from deep inside.

The traps:
- `owner` is never on the wire: parsed contracts and events carry the owner the caller
  passes (the key's owner, or "" when unknown).
- A pending guarded confirmation is `pendingConfirmation` (transition id, next phase, request
  time, evidence digest); an older server shows only `pendingPhase`, and then the parsed
  `pending_confirmation` has an empty `transition_id` and `updatedAt` as its request time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from core.actors import Actor, Role
from core.clock import parse_iso
from core.errors import ValidationFailed
from core.events import EventType, LoggedEvent
from core.feedback import FeedbackEntry, Reply
from core.inbox import InboxItem, InboxKind
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

E = TypeVar("E", bound=Enum)

# The keys of an event's envelope; everything else on an event object is its payload.
EVENT_ENVELOPE = frozenset({"seq", "at", "type", "contract_id", "actor"})


def contract_from_wire(wire: Mapping[str, Any], *, owner: str = "") -> Contract:
    """A Contract from the API's Contract object (extra keys, as on a detail, are ignored)."""
    w = _Fields(wire, "contract")
    phase_config = wire.get("phaseConfig")
    updated_at = w.time("updatedAt")
    return Contract(
        id=w.text("id"),
        owner=owner,
        name=w.text("name"),
        contract_type=w.enum("contractType", ContractType),
        phase=w.text("phase"),
        status=w.enum("status", ContractStatus),
        created_at=w.time("createdAt"),
        updated_at=updated_at,
        status_changed_at=w.time("statusChangedAt"),
        last_activity_at=w.time("lastActivityAt"),
        description=w.opt_text("description"),
        custom_phase_config=parse_phase_config(phase_config) if phase_config else None,
        phase_guard=w.flag("phaseGuard", default=True),
        auto_complete_enabled=w.flag("autoCompleteEnabled", default=True),
        version=w.whole("version"),
        completed_deliverables=_deliverables(wire.get("completedDeliverables")),
        waiting_for=w.opt_enum("waitingFor", WaitingFor),
        blocked_reason=w.opt_text("blockedReason"),
        failure_reason=w.opt_text("failureReason"),
        supervisor_task_id=w.opt_text("supervisorTaskId"),
        completion_detected_at=w.opt_time("completionDetectedAt"),
        pending_confirmation=_pending(wire, updated_at),
        deliverable_notes=_notes(wire.get("deliverableNotes")),
    )


def _pending(wire: Mapping[str, Any], updated_at: datetime) -> PendingPhaseConfirmation | None:
    raw = wire.get("pendingConfirmation")
    if raw is None:
        phase = _Fields(wire, "contract").opt_text("pendingPhase")
        return PendingPhaseConfirmation("", phase, updated_at) if phase else None
    w = _Fields(raw, "pendingConfirmation")
    return PendingPhaseConfirmation(
        w.text("transitionId"), w.text("nextPhase"), w.opt_time("requestedAt") or updated_at
    )


def _notes(raw: Any) -> dict[str, dict[str, DeliverableNote]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _bad("contract", "deliverableNotes", raw, "an object {phase: {id: note}}")
    parsed: dict[str, dict[str, DeliverableNote]] = {}
    for phase, notes in raw.items():
        if not isinstance(notes, Mapping):
            raise _bad("contract", f"deliverableNotes.{phase}", notes, "an object {id: note}")
        parsed[str(phase)] = {str(d): note_from_wire(n) for d, n in notes.items()}
    return parsed


def note_from_wire(raw: Any) -> DeliverableNote:
    """`{url, summary}` (either may be null or absent)."""
    if not isinstance(raw, Mapping):
        raise _bad("contract", "deliverableNotes", raw, "an object {url, summary}")
    w = _Fields(raw, "deliverable note")
    return DeliverableNote(w.opt_text("url"), w.opt_text("summary"))


def inbox_item_from_wire(wire: Mapping[str, Any]) -> InboxItem:
    """One item of `GET /inbox` (`{items: [...]}`)."""
    w = _Fields(wire, "inbox item")
    return InboxItem(
        id=w.text("id"),
        kind=w.enum("kind", InboxKind),
        contract_id=w.text("contractId"),
        contract_name=w.text("contractName"),
        phase=w.text("phase"),
        since=w.time("since"),
        question_id=w.opt_text("questionId"),
        transition_id=w.opt_text("transitionId"),
        snoozed_until=w.opt_time("snoozedUntil"),
        claimed_by=w.opt_text("claimedBy"),
        claimed_at=w.opt_time("claimedAt"),
        deadline=w.opt_time("deadline"),
        blocked_by=w.opt_text("blockedBy"),
        escalated=bool(wire.get("escalated", False)),
    )


def feedback_from_wire(wire: Mapping[str, Any]) -> FeedbackEntry:
    """One entry of a contract's `feedback` thread (`GET /contracts/{id}`, the export)."""
    w = _Fields(wire, "feedback")
    raw_reply = wire.get("reply")
    reply = None
    if isinstance(raw_reply, Mapping):
        r = _Fields(raw_reply, "feedback reply")
        reply = Reply(r.text("kind"), r.text("text"), r.time("at"))
    return FeedbackEntry(
        id=w.text("id"),
        contract_id=str(wire.get("contractId") or ""),
        phase=w.opt_text("phase"),
        feedback=w.text("feedback"),
        requested_by=w.text("requestedBy"),
        requested_at=w.time("requestedAt"),
        acknowledged_at=w.opt_time("acknowledgedAt"),
        acknowledged_via=w.opt_text("acknowledgedVia"),
        reply=reply,
    )


def task_from_wire(wire: Mapping[str, Any]) -> Task:
    w = _Fields(wire, "task")
    return Task(
        id=w.text("id"),
        contract_id=w.text("contractId"),
        name=w.text("name"),
        status=w.enum("status", TaskStatus),
        created_at=w.time("createdAt"),
        updated_at=w.time("updatedAt"),
        is_supervisor=w.flag("isSupervisor", default=False),
    )


def question_from_wire(wire: Mapping[str, Any]) -> Question:
    w = _Fields(wire, "question")
    choices = wire.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise _bad("question", "choices", choices, "a list of strings")
    return Question(
        id=w.text("id"),
        contract_id=w.text("contractId"),
        phase=w.text("phase"),
        question=w.text("question"),
        question_type=w.enum("questionType", QuestionType),
        asked_at=w.time("askedAt"),
        choices=tuple(choices),
        status=w.enum("status", QuestionStatus),
        answer=w.opt_text("answer"),
        answered_at=w.opt_time("answeredAt"),
        answered_by=w.opt_text("answeredBy"),
    )


def event_from_wire(wire: Mapping[str, Any], *, owner: str | None = None) -> LoggedEvent:
    """A logged event (or a transient heartbeat, `seq` null) from its wire object."""
    w = _Fields(wire, "event")
    seq = wire.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise _bad("event", "seq", seq, "a whole number or null")
    return LoggedEvent(
        seq=seq,
        at=w.time("at"),
        type=w.enum("type", EventType),
        contract_id=w.text("contract_id"),
        actor=actor_from_wire(wire.get("actor")),
        payload={k: v for k, v in wire.items() if k not in EVENT_ENVELOPE},
        owner=owner,
    )


def actor_from_wire(wire: Any) -> Actor:
    """`{owner, role}`; a missing actor (as on some transient heartbeats) is the system."""
    if wire is None:
        return Actor("system", Role.SYSTEM)
    if not isinstance(wire, Mapping):
        raise _bad("event", "actor", wire, "an object {owner, role}")
    w = _Fields(wire, "actor")
    user = wire.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("actor", "user", user, "a string or null")
    return Actor(w.text("owner"), w.enum("role", Role), user)


def _deliverables(raw: Any) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _bad("contract", "completedDeliverables", raw, "an object {phase: [ids]}")
    parsed: dict[str, tuple[str, ...]] = {}
    for phase, ids in raw.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _bad("contract", f"completedDeliverables.{phase}", ids, "a list of ids")
        parsed[str(phase)] = tuple(ids)
    return parsed


def _bad(kind: str, key: str, value: Any, expected: str) -> ValidationFailed:
    return ValidationFailed(
        f"The {kind}'s '{key}' must be {expected}, got {str(value)[:60]!r}",
        details={"object": kind, "field": key},
    )


class _Fields:
    """Typed reads of one wire object, each failure naming the object and the field."""

    def __init__(self, wire: Mapping[str, Any], kind: str) -> None:
        if not isinstance(wire, Mapping):
            raise ValidationFailed(f"A {kind} must be a JSON object, got {type(wire).__name__}")
        self._wire = wire
        self._kind = kind

    def _get(self, key: str) -> Any:
        if key not in self._wire:
            raise ValidationFailed(
                f"The {self._kind} has no '{key}'", details={"object": self._kind, "field": key}
            )
        return self._wire[key]

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise _bad(self._kind, key, value, "a string")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self._wire.get(key)
        if value is not None and not isinstance(value, str):
            raise _bad(self._kind, key, value, "a string or null")
        return value

    def whole(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(self._kind, key, value, "a whole number")
        return value

    def flag(self, key: str, *, default: bool) -> bool:
        value = self._wire.get(key, default)
        if not isinstance(value, bool):
            raise _bad(self._kind, key, value, "true or false")
        return value

    def time(self, key: str) -> datetime:
        return self._parse_time(key, self._get(key))

    def opt_time(self, key: str) -> datetime | None:
        value = self._wire.get(key)
        return None if value is None else self._parse_time(key, value)

    def _parse_time(self, key: str, value: Any) -> datetime:
        try:
            return parse_iso(value)
        except (TypeError, ValueError, AttributeError):
            raise _bad(self._kind, key, value, "an ISO 8601 time") from None

    def enum(self, key: str, kind: type[E]) -> E:
        value = self._get(key)
        try:
            return kind(value)
        except ValueError:
            raise _bad(self._kind, key, value, f"a known {key}") from None

    def opt_enum(self, key: str, kind: type[E]) -> E | None:
        return None if self._wire.get(key) is None else self.enum(key, kind)
