"""`POST /contracts/batch` (admin keys only): the body and the answer (snake_case keys, as
the specification shows; camelCase accepted in)."""

from __future__ import annotations

from pydantic import Field

from core.api.base import MAX_TEXT, SnakeBody, SnakeModel


class BatchBody(SnakeBody):
    """Typed and bounded here; `core.batch.BatchRequest.parse` checks the operation, the
    statuses and fills each operation's defaults."""

    operation: str = Field(max_length=64)
    older_than_hours: float | None = Field(default=None, ge=0, le=1e9)
    status_filter: list[str] | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=MAX_TEXT)
    stale_threshold_minutes: float | None = Field(default=None, ge=0, le=1e9)
    dry_run: bool | None = None


class BatchFailure(SnakeModel):
    contract_id: str
    error: str


class BatchResult(SnakeModel):
    operation: str
    affected_count: int
    affected_ids: list[str]
    errors: list[BatchFailure]
    dry_run: bool
    statuses: dict[str, str] = Field(
        default_factory=dict,
        description="Each changed contract's status after the run ('deleted' when deleted).",
    )
