"""The phase-change decision (spec §6.1 version conflicts, §6.3 phase guard enforcement).

`decide_phase_change` says which of three answers `POST /contracts/{id}/phase` gives, or
raises the domain error the API returns. The order of the checks is part of the contract:
a stale `expectedVersion` wins over everything, so a reviewer acting on an old screen always
learns that first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.actors import Actor
from core.errors import (
    EvidenceChanged,
    InvalidTransition,
    PhaseGuardRequired,
    RequestSuperseded,
    ValidationFailed,
    VersionConflict,
)
from core.evidence import evidence_of
from core.model import Contract, Question, Task
from core.permissions import ReviewerOnly, check_reviewer_action
from core.status import ContractStatus, allowed_targets

# A phase can only move while the contract is still being worked on.
_CLOSED = frozenset(
    {
        ContractStatus.COMPLETING,
        ContractStatus.COMPLETED,
        ContractStatus.FAILED,
        ContractStatus.ARCHIVED,
    }
)
# Asking for a confirmation puts the contract into `waiting_for_input` (or keeps it there).
_MAY_AWAIT = frozenset({ContractStatus.ACTIVE, ContractStatus.WAITING_FOR_INPUT})


@dataclass(frozen=True, slots=True)
class PhaseChangeRequest:
    phase: str
    confirmed: bool = False
    feedback: str | None = None
    comment: str | None = None
    expected_version: int | None = None
    force: bool = False
    # The confirmation request the reviewer saw and the digest of its evidence: the decision
    # holds while that request is open with that evidence, whatever else changed.
    transition_id: str | None = None
    evidence_digest: str | None = None


class PhaseChangeKind(StrEnum):
    REQUIRES_CONFIRMATION = "requires_confirmation"  # guarded: a reviewer must confirm
    CHANGES_REQUESTED = "changes_requested"  # guarded: the reviewer sent feedback instead
    ADVANCE = "advance"  # move the phase now


@dataclass(frozen=True, slots=True)
class PhaseChangeDecision:
    kind: PhaseChangeKind
    target_phase: str
    current_phase: str
    # Required deliverables a reviewer's `force` skipped (ADVANCE), or still missing for the
    # reviewer to see (REQUIRES_CONFIRMATION); empty when nothing was missing.
    forced_past: tuple[str, ...] = ()


def check_version(contract: Contract, expected_version: int | None) -> None:
    """Raise VersionConflict when the caller's `expectedVersion` is stale (None: no check)."""
    if expected_version is not None and expected_version != contract.version:
        raise VersionConflict(expected_version, contract.version, contract.phase)


def check_binding(
    contract: Contract, transition_id: str | None, evidence_digest: str | None
) -> None:
    """Raise unless the request `transition_id` is still open with evidence `evidence_digest`.

    REQUEST_SUPERSEDED when the request was answered, withdrawn or replaced; EVIDENCE_CHANGED
    (with the evidence now) when its evidence differs from the digest the reviewer saw. No
    transition id: nothing to check (version-bound clients, supervisors).
    """
    if transition_id is None:
        if evidence_digest is not None:
            raise ValidationFailed(
                "evidenceDigest needs the transitionId of the request it belongs to",
                details={"field": "transitionId"},
            )
        return
    pending = contract.pending_confirmation
    if pending is None or pending.transition_id != transition_id:
        current = pending.transition_id if pending else None
        raise RequestSuperseded(transition_id, current, contract.phase)
    evidence = evidence_of(contract)
    if evidence_digest is None or evidence is None or evidence.digest == evidence_digest:
        return
    raise EvidenceChanged(
        f"The evidence of request {transition_id} changed since it was seen; "
        "review it again before deciding",
        {
            "transitionId": transition_id,
            "expectedDigest": evidence_digest,
            "actualDigest": evidence.digest,
            "evidence": evidence.to_wire(),
            "seen": None,
            "changes": [],
        },
    )


def decide_phase_change(
    contract: Contract,
    tasks: Sequence[Task],
    questions: Sequence[Question],
    request: PhaseChangeRequest,
    actor: Actor,
) -> PhaseChangeDecision:
    """Decide a phase change request, raising the API's error when it is refused.

    Traps: the phase guard binds supervisors too — their `confirmed: true` is refused with
    PHASE_GUARD_REQUIRED and their `force` is ignored; on a guarded contract, feedback without
    `confirmed` is a rejection (CHANGES_REQUESTED), never an advance. `tasks` and `questions`
    are accepted for symmetry with the other use cases; the decision does not need them.
    """
    del tasks, questions
    if _has_text(request.feedback):
        check_reviewer_action(actor, ReviewerOnly.REQUEST_CHANGES)
    check_version(contract, request.expected_version)
    check_binding(contract, request.transition_id, request.evidence_digest)
    _check_open(contract)
    _check_target(contract, request.phase)
    guarded = contract.phase_guard
    if guarded and not request.confirmed and _has_text(request.feedback):
        return PhaseChangeDecision(PhaseChangeKind.CHANGES_REQUESTED, request.phase, contract.phase)
    if guarded and not request.confirmed:
        # §6.3: the guard answers first, even with deliverables missing; the confirmation
        # body lists what is missing, and confirming still needs them (or a reviewer's force).
        _check_may_await(contract.status)
        missing = _missing_on_the_way(contract, request.phase)
        return PhaseChangeDecision(
            PhaseChangeKind.REQUIRES_CONFIRMATION, request.phase, contract.phase, missing
        )
    forced_past = _check_deliverables(contract, request, actor)
    if guarded and request.confirmed and actor.is_supervisor:
        raise PhaseGuardRequired()
    return PhaseChangeDecision(PhaseChangeKind.ADVANCE, request.phase, contract.phase, forced_past)


def _check_open(contract: Contract) -> None:
    if contract.status in _CLOSED:
        raise ValidationFailed(
            f"Phase changes need an open contract; this one is '{contract.status}'",
            details={"status": contract.status.value},
        )


def _check_target(contract: Contract, phase: str) -> None:
    contract.phase_config.index_of(phase)  # raises with "Phase must be one of: ..."
    if phase == contract.phase:
        raise ValidationFailed(f"The contract is already in phase '{phase}'")


def _check_deliverables(
    contract: Contract, request: PhaseChangeRequest, actor: Actor
) -> tuple[str, ...]:
    """Required deliverables missing in the phases left behind by a forward move.

    Moving backward checks nothing. A reviewer's or admin's `force` turns the refusal into a
    note (returned); a supervisor's `force` counts for nothing.
    """
    missing = _missing_on_the_way(contract, request.phase)
    if not missing or (request.force and actor.is_human):
        return missing
    raise ValidationFailed(
        f"Cannot advance from '{contract.phase}' to '{request.phase}': "
        f"required deliverables are missing ({', '.join(missing)})",
        missing_requirements=list(missing),
    )


def _missing_on_the_way(contract: Contract, target: str) -> tuple[str, ...]:
    """Required deliverables of the phases a forward move to `target` leaves behind."""
    config = contract.phase_config
    if config.index_of(target) < config.index_of(contract.phase):
        return ()
    passed = config.phases_between(contract.phase, target)
    return tuple(f"Deliverable: {d}" for p in passed for d in contract.missing_required(p))


def _check_may_await(status: ContractStatus) -> None:
    if status not in _MAY_AWAIT:
        raise InvalidTransition(
            status.value, ContractStatus.WAITING_FOR_INPUT.value, allowed_targets(status)
        )


def _has_text(value: str | None) -> bool:
    return bool(value and value.strip())
