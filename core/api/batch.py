"""`POST /contracts/batch` (admin keys only): the body and the answer (snake_case keys, as
the specification shows; camelCase accepted in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import Field

from core.api.base import MAX_TEXT, SnakeBody, SnakeModel
from core.batch import BatchPlan


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

    @classmethod
    def of(
        cls,
        plan: BatchPlan,
        dry_run: bool,
        applied_ids: Sequence[str] = (),
        errors: Mapping[str, str] | None = None,
        statuses: Mapping[str, str] | None = None,
    ) -> BatchResult:
        """The answer of a planned (and, unless `dry_run`, applied) batch.

        Dry run: affected = the planned items, errors = the skipped contracts. Real run:
        affected = `applied_ids` (what really changed), errors = the skipped contracts
        followed by `errors`, the per-item failures (contract id → message) met while
        applying. `statuses` (beyond the specification's fields): each changed contract's
        status after the run ("deleted" for a deleted one), so a client shows the result,
        not its old copy; empty for a dry run.
        """
        affected = list(plan.affected_ids if dry_run else applied_ids)
        failures = [BatchFailure(contract_id=s.contract_id, error=s.error) for s in plan.skipped]
        if not dry_run:
            failures += [
                BatchFailure(contract_id=cid, error=msg) for cid, msg in (errors or {}).items()
            ]
        return cls(
            operation=plan.operation.value,
            affected_count=len(affected),
            affected_ids=affected,
            errors=failures,
            dry_run=dry_run,
            statuses={} if dry_run else dict(statuses or {}),
        )
