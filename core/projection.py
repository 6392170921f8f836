"""What an event means for its contract, asked by every reader of the log.

The hub and the monitor replay (server), the sync monitor and the replica (client), the CLI
and the desktop all need the same three answers about an event: the contract's status after
it, whether it is activity (it moves `lastActivityAt`, API.md timing rules), and the one
sentence that tells a person what happened. They are written here once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.event_payloads import (
    ChangesRequested,
    ContractCreated,
    ContractDeleted,
    DeliverableCompleted,
    EventPayload,
    Heartbeat,
    PhaseChanged,
    PhaseConfirmationRequested,
    PhaseReady,
    QuestionAnswered,
    QuestionAsked,
    QuestionRedelivered,
    RawPayload,
    StaleDetected,
    StatusChanged,
    SupervisorStateChanged,
    SupervisorStopRequested,
    TaskCompleted,
    TaskCreated,
    TaskRetried,
    TaskUpdated,
    payload_of,
)
from core.events import EventType, LoggedEvent

E = EventType

# Events that are activity (API.md timing rules): they move `lastActivityAt`. Heartbeats
# count too, but they are transient and recorded on the contract by the server directly.
ACTIVITY_EVENTS = frozenset(
    {
        E.PHASE_CHANGED,
        E.DELIVERABLE_COMPLETED,
        E.TASK_CREATED,
        E.TASK_COMPLETED,
        E.QUESTION_ASKED,
        E.QUESTION_ANSWERED,
        E.TASK_RETRIED,
    }
)


def is_activity(event_type: EventType | str) -> bool:
    """Whether an event of this type is activity on its contract."""
    return event_type in ACTIVITY_EVENTS


def status_after(event: LoggedEvent, before: str | None) -> str | None:
    """The contract's status after `event`, given the status before it (None: unknown).

    Only a creation, a status change and a deletion move it; a deleted contract has none.
    """
    payload = payload_of(event.type, event.payload)
    if isinstance(payload, StatusChanged):
        return payload.new_status
    if isinstance(payload, ContractCreated):
        return payload.status
    if event.type is EventType.CONTRACT_DELETED:
        return None
    return before


def _q(text: object) -> str:
    return "—" if text is None or text == "" else str(text)


def _phase_changed(p: PhaseChanged) -> str:
    forced = " (forced)" if p.forced else ""
    return f"moved phase {p.old_phase} → {p.new_phase}{forced}"


def _status_changed(p: StatusChanged) -> str:
    reason = f" ({p.reason})" if p.reason else ""
    return f"changed status {p.old_status} → {p.new_status}{reason}"


def _task_completed(p: TaskCompleted) -> str:
    return f"{'finished' if p.success else 'failed'} task {p.task_name}"


def _heartbeat(p: Heartbeat) -> str:
    progress = "" if p.progress is None else f" {p.progress:g}%"
    activity = f": {p.activity}" if p.activity else ""
    return f"heartbeat {_q(p.state)}{progress}{activity}"


def _phase_ready(p: PhaseReady) -> str:
    if p.next_phase is None:
        return f"phase {p.phase} is ready to complete: waiting for you"
    return f"phase {p.phase} is ready to advance to {p.next_phase}: waiting for you"


_SENTENCES: Mapping[type[EventPayload], Callable[[Any], str]] = {
    ContractCreated: lambda p: f"created the contract {p.name} ({p.contract_type})",
    StatusChanged: _status_changed,
    PhaseChanged: _phase_changed,
    SupervisorStateChanged: lambda p: f"supervisor {_q(p.old_state)} → {p.new_state}",
    StaleDetected: lambda p: f"flagged stale after {p.stale_duration_secs} s quiet",
    TaskCompleted: _task_completed,
    DeliverableCompleted: lambda p: f"delivered {p.deliverable_id} ({p.phase})",
    QuestionAsked: lambda p: f"asked: {p.question}",
    QuestionAnswered: lambda p: f"answered: {p.answer}",
    PhaseConfirmationRequested: lambda p: f"asked to move {p.current_phase} → {p.next_phase}",
    ChangesRequested: lambda p: f"requested changes: {p.feedback}",
    ContractDeleted: lambda p: f"deleted the contract {_q(p.name)}",
    TaskCreated: lambda p: f"created task {p.task_name}",
    TaskUpdated: lambda p: f"task {p.task_name}: {p.old_status} → {p.new_status}",
    Heartbeat: _heartbeat,
    PhaseReady: _phase_ready,
    SupervisorStopRequested: lambda p: f"asked the supervisor to stop ({_q(p.reason)})",
    QuestionRedelivered: lambda p: f"asked again: {p.question}",
    TaskRetried: lambda p: f"retried task {p.task_name} ({p.old_status} → {p.new_status})",
}

# Types whose payload carries nothing worth a sentence of its own.
_PLAIN: Mapping[EventType, str] = {
    E.SUPERVISOR_RESTART_REQUESTED: "requested a supervisor restart",
    E.QUESTION_TIMED_OUT: "question timed out",
    E.CONTRACT_UPDATED: "updated the contract",
}


def describe(event_type: EventType | str, wire: Mapping[str, Any]) -> str:
    """The one sentence the CLI and the desktop show for an event.

    `wire` is the event's payload (or its whole wire object); an event of a type this
    version does not know, or with fields it cannot read, is named by its type.
    """
    payload = payload_of(event_type, wire)
    sentence = _SENTENCES.get(type(payload))
    if sentence is not None and not isinstance(payload, RawPayload):
        return sentence(payload)
    known = _known(event_type)
    plain = _PLAIN.get(known) if known is not None else None
    return plain if plain is not None else str(event_type).replace("_", " ")


def _known(event_type: EventType | str) -> EventType | None:
    try:
        return EventType(event_type)
    except ValueError:
        return None


class StatusBook:
    """The status of each contract as one reader of the log last saw it.

    A reader that filters events by status (the hub, the monitor replay, the sync monitor)
    keeps one; an event of a contract it never saw leaves the book as it is, so the reader
    can still learn that contract's status elsewhere (`knows` says whether it has).
    """

    def __init__(self) -> None:
        self._by_id: dict[str, str | None] = {}

    def track(self, event: LoggedEvent) -> str | None:
        """Note `event` and answer the contract's status after it (None: unknown or gone)."""
        before = self._by_id.get(event.contract_id)
        after = status_after(event, before)
        if after != before or event.contract_id in self._by_id:
            self._by_id[event.contract_id] = after
        return after

    def get(self, contract_id: str) -> str | None:
        return self._by_id.get(contract_id)

    def knows(self, contract_id: str) -> bool:
        return contract_id in self._by_id

    def learn(self, statuses: Mapping[str, str | None]) -> None:
        self._by_id.update(statuses)
