"""What an event means for its contract, asked by every reader of the log.

The hub and the monitor replay (server), the sync monitor and the replica (client), the CLI
and the desktop all need the same three answers about an event: the contract's status after
it, whether it is activity (it moves `lastActivityAt`, API.md timing rules), and the one
sentence that tells a person what happened. They are written here once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.api.base import wire_alias
from core.clock import parse_iso
from core.contract_change import status_effects
from core.event_payloads import (
    ChangesRequested,
    ContractCreated,
    ContractDeleted,
    DeliverableCompleted,
    EventPayload,
    FeedbackAcknowledged,
    Heartbeat,
    InboxClaimed,
    InboxClaimExpired,
    InboxEscalated,
    InboxSnoozed,
    InboxUnclaimed,
    InboxUnsnoozed,
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
    WorktreeCleanupRequested,
    payload_of,
)
from core.events import EventType, LoggedEvent
from core.model import Contract, DeliverableNote, PendingPhaseConfirmation
from core.status import ContractStatus
from core.timing import INPUT_TIMEOUT_REASON

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
    payload = event.data
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


def _escalated(p: InboxEscalated) -> str:
    to = ", ".join(p.escalate_to) or "nobody named"
    return (
        f"escalated {len(p.item_ids)} waiting item(s) in {p.phase} to {to} after {p.waited_secs} s"
    )


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
    FeedbackAcknowledged: lambda p: f"picked up the feedback ({p.via})",
    ContractDeleted: lambda p: f"deleted the contract {_q(p.name)}",
    TaskCreated: lambda p: f"created task {p.task_name}",
    TaskUpdated: lambda p: f"task {p.task_name}: {p.old_status} → {p.new_status}",
    Heartbeat: _heartbeat,
    WorktreeCleanupRequested: lambda p: f"asked the daemon to remove the worktree {p.path}",
    InboxSnoozed: lambda p: f"snoozed {p.item_id} until {p.until}",
    InboxUnsnoozed: lambda p: f"unsnoozed {p.item_id}",
    InboxClaimed: lambda p: f"claimed {p.item_id} ({p.claimed_by} is on it)",
    InboxUnclaimed: lambda p: f"released the claim on {p.item_id}",
    InboxEscalated: _escalated,
    InboxClaimExpired: lambda p: (
        f"claim by {_q(p.claimed_by)} on {p.item_id} lapsed: it alarms again"
    ),
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


# --- the contract after an event (the replica's fold) ------------------------------------

# Events whose effect on the contract row `contract_after` reproduces exactly, given the
# events before them: a reader folding a stamped event of these types needs no refresh.
# Any other type (a new one from a newer server, too) is a gap the reader repairs by
# refreshing the contract. `tests/sync/test_replica_fold.py` checks the fold against a real
# server's rows.
FOLDED_EVENTS = frozenset(
    {
        E.STATUS_CHANGED,
        E.PHASE_CHANGED,
        E.DELIVERABLE_COMPLETED,
        E.PHASE_CONFIRMATION_REQUESTED,
        E.CHANGES_REQUESTED,
        E.CONTRACT_UPDATED,
        E.TASK_CREATED,
        E.TASK_UPDATED,
        E.TASK_COMPLETED,
        E.QUESTION_ASKED,
        E.QUESTION_ANSWERED,
        E.QUESTION_TIMED_OUT,
        E.STALE_DETECTED,
        E.SUPERVISOR_RESTART_REQUESTED,
        E.SUPERVISOR_STATE_CHANGED,
    }
)


# Events that never change the contract row (snooze, claim, escalation, feedback picked up):
# they carry no version stamp, and there is nothing to fold, so a replica holding the
# contract reproduces the row exactly without asking the server.
ROW_NEUTRAL_EVENTS = frozenset(
    {
        E.INBOX_SNOOZED,
        E.INBOX_UNSNOOZED,
        E.INBOX_CLAIMED,
        E.INBOX_UNCLAIMED,
        E.INBOX_CLAIM_EXPIRED,
        E.INBOX_ESCALATED,
        E.FEEDBACK_ACKNOWLEDGED,
    }
)


def stamp_of(event: LoggedEvent) -> tuple[int, datetime] | None:
    """The contract `version` and `updated_at` the event's use case produced (None: the
    server did not stamp it, as an older one does not)."""
    version, updated = event.payload.get("version"), event.payload.get("updated_at")
    if not isinstance(version, int) or isinstance(version, bool) or not isinstance(updated, str):
        return None
    try:
        return version, parse_iso(updated)
    except ValueError:
        return None


def folds_exactly(contract: Contract | None, event: LoggedEvent) -> bool:
    """Whether `contract_after(contract, event)` is the server's row: the event is stamped,
    of a folded type, and follows the row's version without a change in between (or the
    event never changes the row)."""
    if event.type in ROW_NEUTRAL_EVENTS:
        return contract is not None
    if contract is None or event.type not in FOLDED_EVENTS:
        return False
    stamp = stamp_of(event)
    return stamp is not None and stamp[0] <= contract.version + 1


def contract_after(contract: Contract, event: LoggedEvent) -> Contract:
    """The contract after `event`, as far as the event tells.

    An event older than the row (its stamped version below the row's, or, unstamped, its
    time before the row's `updatedAt`) is already reflected in it. The events of one use
    case share one stamp; folding them again changes nothing.
    """
    if is_activity(event.type) and event.at > contract.last_activity_at:
        contract = replace(contract, last_activity_at=event.at, stale_notified_at=None)
    if event.type is E.STALE_DETECTED:
        contract = replace(contract, stale_notified_at=event.at)
    stamp = stamp_of(event)
    if stamp is None:
        if event.at < contract.updated_at:
            return contract
        changes = _changes(contract, event)
        return replace(contract, updated_at=event.at, **changes) if changes else contract
    if stamp[0] < contract.version:
        return contract
    return replace(contract, version=stamp[0], updated_at=stamp[1], **_changes(contract, event))


def _changes(contract: Contract, event: LoggedEvent) -> dict[str, Any]:
    p, t = event.payload, event.type
    if t is E.STATUS_CHANGED:
        return _status_changes(contract, event)
    if t is E.PHASE_CHANGED:
        return {"phase": str(p.get("new_phase", contract.phase)), "pending_confirmation": None}
    if t is E.PHASE_CONFIRMATION_REQUESTED:
        pending = PendingPhaseConfirmation(
            str(p.get("transition_id", "")), str(p.get("next_phase", "")), event.at
        )
        return {"pending_confirmation": pending}
    if t is E.CHANGES_REQUESTED:
        return {"pending_confirmation": None}
    if t is E.DELIVERABLE_COMPLETED:
        return _deliverable(contract, str(p.get("phase", contract.phase)), p)
    if t is E.CONTRACT_UPDATED:
        return _updated_fields(p.get("changes"))
    if t is E.TASK_CREATED and p.get("is_supervisor"):
        return {"supervisor_task_id": p.get("task_id")}
    return {}


def _status_changes(contract: Contract, event: LoggedEvent) -> dict[str, Any]:
    try:
        target = ContractStatus(str(event.payload.get("new_status")))
    except ValueError:
        return {}
    reason = event.payload.get("reason")
    changes = status_effects(contract, target, event.at, reason, reason)
    if target is ContractStatus.PAUSED and reason == INPUT_TIMEOUT_REASON:
        # The input timeout expires everything waited for, the confirmation included.
        changes["pending_confirmation"] = None
    return changes


def _deliverable(contract: Contract, phase: str, p: Mapping[str, Any]) -> dict[str, Any]:
    """The deliverable recorded, and its note (url, summary) when the event carries one:
    each version of a note is its own event, carrying the whole note."""
    deliverable = p.get("deliverable_id")
    if not isinstance(deliverable, str):
        return {}
    changes: dict[str, Any] = {}
    done = contract.completed_in(phase)
    if deliverable not in done:
        merged = dict(contract.completed_deliverables)
        merged[phase] = (*done, deliverable)
        changes["completed_deliverables"] = merged
    url, summary = p.get("url"), p.get("summary")
    if isinstance(url, str) or isinstance(summary, str):
        note = DeliverableNote(
            url if isinstance(url, str) else None, summary if isinstance(summary, str) else None
        )
        if contract.note_of(phase, deliverable) != note:
            notes = dict(contract.deliverable_notes)
            notes[phase] = {**notes.get(phase, {}), deliverable: note}
            changes["deliverable_notes"] = notes
    return changes


# The settings a `contract_updated` event may carry, under either spelling of the wire.
_SETTINGS = {
    spelling: name
    for name in ("name", "description", "phase_guard", "auto_complete_enabled")
    for spelling in (name, wire_alias(name))
}


def _updated_fields(changes: Any) -> dict[str, Any]:
    if not isinstance(changes, Mapping):
        return {}
    return {_SETTINGS[k]: v for k, v in changes.items() if k in _SETTINGS}
