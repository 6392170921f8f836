"""The contract status lifecycle: nine states and one table of moves.

The three statuses of the old system (`active`, `completed`, `archived`) keep their values,
so rows written before the new states existed still parse and move by the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.actors import Actor, Role
from core.errors import Forbidden, InvalidTransition, ValidationFailed


class ContractStatus(StrEnum):
    CREATED = "created"  # created, its supervisor has not started yet
    ACTIVE = "active"  # being worked on (legacy value)
    WAITING_FOR_INPUT = "waiting_for_input"  # a question or a confirmation waits on a human
    PAUSED = "paused"  # stopped by a user or by the input timeout
    BLOCKED = "blocked"  # waiting on something outside the system
    COMPLETING = "completing"  # terminal phase done, inside the completion grace period
    COMPLETED = "completed"  # finished (legacy value)
    FAILED = "failed"  # ended by an unrecoverable error
    ARCHIVED = "archived"  # soft-deleted (legacy value)

    @classmethod
    def parse(cls, value: str) -> ContractStatus:
        """Parse a status, accepting any case; unknown values are a validation error."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValidationFailed(
                f"Unknown status '{value}'. Valid statuses: {', '.join(s.value for s in cls)}",
                details={"field": "status", "value": value},
            ) from None

    @property
    def is_terminal(self) -> bool:
        return self in (ContractStatus.COMPLETED, ContractStatus.FAILED, ContractStatus.ARCHIVED)

    @property
    def is_done(self) -> bool:
        """The work is finished and nothing is wrong with it: completed, or archived."""
        return self in (ContractStatus.COMPLETED, ContractStatus.ARCHIVED)

    @property
    def is_open(self) -> bool:
        """Still in the working part of the lifecycle (counted in phase counts)."""
        return not self.is_terminal


LEGACY_STATUSES = frozenset(
    {ContractStatus.ACTIVE, ContractStatus.COMPLETED, ContractStatus.ARCHIVED}
)


class WaitingFor(StrEnum):
    QUESTION = "question"
    PHASE_CONFIRMATION = "phase_confirmation"
    COMPLETION_CONFIRMATION = "completion_confirmation"
    # An `active` contract whose phase gate is met but which a human advances (auto-advance
    # off) or completes (auto-complete off): spec §2.2.3 step 3, "notify user, wait".
    PHASE_READY = "phase_ready"


_S = ContractStatus

TRANSITIONS: Mapping[ContractStatus, frozenset[ContractStatus]] = {
    _S.CREATED: frozenset({_S.ACTIVE, _S.FAILED}),
    _S.ACTIVE: frozenset({_S.WAITING_FOR_INPUT, _S.PAUSED, _S.BLOCKED, _S.COMPLETING, _S.FAILED}),
    _S.WAITING_FOR_INPUT: frozenset({_S.ACTIVE, _S.PAUSED, _S.FAILED}),
    _S.PAUSED: frozenset({_S.ACTIVE, _S.FAILED}),
    _S.BLOCKED: frozenset({_S.ACTIVE, _S.FAILED}),
    _S.COMPLETING: frozenset({_S.COMPLETED, _S.ACTIVE, _S.FAILED}),
    _S.COMPLETED: frozenset({_S.ARCHIVED, _S.FAILED}),
    _S.FAILED: frozenset({_S.ARCHIVED}),
    _S.ARCHIVED: frozenset(),
}

# The moves a supervisor key may trigger itself (API.md, roles); `failed` is allowed from any.
SUPERVISOR_MOVES: frozenset[tuple[ContractStatus, ContractStatus]] = frozenset(
    {(_S.CREATED, _S.ACTIVE), (_S.ACTIVE, _S.BLOCKED), (_S.BLOCKED, _S.ACTIVE)}
)


def can_move(current: ContractStatus, target: ContractStatus) -> bool:
    """Whether the table has the move `current → target` (its guard is checked on the move)."""
    return target in TRANSITIONS[current]


def allowed_targets(current: ContractStatus) -> list[str]:
    """The statuses reachable from `current`, in declaration order (for error messages)."""
    targets = TRANSITIONS[current]
    return [s.value for s in ContractStatus if s in targets]


@dataclass(frozen=True, slots=True)
class TransitionFacts:
    """What the guards of the table need to know about the contract."""

    has_supervisor: bool = False
    has_pending_input: bool = False
    reason: str | None = None
    blocker: str | None = None
    in_terminal_phase: bool = False
    terminal_requirements_met: bool = False


def check_transition(
    current: ContractStatus, target: ContractStatus, facts: TransitionFacts
) -> None:
    """Raise unless `current → target` is in the table and its guard holds.

    A move outside the table is `INVALID_TRANSITION` naming the allowed moves; a move in the
    table whose guard fails is `VALIDATION_FAILED` saying what is missing.
    """
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current.value, target.value, allowed_targets(current))
    missing = _guard_failures(current, target, facts)
    if missing:
        raise ValidationFailed(
            f"Cannot move from '{current}' to '{target}': {'; '.join(missing)}",
            missing_requirements=missing,
        )


def _guard_failures(
    current: ContractStatus, target: ContractStatus, facts: TransitionFacts
) -> list[str]:
    if target is _S.FAILED:
        return [] if _has_text(facts.reason) else ["a reason is required to fail a contract"]
    if (current, target) == (_S.CREATED, _S.ACTIVE):
        return [] if facts.has_supervisor else ["the contract has no supervisor task"]
    if (current, target) == (_S.ACTIVE, _S.WAITING_FOR_INPUT):
        return [] if facts.has_pending_input else ["no pending question or confirmation"]
    if (current, target) == (_S.ACTIVE, _S.BLOCKED):
        return [] if _has_text(facts.blocker) else ["a blocker text is required"]
    if (current, target) == (_S.WAITING_FOR_INPUT, _S.ACTIVE):
        return ["a question or confirmation is still pending"] if facts.has_pending_input else []
    if (current, target) == (_S.ACTIVE, _S.COMPLETING):
        return _completing_failures(facts)
    return []


def _completing_failures(facts: TransitionFacts) -> list[str]:
    if not facts.in_terminal_phase:
        return ["the contract is not in its terminal phase"]
    if not facts.terminal_requirements_met:
        return ["the terminal phase's required deliverables are not met"]
    return []


def _has_text(value: str | None) -> bool:
    return bool(value and value.strip())


def check_actor_may_move(actor: Actor, current: ContractStatus, target: ContractStatus) -> None:
    """Supervisor keys may only make the moves a supervisor triggers (API.md, roles)."""
    if actor.role is not Role.SUPERVISOR:
        return
    if target is _S.FAILED or (current, target) in SUPERVISOR_MOVES:
        return
    raise Forbidden(
        f"A supervisor key may not move a contract from '{current}' to '{target}'; "
        "supervisors may start (created→active), block, unblock and fail contracts"
    )
