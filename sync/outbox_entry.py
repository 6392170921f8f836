"""Outbox entries: the state table, the kinds of action, the entry as stored.

See `sync.outbox` for the lifecycle and the rules; this module holds the one table of moves
(`MOVES`, checked by `check_move`) and the value types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import RowMapping

from core.errors import DomainError, ErrorCode
from core.evidence import PhaseEvidence, evidence_changes, evidence_of
from core.model import Contract


class OutboxState(StrEnum):
    QUEUED = "queued"  # written locally, waiting to be sent (or sent again)
    SENDING = "sending"  # handed to the server, no answer yet
    APPLIED = "applied"  # the server applied it (or replayed the answer of applying it)
    REJECTED = "rejected"  # the server refused it for good; error_code/error_message say why
    CONFLICT = "conflict"  # the contract changed since the reviewer saw it; reviewer decides
    RECONFIRMED = "reconfirmed"  # after a conflict or a refusal, re-sent as a new entry
    DROPPED = "dropped"  # given up by the reviewer

    @property
    def is_final(self) -> bool:
        return not MOVES[self]

    @property
    def is_pending(self) -> bool:
        """Still on its way to the server."""
        return self in (OutboxState.QUEUED, OutboxState.SENDING)


S = OutboxState
MOVES: Final[Mapping[OutboxState, frozenset[OutboxState]]] = {
    S.QUEUED: frozenset({S.SENDING, S.DROPPED}),
    S.SENDING: frozenset({S.APPLIED, S.REJECTED, S.CONFLICT, S.QUEUED}),
    S.CONFLICT: frozenset({S.RECONFIRMED, S.DROPPED}),
    S.REJECTED: frozenset({S.RECONFIRMED, S.DROPPED}),
    S.APPLIED: frozenset(),
    S.RECONFIRMED: frozenset(),
    S.DROPPED: frozenset(),
}


class IllegalOutboxMove(DomainError):
    """A move not in `MOVES` (e.g. dropping an entry that is being sent)."""

    code = ErrorCode.INVALID_TRANSITION

    def __init__(self, entry_id: int, old: OutboxState, new: OutboxState) -> None:
        allowed = sorted(s.value for s in MOVES[old])
        super().__init__(
            f"Outbox entry {entry_id} cannot move from '{old}' to '{new}'; allowed from "
            f"'{old}': {', '.join(allowed) or 'none'}",
            {"entry_id": entry_id, "from": old.value, "to": new.value, "allowed": allowed},
        )


def check_move(entry_id: int, old: OutboxState, new: OutboxState) -> None:
    """Raise IllegalOutboxMove unless `old → new` is in the table."""
    if new not in MOVES[old]:
        raise IllegalOutboxMove(entry_id, old, new)


class ActionKind(StrEnum):
    CONFIRM_PHASE = "confirm_phase"  # phase, comment?, transition_id?, evidence_digest?, evidence?
    REJECT_PHASE = "reject_phase"  # phase, feedback, transition_id?
    ANSWER_QUESTION = "answer_question"  # question_id, answer
    CHANGE_STATUS = "change_status"  # target_status, reason?, blocker? (pause, resume, …)
    UPDATE_CONTRACT = "update_contract"  # name?, description?, phase_guard?
    SET_AUTO_COMPLETE = "set_auto_complete"  # enabled
    BATCH = "batch"  # operation, older_than_hours?, status_filter?, reason?, …
    RESTART_SUPERVISOR = "restart_supervisor"
    SNOOZE_ITEM = "snooze_item"  # item_id, until (ISO 8601)
    UNSNOOZE_ITEM = "unsnooze_item"  # item_id
    CLAIM_ITEM = "claim_item"  # item_id
    UNCLAIM_ITEM = "unclaim_item"  # item_id


# Inbox item actions: what they decide is the item's snooze or its claim.
SNOOZE_KINDS = frozenset({ActionKind.SNOOZE_ITEM, ActionKind.UNSNOOZE_ITEM})
CLAIM_KINDS = frozenset({ActionKind.CLAIM_ITEM, ActionKind.UNCLAIM_ITEM})


class ActionAlreadyQueued(DomainError):
    """The same decision on the same contract is already on its way (QUEUED or SENDING)."""

    code = ErrorCode.VALIDATION_FAILED

    def __init__(self, queued: OutboxEntry) -> None:
        what = action_noun(queued.kind, queued.payload)
        super().__init__(
            f"{what[0].upper()}{what[1:]} is already queued for this contract (outbox entry "
            f"{queued.id}); it is sent when the desk is online. Drop it from the outbox to "
            "decide differently.",
            {"entry_id": queued.id, "contract_id": queued.contract_id, "kind": queued.kind.value},
        )
        self.queued = queued


# Kinds whose endpoint checks `expectedVersion`.
VERSIONED = frozenset({ActionKind.CONFIRM_PHASE, ActionKind.REJECT_PHASE, ActionKind.CHANGE_STATUS})
VERSIONED |= {ActionKind.UPDATE_CONTRACT}


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    contract_id: str | None
    kind: ActionKind
    payload: Mapping[str, Any]
    idempotency_key: str
    expected_version: int | None
    state: OutboxState
    attempts: int
    error_code: str | None
    error_message: str | None
    result: Mapping[str, Any] | None  # server's answer; on CONFLICT {"contract": …, …}
    replaces: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def conflict_contract(self) -> Mapping[str, Any] | None:
        """On CONFLICT: the contract as the server has it now (wire form), if fetched."""
        found = (self.result or {}).get("contract")
        return found if isinstance(found, Mapping) else None

    @property
    def evidence_conflict(self) -> EvidenceConflict | None:
        """On an EVIDENCE_CHANGED conflict: the evidence seen, now, and what changed."""
        if self.error_code != ErrorCode.EVIDENCE_CHANGED.value:
            return None
        details = (self.result or {}).get("details")
        return EvidenceConflict.from_details(details if isinstance(details, Mapping) else {})


@dataclass(frozen=True, slots=True)
class EvidenceChange:
    field: str  # "deliverables.<id>.summary", "missing", …
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class EvidenceConflict:
    """What a reviewer needs to decide again: the evidence they confirmed, the evidence the
    request shows now (wire form, `PhaseEvidence.to_wire()`), and the differences."""

    transition_id: str | None
    seen: Mapping[str, Any] | None
    now: Mapping[str, Any] | None
    changes: tuple[EvidenceChange, ...]

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> EvidenceConflict:
        seen, now = details.get("seen"), details.get("evidence")
        raw = details.get("changes") or []
        changes = tuple(
            EvidenceChange(str(c.get("field")), c.get("before"), c.get("after"))
            for c in raw
            if isinstance(c, Mapping)
        )
        transition = details.get("transitionId")
        return cls(
            transition if isinstance(transition, str) else None,
            seen if isinstance(seen, Mapping) else None,
            now if isinstance(now, Mapping) else None,
            changes,
        )


# The payload keys that bind a phase decision to a request and its evidence.
BOUND_KEYS = frozenset({"transition_id", "evidence_digest", "evidence"})


def is_bound(payload: Mapping[str, Any]) -> bool:
    return isinstance(payload.get("transition_id"), str)


def open_request_evidence(contract: Contract) -> PhaseEvidence | None:
    """The evidence of the contract's open request, when its transition id is known (a
    replica filled from an older server knows only the next phase: no binding then)."""
    evidence = evidence_of(contract)
    return evidence if evidence is not None and evidence.transition_id else None


def bound_payload(evidence: PhaseEvidence, *, with_evidence: bool) -> dict[str, Any]:
    return bound_wire(evidence.to_wire(), with_evidence=with_evidence)


def bound_wire(wire: Mapping[str, Any], *, with_evidence: bool) -> dict[str, Any]:
    """The binding keys from an evidence in wire form (`transitionId`, `digest`, …)."""
    bound: dict[str, Any] = {"transition_id": wire.get("transitionId")}
    if with_evidence:
        bound["evidence_digest"] = wire.get("digest")
        bound["evidence"] = dict(wire)
    return bound


def explained(payload: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
    """EVIDENCE_CHANGED details with `seen` and `changes` filled from what the entry itself
    kept when the server could not tell (it found no evidence of the digest sent)."""
    merged = dict(details)
    seen = payload.get("evidence")
    if merged.get("seen") is None and isinstance(seen, Mapping):
        merged["seen"] = dict(seen)
        now = merged.get("evidence")
        merged["changes"] = [
            c.to_wire() for c in evidence_changes(seen, now if isinstance(now, Mapping) else None)
        ]
    return merged


def entry_from_row(row: RowMapping) -> OutboxEntry:
    return OutboxEntry(
        id=row["id"],
        contract_id=row["contract_id"],
        kind=ActionKind(row["kind"]),
        payload=row["payload"] or {},
        idempotency_key=row["idempotency_key"],
        expected_version=row["expected_version"],
        state=OutboxState(row["state"]),
        attempts=row["attempts"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        result=row["result"],
        replaces=row["replaces"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def action_noun(kind: ActionKind, payload: Mapping[str, Any]) -> str:
    """The action in a few words ("confirmation of 'execute'", "pause"), for messages."""
    phase = payload.get("phase")
    if kind is ActionKind.CONFIRM_PHASE:
        return f"confirmation of '{phase}'"
    if kind is ActionKind.REJECT_PHASE:
        return f"change request for '{phase}'"
    if kind is ActionKind.CHANGE_STATUS:
        target = payload.get("target_status")
        named = {"paused": "pause", "active": "resume"}
        return named.get(str(target), f"status change to {target}")
    if kind is ActionKind.ANSWER_QUESTION:
        return "answer"
    if kind is ActionKind.BATCH:
        return f"batch {payload.get('operation')}"
    if kind in SNOOZE_KINDS | CLAIM_KINDS:
        verb = kind.value.removesuffix("_item")
        return f"{verb} of {payload.get('item_id')}"
    return kind.value.replace("_", " ")


def decision_of(kind: ActionKind, payload: Mapping[str, Any]) -> tuple[Any, ...]:
    """What an action decides. Two entries of one contract deciding the same thing must not
    both be on their way: the second would be sent after the first changed the contract,
    and be refused or, worse, applied twice (a confirm and a change request of the same
    phase are one decision)."""
    if kind in (ActionKind.CONFIRM_PHASE, ActionKind.REJECT_PHASE):
        return ("phase decision", payload.get("phase"))
    if kind is ActionKind.CHANGE_STATUS:
        return (kind.value, payload.get("target_status"))
    if kind is ActionKind.ANSWER_QUESTION:
        return (kind.value, payload.get("question_id"))
    if kind is ActionKind.RESTART_SUPERVISOR:
        return (kind.value,)
    # A snooze and an unsnooze of one item are one decision (its snooze); so are a claim
    # and a release (its claim).
    if kind in SNOOZE_KINDS:
        return ("snooze", payload.get("item_id"))
    if kind in CLAIM_KINDS:
        return ("claim", payload.get("item_id"))
    # Edits, auto-complete and batches: only an identical one is a duplicate.
    return (kind.value, tuple(sorted((k, repr(v)) for k, v in payload.items())))


def queued_duplicate(
    entries: Iterable[OutboxEntry],
    contract_id: str | None,
    kind: ActionKind,
    payload: Mapping[str, Any],
) -> OutboxEntry | None:
    """The entry on its way (QUEUED or SENDING) that already makes this decision, if any."""
    wanted = decision_of(kind, payload)
    for entry in entries:
        if (
            entry.state.is_pending
            and entry.contract_id == contract_id
            and decision_of(entry.kind, entry.payload) == wanted
        ):
            return entry
    return None
