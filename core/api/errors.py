"""The error body every failure answers with, its codes, and the HTTP status of each code.

Every error body is `{code, message, details?}` (API.md, Errors). The server maps a
`core.errors.DomainError` here once (`error_body`, `http_status`); the client reads any
error body back with `ErrorBody` and compares `ErrorCode` members, never string literals.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    """Every code the server sends, plus the client's own (`CONNECTION_FAILED`, …)."""

    # The domain's refusals (API.md's error table).
    CONTRACT_NOT_FOUND = "CONTRACT_NOT_FOUND"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    PHASE_GUARD_REQUIRED = "PHASE_GUARD_REQUIRED"
    INVALID_DELIVERABLE = "INVALID_DELIVERABLE"
    SUPERVISOR_NOT_FOUND = "SUPERVISOR_NOT_FOUND"
    SUPERVISOR_DEAD = "SUPERVISOR_DEAD"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    QUESTION_NOT_FOUND = "QUESTION_NOT_FOUND"
    QUESTION_ALREADY_ANSWERED = "QUESTION_ALREADY_ANSWERED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    FEATURE_DISABLED = "FEATURE_DISABLED"
    EVIDENCE_CHANGED = "EVIDENCE_CHANGED"
    REQUEST_SUPERSEDED = "REQUEST_SUPERSEDED"
    INBOX_ITEM_NOT_FOUND = "INBOX_ITEM_NOT_FOUND"
    FEEDBACK_NOT_FOUND = "FEEDBACK_NOT_FOUND"
    # The HTTP layer's refusals (server/errors.py, request and connection guards).
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    HTTP_ERROR = "HTTP_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # The client's own: no answer, or an answer that is not the API's.
    CONNECTION_FAILED = "CONNECTION_FAILED"
    BAD_RESPONSE = "BAD_RESPONSE"
    # A code this version does not know (a newer server, a proxy's `HTTP_<status>`); the
    # text as sent is kept next to it (`sync.errors.ApiError.raw_code`).
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, text: str) -> ErrorCode:
        """The member for `text`; UNKNOWN for a code this version does not know."""
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


HTTP_STATUS: Mapping[ErrorCode, int] = {
    ErrorCode.CONTRACT_NOT_FOUND: 404,
    ErrorCode.INVALID_TRANSITION: 400,
    ErrorCode.VERSION_CONFLICT: 409,
    ErrorCode.PHASE_GUARD_REQUIRED: 409,
    ErrorCode.INVALID_DELIVERABLE: 400,
    ErrorCode.SUPERVISOR_NOT_FOUND: 404,
    ErrorCode.SUPERVISOR_DEAD: 503,
    ErrorCode.VALIDATION_FAILED: 400,
    ErrorCode.QUESTION_NOT_FOUND: 404,
    ErrorCode.QUESTION_ALREADY_ANSWERED: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.TASK_NOT_FOUND: 404,
    # 404 as API.md says: with the flag off the feature is not there, as on an older server.
    ErrorCode.FEATURE_DISABLED: 404,
    ErrorCode.EVIDENCE_CHANGED: 409,
    ErrorCode.REQUEST_SUPERSEDED: 409,
    ErrorCode.INBOX_ITEM_NOT_FOUND: 404,
    ErrorCode.FEEDBACK_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}

# The code of a refusal made by the HTTP layer itself (no route ran).
CODE_OF_STATUS: Mapping[int, ErrorCode] = {
    400: ErrorCode.VALIDATION_FAILED,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


class ErrorBody(BaseModel):
    """`{code, message, details?}`. `code` is text on the wire: a reader keeps a code it does
    not know (`code_member` says which member it is, UNKNOWN for those)."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="An ErrorCode member's value (see the enum).")
    message: str
    details: dict[str, Any] | None = None

    @property
    def code_member(self) -> ErrorCode:
        return ErrorCode.parse(self.code)

    @classmethod
    def of(cls, code: ErrorCode, message: str, details: Mapping[str, Any] | None) -> Self:
        return cls(code=code.value, message=message, details=dict(details) if details else None)

    def to_wire(self) -> dict[str, Any]:
        """The wire body: `details` is left out when there are none."""
        return self.model_dump(exclude_none=True)


def http_status(code: ErrorCode) -> int:
    return HTTP_STATUS.get(code, 500)
