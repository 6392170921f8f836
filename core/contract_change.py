"""One use case's change to a contract, built step by step and turned into one Outcome.

A use case may take several steps (a task finishes, the phase advances, the contract starts
completing); the version still grows by exactly one. `ContractChange` collects the steps
without touching the version and bumps it once in `outcome()`, only if the contract really
changed. Status moves go through `check_transition`, so even automatic moves obey the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.events import EventType, NewEvent, status_changed
from core.model import Contract, Question
from core.outcome import Outcome
from core.status import ContractStatus, TransitionFacts, WaitingFor, check_transition

_S = ContractStatus


def waiting_reason(contract: Contract, questions: Sequence[Question]) -> WaitingFor | None:
    """What a `waiting_for_input` contract waits on; a phase confirmation comes first.

    Trap: the enum holds one reason, so with both a confirmation and a question pending the
    confirmation is named (it is the one that blocks the phase).
    """
    if contract.pending_confirmation is not None:
        return WaitingFor.PHASE_CONFIRMATION
    if any(q.is_pending for q in questions):
        return WaitingFor.QUESTION
    return None


def transition_facts(
    contract: Contract,
    questions: Sequence[Question],
    reason: str | None = None,
    blocker: str | None = None,
) -> TransitionFacts:
    """The facts the status table's guards read, taken from the contract as it is now."""
    terminal = contract.terminal_phase
    return TransitionFacts(
        has_supervisor=contract.supervisor_task_id is not None,
        has_pending_input=waiting_reason(contract, questions) is not None,
        reason=reason,
        blocker=blocker,
        in_terminal_phase=contract.in_terminal_phase,
        terminal_requirements_met=not contract.missing_required(terminal),
    )


def status_effects(
    contract: Contract,
    target: ContractStatus,
    now: datetime,
    reason: str | None,
    blocker: str | None,
) -> dict[str, Any]:
    """The fields a move to `target` sets besides the status itself.

    `waiting_for` and the blocker only describe the status they belong to, so leaving
    `waiting_for_input`, `completing` or `blocked` clears them.
    """
    current = contract.status
    changes: dict[str, Any] = {"status": target, "status_changed_at": now}
    if current is _S.BLOCKED:
        changes["blocked_reason"] = None
    if current in (_S.WAITING_FOR_INPUT, _S.COMPLETING, _S.ACTIVE):
        changes["waiting_for"] = None  # on an active contract: the `phase_ready` mark
    if (current, target) == (_S.COMPLETING, _S.ACTIVE):
        changes["completion_detected_at"] = None  # the user rejected completion
    changes.update(_entry_effects(target, now, reason, blocker))
    return changes


def _entry_effects(
    target: ContractStatus, now: datetime, reason: str | None, blocker: str | None
) -> dict[str, Any]:
    if target is _S.BLOCKED:
        return {"blocked_reason": blocker}
    if target is _S.FAILED:
        return {"failure_reason": reason}
    if target is _S.COMPLETING:
        return {"completion_detected_at": now, "waiting_for": WaitingFor.COMPLETION_CONFIRMATION}
    return {}


class ContractChange:
    """A contract being changed by one use case: the steps, the events, then one Outcome."""

    def __init__(self, contract: Contract) -> None:
        self.original = contract
        self.contract = contract
        self.events: list[NewEvent] = []

    def set(self, **changes: Any) -> None:
        """Change fields without touching the version (bumped once, in `outcome`)."""
        self.contract = replace(self.contract, **changes)

    def emit(self, event_type: EventType, **payload: Any) -> None:
        self.events.append(NewEvent(event_type, self.contract.id, payload))

    def touch(self, now: datetime) -> None:
        """Record activity; new activity also ends a stale episode (API.md timing rules)."""
        self.set(last_activity_at=now, stale_notified_at=None)

    def move(
        self,
        target: ContractStatus,
        now: datetime,
        questions: Sequence[Question],
        reason: str | None = None,
        blocker: str | None = None,
    ) -> None:
        """Move the status by the table (raising as `check_transition` does) and log it.

        `questions` are the contract's questions as they are after this use case, since the
        guards of `waiting_for_input` read what is pending.
        """
        old = self.contract.status
        facts = transition_facts(self.contract, questions, reason, blocker)
        check_transition(old, target, facts)
        self.set(**status_effects(self.contract, target, now, reason, blocker))
        if target is _S.WAITING_FOR_INPUT:
            self.set(waiting_for=waiting_reason(self.contract, questions))
        event_reason = blocker if target is _S.BLOCKED else reason
        self.events.append(status_changed(self.contract.id, old.value, target.value, event_reason))

    def settle_waiting(self, now: datetime, questions: Sequence[Question]) -> None:
        """After something pending was resolved: back to `active` when nothing is left,
        otherwise keep waiting and name what is still pending."""
        if self.contract.status is not _S.WAITING_FOR_INPUT:
            return
        reason = waiting_reason(self.contract, questions)
        if reason is None:
            self.move(_S.ACTIVE, now, questions)
        else:
            self.set(waiting_for=reason)

    def await_pending_input(self, now: datetime, questions: Sequence[Question]) -> None:
        """An `active` contract with a question or a confirmation pending waits for it.

        Without this a contract paused while waiting (or asked a question while paused) came
        back `active` with its question open: quiet on purpose, yet counted stale and blamed
        on its supervisor (core.attention).
        """
        if self.contract.status is not _S.ACTIVE:
            return
        if waiting_reason(self.contract, questions) is not None:
            self.move(_S.WAITING_FOR_INPUT, now, questions)

    def outcome(self, now: datetime, **fields: Any) -> Outcome:
        """The Outcome: version + 1 and `updated_at = now` if the contract changed at all."""
        contract = self.contract
        if contract != self.original:
            contract = contract.changed(now)
        return Outcome(
            contract=contract,
            events=tuple(self.events),
            previous_version=self.original.version,
            **fields,
        )
