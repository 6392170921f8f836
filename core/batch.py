"""Batch operations (spec §4.3, API.md `POST /contracts/batch`): parse, plan, report.

The plan is pure: which contracts an operation touches and why, and which it must skip.
The server applies each item through the ordinary use cases (so every status move still
goes through the one status table and logs its event) and reports with `batch_result`; a
dry run shows the plan without applying it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.actions import ReviewerAction, allows, statuses_allowing
from core.api.base import wire_alias
from core.config import ContractTimeoutConfig, format_duration
from core.errors import ValidationFailed
from core.model import Contract
from core.status import ContractStatus
from core.timing import age, stale_duration

DEFAULT_ARCHIVE_AFTER_HOURS = 168.0  # a week
DEFAULT_CLEANUP_AFTER_HOURS = 720.0  # thirty days
DEFAULT_PAUSE_REASON = "batch pause"
# The statuses the lifecycle lets a reviewer archive, in declaration order (for messages).
ARCHIVABLE = tuple(s for s in ContractStatus if s in statuses_allowing(ReviewerAction.ARCHIVE))


class BatchOperation(StrEnum):
    ARCHIVE_OLD = "archive_old"  # archive completed / failed contracts older than a threshold
    PAUSE_ALL = "pause_all"  # pause active and waiting contracts
    RESUME_ALL = "resume_all"  # resume paused contracts
    CLEANUP_ARCHIVED = "cleanup_archived"  # delete archived contracts older than a threshold
    RESTART_STALE = "restart_stale"  # ask stale contracts' supervisors to restart


class BatchAction(StrEnum):
    ARCHIVE = "archive"
    PAUSE = "pause"
    RESUME = "resume"
    DELETE = "delete"
    RESTART_SUPERVISOR = "restart_supervisor"


def _field(raw: Mapping[str, Any], snake: str) -> Any:
    return raw[snake] if snake in raw else raw.get(wire_alias(snake))


def _operation(value: Any) -> BatchOperation:
    valid = [op.value for op in BatchOperation]
    if not isinstance(value, str) or value not in valid:
        raise ValidationFailed(
            f"Unknown batch operation {value!r}. Valid operations: {', '.join(valid)}",
            details={"field": "operation", "valid": valid},
        )
    return BatchOperation(value)


# Far beyond any real age (a hundred thousand years in hours), small enough for timedelta.
_LARGEST = 1e9


def _non_negative(value: Any, name: str) -> float | None:
    if value is None:
        return None
    # bool is an int subclass: `true` is not a number of hours.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"'{name}' must be a number", details={"field": name})
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationFailed(f"'{name}' must be a number", details={"field": name})
    try:
        number = float(value)  # a huge JSON integer overflows here rather than later
    except OverflowError:
        number = math.inf
    if number > _LARGEST:
        raise ValidationFailed(f"'{name}' must be at most {_LARGEST:g}", details={"field": name})
    if number < 0:
        raise ValidationFailed(f"'{name}' must not be negative", details={"field": name})
    return number


def _statuses(value: Any) -> tuple[ContractStatus, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed("'status_filter' must be a list of statuses")
    return tuple(dict.fromkeys(ContractStatus.parse(v) for v in value))


def _archive_filter(statuses: tuple[ContractStatus, ...]) -> tuple[ContractStatus, ...]:
    # Only finished work may be archived (the status table allows nothing else).
    wrong = [s.value for s in statuses if s not in ARCHIVABLE]
    if wrong:
        raise ValidationFailed(
            f"archive_old may only filter on completed and failed, not: {', '.join(wrong)}",
            details={"field": "status_filter", "valid": [s.value for s in ARCHIVABLE]},
        )
    return statuses or ARCHIVABLE


def _reason(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise ValidationFailed("'reason' must be a string", details={"field": "reason"})
    return value.strip() if value and value.strip() else DEFAULT_PAUSE_REASON


def _dry_run(value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationFailed("'dry_run' must be true or false", details={"field": "dry_run"})
    return value


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """A parsed batch request. Fields an operation does not use are None / empty."""

    operation: BatchOperation
    older_than_hours: float | None = None
    status_filter: tuple[ContractStatus, ...] = ()
    reason: str | None = None
    stale_threshold_minutes: float | None = None  # None: the configured stale threshold
    dry_run: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> BatchRequest:
        """Parse a body with snake_case or camelCase keys, filling the operation's defaults.

        Every given field is type-checked, even one the operation ignores, so a typo'd value
        is reported rather than silently dropped. An empty `status_filter` means the default.
        """
        if not isinstance(raw, Mapping):
            raise ValidationFailed("A batch request must be a JSON object")
        given = cls(
            operation=_operation(raw.get("operation")),
            older_than_hours=_non_negative(_field(raw, "older_than_hours"), "older_than_hours"),
            status_filter=_statuses(_field(raw, "status_filter")),
            reason=_reason(raw.get("reason")),
            stale_threshold_minutes=_non_negative(
                _field(raw, "stale_threshold_minutes"),
                "stale_threshold_minutes",
            ),
            dry_run=_dry_run(_field(raw, "dry_run")),
        )
        return _for_operation(given)


def _for_operation(given: BatchRequest) -> BatchRequest:
    """Keep the fields the operation uses, with its defaults; drop the others."""
    op, dry_run = given.operation, given.dry_run
    if op is BatchOperation.ARCHIVE_OLD:
        hours = _or(given.older_than_hours, DEFAULT_ARCHIVE_AFTER_HOURS)
        return BatchRequest(op, hours, _archive_filter(given.status_filter), dry_run=dry_run)
    if op is BatchOperation.CLEANUP_ARCHIVED:
        hours = _or(given.older_than_hours, DEFAULT_CLEANUP_AFTER_HOURS)
        return BatchRequest(op, hours, dry_run=dry_run)
    if op is BatchOperation.PAUSE_ALL:
        return BatchRequest(op, reason=given.reason, dry_run=dry_run)
    if op is BatchOperation.RESTART_STALE:
        threshold = given.stale_threshold_minutes
        return BatchRequest(op, stale_threshold_minutes=threshold, dry_run=dry_run)
    return BatchRequest(op, dry_run=dry_run)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass(frozen=True, slots=True)
class BatchItem:
    contract_id: str
    name: str
    action: BatchAction
    why: str  # a sentence for the wizard's preview, e.g. "completed 9d 2h ago"


@dataclass(frozen=True, slots=True)
class BatchSkip:
    contract_id: str
    name: str
    error: str


@dataclass(frozen=True, slots=True)
class BatchPlan:
    operation: BatchOperation
    items: tuple[BatchItem, ...]
    skipped: tuple[BatchSkip, ...] = ()

    @property
    def affected_ids(self) -> tuple[str, ...]:
        return tuple(item.contract_id for item in self.items)


# One planner per operation: (request, contract, now, cfg) → an item, a skip, or None.
_Planned = BatchItem | BatchSkip | None
_Planner = Callable[[BatchRequest, Contract, datetime, ContractTimeoutConfig], _Planned]


def plan_batch(
    request: BatchRequest, contracts: Sequence[Contract], now: datetime, cfg: ContractTimeoutConfig
) -> BatchPlan:
    """Which contracts the operation touches, sorted by name then id, and which it skips.

    archive_old: a status of the filter, in it for longer than `older_than_hours`;
    pause_all: `active` and `waiting_for_input`; resume_all: `paused`; cleanup_archived:
    archived for longer than `older_than_hours`; restart_stale: `active` and stale per the
    threshold, skipped with "no supervisor" when it has no supervisor task to restart.
    """
    planner = _PLANNERS[request.operation]
    planned = [planner(request, c, now, cfg) for c in contracts]
    items = [p for p in planned if isinstance(p, BatchItem)]
    skipped = [p for p in planned if isinstance(p, BatchSkip)]
    return BatchPlan(
        request.operation,
        tuple(sorted(items, key=lambda i: (i.name, i.contract_id))),
        tuple(sorted(skipped, key=lambda s: (s.name, s.contract_id))),
    )


def _older_than(contract: Contract, now: datetime, hours: float | None) -> timedelta | None:
    """How long the contract has had its status, if longer than `hours`."""
    held = age(contract.status_changed_at, now)
    return held if held > timedelta(hours=_or(hours, 0.0)) else None


def _plan_archive(
    req: BatchRequest, c: Contract, now: datetime, _: ContractTimeoutConfig
) -> _Planned:
    held = _older_than(c, now, req.older_than_hours) if c.status in req.status_filter else None
    if held is None:
        return None
    return BatchItem(c.id, c.name, BatchAction.ARCHIVE, f"{c.status} {format_duration(held)} ago")


def _plan_cleanup(
    req: BatchRequest, c: Contract, now: datetime, _: ContractTimeoutConfig
) -> _Planned:
    held = (
        _older_than(c, now, req.older_than_hours) if c.status is ContractStatus.ARCHIVED else None
    )
    if held is None:
        return None
    return BatchItem(c.id, c.name, BatchAction.DELETE, f"archived {format_duration(held)} ago")


def _plan_pause(_: BatchRequest, c: Contract, now: datetime, __: ContractTimeoutConfig) -> _Planned:
    if not allows(c, ReviewerAction.PAUSE):
        return None
    return BatchItem(c.id, c.name, BatchAction.PAUSE, _held_for(c, now))


def _plan_resume(
    _: BatchRequest, c: Contract, now: datetime, __: ContractTimeoutConfig
) -> _Planned:
    if not allows(c, ReviewerAction.RESUME):
        return None
    return BatchItem(c.id, c.name, BatchAction.RESUME, _held_for(c, now))


def _plan_restart(
    req: BatchRequest, c: Contract, now: datetime, cfg: ContractTimeoutConfig
) -> _Planned:
    minutes = _or(req.stale_threshold_minutes, cfg.stale_threshold_minutes)
    stale = stale_duration(c, now, timedelta(minutes=minutes))
    if stale is None:
        return None
    if c.supervisor_task_id is None:
        return BatchSkip(c.id, c.name, "no supervisor")
    why = f"stale for {format_duration(stale)}"
    return BatchItem(c.id, c.name, BatchAction.RESTART_SUPERVISOR, why)


def _held_for(contract: Contract, now: datetime) -> str:
    status_text = contract.status.value.replace("_", " ")
    return f"{status_text} for {format_duration(age(contract.status_changed_at, now))}"


_PLANNERS: Mapping[BatchOperation, _Planner] = {
    BatchOperation.ARCHIVE_OLD: _plan_archive,
    BatchOperation.PAUSE_ALL: _plan_pause,
    BatchOperation.RESUME_ALL: _plan_resume,
    BatchOperation.CLEANUP_ARCHIVED: _plan_cleanup,
    BatchOperation.RESTART_STALE: _plan_restart,
}
