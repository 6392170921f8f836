"""Batch operations: request parsing and defaults, planning, the result body."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.api.batch import BatchResult
from core.batch import (
    BatchAction,
    BatchItem,
    BatchOperation,
    BatchPlan,
    BatchRequest,
    BatchSkip,
    plan_batch,
)
from core.config import ContractTimeoutConfig
from core.errors import ValidationFailed
from core.model import Contract
from core.status import ContractStatus
from tests.core.factories import T0, make_contract

CFG = ContractTimeoutConfig()
NOW = T0 + timedelta(days=10)
S = ContractStatus


def contract(cid: str, status: ContractStatus, **overrides: Any) -> Contract:
    return make_contract(id=cid, name=overrides.pop("name", f"n-{cid}"), status=status, **overrides)


# --- parsing ------------------------------------------------------------------------------


def test_archive_old_defaults() -> None:
    request = BatchRequest.parse({"operation": "archive_old"})

    assert request == BatchRequest(BatchOperation.ARCHIVE_OLD, 168.0, (S.COMPLETED, S.FAILED))


def test_archive_old_takes_a_narrower_filter_and_threshold() -> None:
    request = BatchRequest.parse(
        {
            "operation": "archive_old",
            "olderThanHours": 2,
            "statusFilter": ["FAILED"],
            "dryRun": True,
        }
    )

    assert request == BatchRequest(BatchOperation.ARCHIVE_OLD, 2.0, (S.FAILED,), dry_run=True)


def test_archive_old_may_only_filter_on_finished_statuses() -> None:
    with pytest.raises(ValidationFailed, match="not: active") as caught:
        BatchRequest.parse({"operation": "archive_old", "status_filter": ["completed", "active"]})

    assert caught.value.details["valid"] == ["completed", "failed"]


def test_cleanup_archived_defaults_to_thirty_days() -> None:
    request = BatchRequest.parse({"operation": "cleanup_archived", "status_filter": []})

    assert request == BatchRequest(BatchOperation.CLEANUP_ARCHIVED, 720.0)


def test_pause_all_has_a_default_reason() -> None:
    assert BatchRequest.parse({"operation": "pause_all"}).reason == "batch pause"
    assert BatchRequest.parse({"operation": "pause_all", "reason": "  "}).reason == "batch pause"
    given = BatchRequest.parse({"operation": "pause_all", "reason": "maintenance"})
    assert given.reason == "maintenance"


def test_restart_stale_leaves_the_threshold_to_the_configuration() -> None:
    assert BatchRequest.parse({"operation": "restart_stale"}).stale_threshold_minutes is None
    given = BatchRequest.parse({"operation": "restart_stale", "stale_threshold_minutes": 5})
    assert given.stale_threshold_minutes == 5.0


def test_fields_an_operation_does_not_use_are_dropped() -> None:
    request = BatchRequest.parse({"operation": "resume_all", "older_than_hours": 3, "reason": "x"})

    assert request == BatchRequest(BatchOperation.RESUME_ALL)


@pytest.mark.parametrize("operation", [None, "explode", 3, "ARCHIVE_OLD"])
def test_unknown_operations_list_the_valid_ones(operation: Any) -> None:
    with pytest.raises(ValidationFailed, match="archive_old, pause_all, resume_all") as caught:
        BatchRequest.parse({"operation": operation})

    assert caught.value.details["valid"] == [op.value for op in BatchOperation]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"operation": "archive_old", "older_than_hours": -1}, "must not be negative"),
        ({"operation": "restart_stale", "stale_threshold_minutes": -0.5}, "must not be negative"),
        ({"operation": "archive_old", "older_than_hours": "3"}, "must be a number"),
        ({"operation": "archive_old", "older_than_hours": True}, "must be a number"),
        ({"operation": "archive_old", "older_than_hours": float("nan")}, "must be a number"),
        ({"operation": "archive_old", "status_filter": ["bogus"]}, "Valid statuses"),
        ({"operation": "archive_old", "status_filter": "completed"}, "list of statuses"),
        ({"operation": "pause_all", "reason": 7}, "'reason' must be a string"),
        ({"operation": "pause_all", "dry_run": "yes"}, "'dry_run' must be true or false"),
        # checked even where the operation ignores it, so a typo'd value is not dropped
        ({"operation": "resume_all", "older_than_hours": -2}, "must not be negative"),
    ],
)
def test_bad_fields_are_rejected(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        BatchRequest.parse(body)


def test_a_batch_request_must_be_an_object() -> None:
    with pytest.raises(ValidationFailed, match="object"):
        BatchRequest.parse([])  # type: ignore[arg-type]


# --- planning -----------------------------------------------------------------------------


def plan(
    body: dict[str, Any], contracts: list[Contract], cfg: ContractTimeoutConfig = CFG
) -> BatchPlan:
    return plan_batch(BatchRequest.parse(body), contracts, NOW, cfg)


def test_archive_old_picks_old_finished_contracts_sorted_by_name() -> None:
    contracts = [
        contract(
            "c1", S.COMPLETED, name="beta", status_changed_at=NOW - timedelta(days=9, hours=2)
        ),
        contract("c2", S.FAILED, name="alpha", status_changed_at=NOW - timedelta(days=8)),
        contract("c3", S.COMPLETED, name="gamma", status_changed_at=NOW - timedelta(days=6)),
        contract("c4", S.ACTIVE, name="delta", status_changed_at=NOW - timedelta(days=30)),
        contract("c5", S.ARCHIVED, name="eps", status_changed_at=NOW - timedelta(days=30)),
    ]

    result = plan({"operation": "archive_old"}, contracts)

    assert result.items == (
        BatchItem("c2", "alpha", BatchAction.ARCHIVE, "failed 8d ago"),
        BatchItem("c1", "beta", BatchAction.ARCHIVE, "completed 9d 2h ago"),
    )
    assert result.affected_ids == ("c2", "c1")
    assert result.skipped == ()


def test_thresholds_need_an_age_strictly_over_them() -> None:
    exactly = contract("c1", S.COMPLETED, status_changed_at=NOW - timedelta(hours=168))
    just_over = contract("c2", S.COMPLETED, status_changed_at=NOW - timedelta(hours=168, seconds=1))

    assert plan({"operation": "archive_old"}, [exactly, just_over]).affected_ids == ("c2",)


def test_archive_old_respects_the_status_filter() -> None:
    contracts = [
        contract("c1", S.COMPLETED, status_changed_at=T0),
        contract("c2", S.FAILED, status_changed_at=T0),
    ]

    result = plan({"operation": "archive_old", "status_filter": ["failed"]}, contracts)

    assert result.affected_ids == ("c2",)


def test_same_names_sort_by_id() -> None:
    contracts = [
        contract("b", S.PAUSED, name="same"),
        contract("a", S.PAUSED, name="same"),
    ]

    assert plan({"operation": "resume_all"}, contracts).affected_ids == ("a", "b")


def test_pause_all_picks_active_and_waiting_contracts() -> None:
    contracts = [
        contract("c1", S.ACTIVE, status_changed_at=NOW - timedelta(hours=2, minutes=5)),
        contract("c2", S.WAITING_FOR_INPUT, status_changed_at=NOW - timedelta(hours=3)),
        *(contract(f"x-{s}", s) for s in S if s not in (S.ACTIVE, S.WAITING_FOR_INPUT)),
    ]

    result = plan({"operation": "pause_all"}, contracts)

    assert result.items == (
        BatchItem("c1", "n-c1", BatchAction.PAUSE, "active for 2h 5m"),
        BatchItem("c2", "n-c2", BatchAction.PAUSE, "waiting for input for 3h"),
    )


def test_resume_all_picks_paused_contracts() -> None:
    contracts = [contract(f"x-{s}", s) for s in S]

    result = plan({"operation": "resume_all"}, contracts)

    assert result.items == (
        BatchItem("x-paused", "n-x-paused", BatchAction.RESUME, "paused for 10d"),
    )


def test_cleanup_archived_picks_archived_contracts_past_the_threshold() -> None:
    contracts = [
        contract("c1", S.ARCHIVED, status_changed_at=NOW - timedelta(days=31)),
        contract("c2", S.ARCHIVED, status_changed_at=NOW - timedelta(days=29)),
        contract("c3", S.COMPLETED, status_changed_at=NOW - timedelta(days=90)),
    ]

    result = plan({"operation": "cleanup_archived"}, contracts)

    assert result.items == (BatchItem("c1", "n-c1", BatchAction.DELETE, "archived 31d ago"),)


def test_restart_stale_restarts_supervisors_and_skips_contracts_without_one() -> None:
    contracts = [
        contract(
            "c1",
            S.ACTIVE,
            supervisor_task_id="s1",
            last_activity_at=NOW - timedelta(hours=2, minutes=5),
        ),
        contract("c2", S.ACTIVE, last_activity_at=NOW - timedelta(hours=1)),
        contract(
            "c3", S.ACTIVE, supervisor_task_id="s3", last_activity_at=NOW - timedelta(minutes=10)
        ),
        contract("c4", S.PAUSED, supervisor_task_id="s4", last_activity_at=T0),
    ]

    result = plan({"operation": "restart_stale"}, contracts)

    assert result.items == (
        BatchItem("c1", "n-c1", BatchAction.RESTART_SUPERVISOR, "stale for 2h 5m"),
    )
    assert result.skipped == (BatchSkip("c2", "n-c2", "no supervisor"),)


def test_restart_stale_uses_the_given_threshold_over_the_configured_one() -> None:
    fresh = contract(
        "c3", S.ACTIVE, supervisor_task_id="s3", last_activity_at=NOW - timedelta(minutes=10)
    )

    assert plan(
        {"operation": "restart_stale", "stale_threshold_minutes": 5}, [fresh]
    ).affected_ids == ("c3",)
    assert plan({"operation": "restart_stale"}, [fresh]).affected_ids == ()
    tight = ContractTimeoutConfig(stale_threshold_minutes=5)
    assert plan({"operation": "restart_stale"}, [fresh], tight).affected_ids == ("c3",)


# --- result -------------------------------------------------------------------------------

PLAN = BatchPlan(
    BatchOperation.RESTART_STALE,
    (
        BatchItem("c1", "a", BatchAction.RESTART_SUPERVISOR, "stale for 1h"),
        BatchItem("c3", "b", BatchAction.RESTART_SUPERVISOR, "stale for 2h"),
    ),
    (BatchSkip("c2", "c", "no supervisor"),),
)


def test_a_dry_run_reports_the_plan() -> None:
    dry = BatchResult.of(PLAN, dry_run=True, applied_ids=["ignored"], errors={"x": "ignored"})
    assert dry.model_dump(mode="json") == {
        "operation": "restart_stale",
        "affected_count": 2,
        "affected_ids": ["c1", "c3"],
        "errors": [{"contract_id": "c2", "error": "no supervisor"}],
        "dry_run": True,
        "statuses": {},
    }


def test_a_real_run_reports_what_was_applied_and_what_failed() -> None:
    result = BatchResult.of(
        PLAN,
        dry_run=False,
        applied_ids=["c1"],
        errors={"c3": "version conflict"},
        statuses={"c1": "active"},
    )

    assert result.model_dump(mode="json") == {
        "operation": "restart_stale",
        "affected_count": 1,
        "affected_ids": ["c1"],
        "errors": [
            {"contract_id": "c2", "error": "no supervisor"},
            {"contract_id": "c3", "error": "version conflict"},
        ],
        "dry_run": False,
        "statuses": {"c1": "active"},
    }


def test_numbers_beyond_any_real_age_are_rejected_not_crashing() -> None:
    for huge in (10**400, 1e300, 10**10):
        with pytest.raises(ValidationFailed, match="at most"):
            BatchRequest.parse({"operation": "archive_old", "older_than_hours": huge})
