"""Time rules: stale episodes, input timeout, completion grace, retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.config import ContractTimeoutConfig
from core.events import EventType
from core.model import PendingPhaseConfirmation, QuestionStatus
from core.status import ContractStatus, WaitingFor
from core.timing import (
    apply_completion_grace,
    apply_input_timeout,
    archive_expired,
    completion_grace_over,
    detect_stale,
    heartbeat_expired,
    input_timed_out,
    should_report_stale,
    stale_duration,
)
from tests.core.factories import T0, make_contract, make_question

CFG = ContractTimeoutConfig()
MIN = timedelta(minutes=1)


def test_an_active_contract_is_stale_only_past_the_threshold() -> None:
    contract = make_contract()

    assert stale_duration(contract, T0 + 30 * MIN, CFG.stale_threshold) is None
    assert stale_duration(contract, T0 + 31 * MIN, CFG.stale_threshold) == 31 * MIN


@pytest.mark.parametrize(
    "status",
    [s for s in ContractStatus if s is not ContractStatus.ACTIVE],
)
def test_only_active_contracts_go_stale(status: ContractStatus) -> None:
    contract = make_contract(status=status)

    assert stale_duration(contract, T0 + timedelta(days=3), CFG.stale_threshold) is None


def test_naive_times_from_sqlite_count_as_utc() -> None:
    contract = make_contract(last_activity_at=T0.replace(tzinfo=None))

    assert stale_duration(contract, T0 + 40 * MIN, CFG.stale_threshold) == 40 * MIN


def test_detect_stale_marks_and_logs_without_a_version_bump() -> None:
    contract = make_contract(version=4)
    now = T0 + timedelta(hours=2, minutes=5)

    outcome = detect_stale(contract, now, CFG)

    assert outcome is not None
    assert outcome.contract.stale_notified_at == now
    assert outcome.contract.version == 4
    assert outcome.contract.updated_at == T0
    assert outcome.activity_only is True
    assert outcome.previous_version == 4
    (event,) = outcome.events
    assert event.type is EventType.STALE_DETECTED
    assert event.contract_id == "c1"
    assert dict(event.payload) == {
        "last_activity": "2026-01-01T12:00:00.000Z",
        "stale_duration_secs": 7500,
    }


def test_detect_stale_does_nothing_for_a_fresh_contract() -> None:
    assert detect_stale(make_contract(), T0 + 10 * MIN, CFG) is None


def test_a_stale_episode_is_reported_once() -> None:
    first = detect_stale(make_contract(), T0 + 31 * MIN, CFG)
    assert first is not None

    assert should_report_stale(first.contract, T0 + 45 * MIN, CFG) is False
    assert detect_stale(first.contract, T0 + 2 * 60 * MIN, CFG) is None


def test_new_activity_ends_the_episode_and_a_later_one_is_reported_again() -> None:
    first = detect_stale(make_contract(), T0 + 31 * MIN, CFG)
    assert first is not None
    active_again = replace(first.contract, last_activity_at=T0 + 40 * MIN)

    assert should_report_stale(active_again, T0 + 50 * MIN, CFG) is False  # fresh again
    second = detect_stale(active_again, T0 + 71 * MIN, CFG)
    assert second is not None
    assert second.contract.stale_notified_at == T0 + 71 * MIN


def test_a_marker_at_the_very_time_of_the_last_activity_belongs_to_the_same_episode() -> None:
    contract = make_contract(last_activity_at=T0, stale_notified_at=T0)

    assert should_report_stale(contract, T0 + 60 * MIN, CFG) is False


def test_fractional_thresholds_work_in_seconds() -> None:
    cfg = ContractTimeoutConfig(stale_threshold_minutes=0.05)

    assert should_report_stale(make_contract(), T0 + timedelta(seconds=3), cfg) is False
    assert should_report_stale(make_contract(), T0 + timedelta(seconds=4), cfg) is True


def test_input_times_out_when_the_full_timeout_has_passed() -> None:
    contract = make_contract(status=ContractStatus.WAITING_FOR_INPUT)

    assert input_timed_out(contract, T0 + timedelta(hours=23, minutes=59), CFG) is False
    assert input_timed_out(contract, T0 + timedelta(hours=24), CFG) is True
    assert input_timed_out(make_contract(), T0 + timedelta(days=9), CFG) is False


def test_apply_input_timeout_pauses_and_times_out_pending_questions() -> None:
    confirmation = PendingPhaseConfirmation("tr1", "execute", T0)
    contract = make_contract(
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.QUESTION,
        version=7,
        pending_confirmation=confirmation,
    )
    questions = [
        make_question(id="q1"),
        make_question(id="q2", status=QuestionStatus.ANSWERED, answer="yes"),
        make_question(id="q3", contract_id="other"),
    ]
    now = T0 + timedelta(hours=25)

    outcome = apply_input_timeout(contract, questions, now, CFG)

    assert outcome is not None
    after = outcome.contract
    assert (after.status, after.waiting_for, after.pending_confirmation) == (
        ContractStatus.PAUSED,
        None,
        None,
    )
    assert (after.version, after.status_changed_at, after.updated_at) == (8, now, now)
    assert outcome.previous_version == 7
    assert [(q.id, q.status) for q in outcome.questions] == [("q1", QuestionStatus.TIMED_OUT)]
    status_event, question_event = outcome.events
    assert status_event.type is EventType.STATUS_CHANGED
    assert dict(status_event.payload) == {
        "old_status": "waiting_for_input",
        "new_status": "paused",
        "reason": "input timeout",
    }
    assert question_event.type is EventType.QUESTION_TIMED_OUT
    assert dict(question_event.payload) == {"question_id": "q1"}


def test_apply_input_timeout_before_the_timeout_does_nothing() -> None:
    contract = make_contract(status=ContractStatus.WAITING_FOR_INPUT)

    assert apply_input_timeout(contract, [make_question()], T0 + timedelta(hours=1), CFG) is None


def test_completion_grace_counts_from_completion_detection() -> None:
    contract = make_contract(
        status=ContractStatus.COMPLETING,
        status_changed_at=T0,
        completion_detected_at=T0 + 2 * MIN,
    )

    assert completion_grace_over(contract, T0 + 6 * MIN, CFG) is False
    assert completion_grace_over(contract, T0 + 7 * MIN, CFG) is True


def test_completion_grace_falls_back_to_the_status_change() -> None:
    contract = make_contract(status=ContractStatus.COMPLETING)

    assert completion_grace_over(contract, T0 + 5 * MIN, CFG) is True
    assert completion_grace_over(make_contract(), T0 + 60 * MIN, CFG) is False


def test_apply_completion_grace_completes_the_contract() -> None:
    contract = make_contract(
        status=ContractStatus.COMPLETING,
        waiting_for=WaitingFor.COMPLETION_CONFIRMATION,
        phase="execute",
        version=3,
    )
    now = T0 + 6 * MIN

    outcome = apply_completion_grace(contract, now, CFG)

    assert outcome is not None
    after = outcome.contract
    assert (after.status, after.waiting_for, after.version) == (ContractStatus.COMPLETED, None, 4)
    assert (after.status_changed_at, after.updated_at, outcome.previous_version) == (now, now, 3)
    (event,) = outcome.events
    assert dict(event.payload) == {
        "old_status": "completing",
        "new_status": "completed",
        "reason": "completion grace period over",
    }


def test_apply_completion_grace_waits_for_the_grace_period() -> None:
    contract = make_contract(status=ContractStatus.COMPLETING)

    assert apply_completion_grace(contract, T0 + 4 * MIN, CFG) is None


def test_archived_contracts_expire_after_the_retention() -> None:
    archived = make_contract(status=ContractStatus.ARCHIVED)

    assert archive_expired(archived, T0 + timedelta(days=29, hours=23), CFG) is False
    assert archive_expired(archived, T0 + timedelta(days=30), CFG) is True
    completed = make_contract(status=ContractStatus.COMPLETED)
    assert archive_expired(completed, T0 + timedelta(days=300), CFG) is False


def test_heartbeats_expire_after_the_retention() -> None:
    assert heartbeat_expired(T0, T0 + timedelta(hours=24), CFG) is False
    assert heartbeat_expired(T0, T0 + timedelta(hours=24, seconds=1), CFG) is True
