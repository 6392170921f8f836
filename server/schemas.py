"""Request bodies: one model per endpoint, camelCase or snake_case keys, strict JSON types.

Strict mode makes a wrong JSON type (a string for a bool, a float for an int) a 400
VALIDATION_FAILED instead of a silent coercion. Values whose rules live in core (contract
type, phase, question type, choices) stay plain strings here so core's messages, which
list the valid values, reach the client unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from core.model import TaskStatus
from core.status import ContractStatus

MAX_TEXT = 100_000
# Versions are small counters; bounding them keeps every number JSON-encodable as a 64-bit
# integer (a 100-digit expectedVersion must be a 400, not a failure to encode the 409).
MAX_VERSION = 2**53


# What an unknown body key most likely meant: said in the 400 that refuses it.
UNKNOWN_KEY_HINTS = {
    "status": "the status moves through POST /contracts/{id}/status (targetStatus)",
    "targetStatus": "the status moves through POST /contracts/{id}/status",
    "older_than": "use older_than_hours (a number of hours)",
    "olderThan": "use olderThanHours (a number of hours)",
}


class Body(BaseModel):
    # Unknown keys are refused (400 naming the key): a typo must never be silently ignored.
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        strict=True,
        frozen=True,
        extra="forbid",
    )


class ContractCreate(Body):
    name: str = Field(max_length=MAX_TEXT)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    contract_type: str = Field(max_length=64)
    phase_config: dict[str, Any] | None = None
    phase_guard: bool = True
    auto_complete_enabled: bool = True


class ContractUpdate(Body):
    name: str | None = Field(default=None, max_length=MAX_TEXT)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    phase_guard: bool | None = None
    expected_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)


class StatusChange(Body):
    target_status: ContractStatus = Field(strict=False)
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    blocker: str | None = Field(default=None, max_length=MAX_TEXT)
    expected_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)


class PhaseChange(Body):
    phase: str = Field(max_length=200)
    confirmed: bool = False
    feedback: str | None = Field(default=None, max_length=MAX_TEXT)
    comment: str | None = Field(default=None, max_length=MAX_TEXT)
    expected_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    force: bool = False


class AutoComplete(Body):
    enabled: bool


class DeliverableMark(Body):
    deliverable_id: str = Field(max_length=200)
    phase: str | None = Field(default=None, max_length=200)


class TaskCreate(Body):
    name: str = Field(max_length=MAX_TEXT)
    is_supervisor: bool = False


class TaskUpdate(Body):
    status: TaskStatus = Field(strict=False)


class QuestionCreate(Body):
    question: str = Field(max_length=MAX_TEXT)
    question_type: str = Field(max_length=64)
    choices: list[str] = Field(default_factory=list, max_length=100)


class Answer(Body):
    answer: str = Field(max_length=MAX_TEXT)


class HeartbeatBatchBody(Body):
    heartbeats: list[dict[str, Any]] = Field(max_length=10_000)


class ContractListQuery(BaseModel):
    """`GET /contracts` query parameters (values arrive as text, so not strict)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, frozen=True)

    status: str | None = Field(default=None, max_length=500)
    phase: str | None = Field(default=None, max_length=200)
    stale: bool = False
    threshold: str | None = Field(default=None, max_length=50)
    waiting: bool = False
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=2**62)
    updated_since: str | None = Field(default=None, max_length=64)


class BatchBody(Body):
    """`POST /contracts/batch`: typed and bounded here; `core.batch.BatchRequest.parse`
    checks the operation, the statuses and fills each operation's defaults."""

    operation: str = Field(max_length=64)
    older_than_hours: float | None = Field(default=None, ge=0, le=1e9)
    status_filter: list[str] | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    stale_threshold_minutes: float | None = Field(default=None, ge=0, le=1e9)
    dry_run: bool | None = None
