"""Domain errors: one exception type per API error code.

Every error carries the wire `code`, a human `message` and optional `details`; the server
maps any of them to the API's error body and HTTP status in one place (`core.api.errors`,
`server.errors`), so no use case knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.api.errors import ErrorCode

# ErrorCode is re-exported: the codes belong to the errors, most callers import both here.
__all__ = [
    "ContractNotFound",
    "DomainError",
    "ErrorCode",
    "EvidenceChanged",
    "FeatureDisabled",
    "FeedbackNotFound",
    "Forbidden",
    "IdempotencyKeyReused",
    "InboxItemNotFound",
    "InvalidDeliverable",
    "InvalidTransition",
    "PhaseGuardRequired",
    "QuestionAlreadyAnswered",
    "QuestionNotFound",
    "RequestSuperseded",
    "SupervisorDead",
    "SupervisorNotFound",
    "TaskNotFound",
    "Unauthorized",
    "ValidationFailed",
    "VersionConflict",
]


class DomainError(Exception):
    """A rule said no. `code` is the API error code, `details` its machine-readable part."""

    code: ErrorCode = ErrorCode.VALIDATION_FAILED

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class ContractNotFound(DomainError):
    code = ErrorCode.CONTRACT_NOT_FOUND

    def __init__(self, contract_id: str) -> None:
        super().__init__(f"Contract {contract_id} not found", {"contract_id": contract_id})


class InboxItemNotFound(DomainError):
    """No item of that id waits on the caller's owner (handled, or never was)."""

    code = ErrorCode.INBOX_ITEM_NOT_FOUND

    def __init__(self, item_id: str) -> None:
        super().__init__(f"Inbox item {item_id} not found", {"item_id": item_id})


class FeedbackNotFound(DomainError):
    """The contract has no feedback of that id (core.feedback)."""

    code = ErrorCode.FEEDBACK_NOT_FOUND

    def __init__(self, contract_id: str, feedback_id: str) -> None:
        super().__init__(
            f"Contract {contract_id} has no feedback {feedback_id}",
            {"contract_id": contract_id, "feedback_id": feedback_id},
        )


class TaskNotFound(DomainError):
    code = ErrorCode.TASK_NOT_FOUND

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task {task_id} not found", {"task_id": task_id})


class InvalidTransition(DomainError):
    """A status move that is not in the transition table."""

    code = ErrorCode.INVALID_TRANSITION

    def __init__(self, from_status: str, to_status: str, allowed: Sequence[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"Cannot move a contract from '{from_status}' to '{to_status}'; "
            f"allowed from '{from_status}': {allowed_text}",
            {"from": from_status, "to": to_status, "allowed": list(allowed)},
        )


class VersionConflict(DomainError):
    code = ErrorCode.VERSION_CONFLICT

    def __init__(self, expected: int, actual: int, current_phase: str) -> None:
        super().__init__(
            f"Contract changed since version {expected} (now version {actual}, "
            f"phase '{current_phase}')",
            {
                "expected_version": expected,
                "actual_version": actual,
                "current_phase": current_phase,
            },
        )


class EvidenceChanged(DomainError):
    """A decision bound to evidence the request no longer shows.

    `details`: `transitionId`, `expectedDigest`, `actualDigest`, `evidence` (now, with its
    digest) and, when the server can tell, `seen` (the evidence of `expectedDigest`) and
    `changes` ([{field, before, after}]).
    """

    code = ErrorCode.EVIDENCE_CHANGED

    def __init__(self, message: str, details: Mapping[str, Any]) -> None:
        super().__init__(message, details)


class RequestSuperseded(DomainError):
    """A decision on a confirmation request that was answered, withdrawn or replaced.

    `details`: `transitionId` (the one decided on), `currentTransitionId` (the open request,
    or null), `reason` (`answered` when none is open, `replaced` when another one is).
    """

    code = ErrorCode.REQUEST_SUPERSEDED

    def __init__(self, transition_id: str, current: str | None, phase: str) -> None:
        reason = "answered" if current is None else "replaced"
        text = (
            "no confirmation is open any more"
            if current is None
            else f"a newer request {current} replaced it"
        )
        super().__init__(
            f"The confirmation request {transition_id} is no longer open: {text}",
            {
                "transitionId": transition_id,
                "currentTransitionId": current,
                "reason": reason,
                "currentPhase": phase,
            },
        )


class PhaseGuardRequired(DomainError):
    code = ErrorCode.PHASE_GUARD_REQUIRED

    def __init__(self, message: str = "Phase guard is enabled: a reviewer must confirm") -> None:
        super().__init__(message)


class InvalidDeliverable(DomainError):
    code = ErrorCode.INVALID_DELIVERABLE

    def __init__(self, deliverable_id: str, phase: str, valid_ids: Sequence[str]) -> None:
        super().__init__(
            f"Invalid deliverable '{deliverable_id}' for {phase} phase. "
            f"Valid IDs: [{', '.join(valid_ids)}]",
            {"deliverable_id": deliverable_id, "phase": phase, "valid_ids": list(valid_ids)},
        )


class SupervisorNotFound(DomainError):
    code = ErrorCode.SUPERVISOR_NOT_FOUND

    def __init__(self, contract_id: str) -> None:
        super().__init__(f"Contract {contract_id} has no supervisor", {"contract_id": contract_id})


class SupervisorDead(DomainError):
    code = ErrorCode.SUPERVISOR_DEAD

    def __init__(self, contract_id: str, last_heartbeat: str | None) -> None:
        super().__init__(
            f"Supervisor of contract {contract_id} is not alive (last heartbeat: "
            f"{last_heartbeat or 'never'})",
            {"contract_id": contract_id, "last_heartbeat": last_heartbeat},
        )


class ValidationFailed(DomainError):
    code = ErrorCode.VALIDATION_FAILED

    def __init__(
        self,
        message: str,
        missing_requirements: Sequence[str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        merged = dict(details or {})
        if missing_requirements is not None:
            merged["missing_requirements"] = list(missing_requirements)
        super().__init__(message, merged)


class QuestionNotFound(DomainError):
    code = ErrorCode.QUESTION_NOT_FOUND

    def __init__(self, question_id: str) -> None:
        super().__init__(f"Question {question_id} not found", {"question_id": question_id})


class QuestionAlreadyAnswered(DomainError):
    code = ErrorCode.QUESTION_ALREADY_ANSWERED

    def __init__(self, question_id: str, status: str) -> None:
        super().__init__(
            f"Question {question_id} is already {status}",
            {"question_id": question_id, "status": status},
        )


class IdempotencyKeyReused(DomainError):
    code = ErrorCode.IDEMPOTENCY_KEY_REUSED

    def __init__(self) -> None:
        super().__init__("Idempotency-Key was already used with a different request")


class Unauthorized(DomainError):
    code = ErrorCode.UNAUTHORIZED

    def __init__(self, message: str = "Missing or unknown API key") -> None:
        super().__init__(message)


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN

    def __init__(self, message: str) -> None:
        super().__init__(message)


class FeatureDisabled(DomainError):
    """A `[feature_flags]` switch of the server's configuration turned this feature off."""

    code = ErrorCode.FEATURE_DISABLED

    def __init__(self, flag: str, what: str) -> None:
        super().__init__(
            f"{what} is turned off on this server ([feature_flags] {flag} = false)",
            {"feature": flag},
        )
