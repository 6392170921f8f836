"""Contract-level use cases: create, update, auto-complete, status, restart, delete, heartbeat."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.actors import SYSTEM
from core.errors import (
    Forbidden,
    InvalidTransition,
    SupervisorNotFound,
    ValidationFailed,
    VersionConflict,
)
from core.events import EventType, NewEvent
from core.lifecycle import (
    create_contract,
    create_task,
    delete_contract,
    record_activity,
    request_supervisor_restart,
    set_auto_complete,
    update_contract,
)
from core.model import PendingPhaseConfirmation, QuestionStatus
from core.outcome import StatusMoved
from core.phases import ContractType
from core.status import ContractStatus, WaitingFor
from tests.core.desk import (
    ADMIN,
    REVIEWER,
    SUPERVISOR,
    T0,
    Desk,
    pending_question,
    started,
    status,
)

S = ContractStatus
E = EventType
CUSTOM = {
    "phases": [
        {"id": "draft", "name": "Draft", "order": 0},
        {"id": "final", "name": "Final", "order": 1},
    ],
    "deliverables": {"draft": [{"id": "outline", "name": "Outline"}]},
}


# create_contract


def test_create_contract() -> None:
    outcome = create_contract("c1", "ann", "  Ship it ", "simple", T0, REVIEWER, description="d")
    c = outcome.contract
    assert (c.status, c.phase, c.version, c.name, c.owner) == (
        S.CREATED,
        "plan",
        1,
        "Ship it",
        "ann",
    )
    assert (c.created_at, c.updated_at, c.status_changed_at, c.last_activity_at) == (T0,) * 4
    assert (c.description, c.phase_guard, c.auto_complete_enabled) == ("d", True, True)
    assert outcome.previous_version is None
    assert outcome.events == (
        NewEvent(
            E.CONTRACT_CREATED,
            "c1",
            {"name": "Ship it", "contract_type": "simple", "phase": "plan", "status": "created"},
        ),
    )


def test_create_contract_flags() -> None:
    c = create_contract(
        "c1", "ann", "x", "execute", T0, REVIEWER, phase_guard=False, auto_complete_enabled=False
    ).contract
    assert (c.contract_type, c.phase, c.phase_guard, c.auto_complete_enabled) == (
        ContractType.EXECUTE,
        "execute",
        False,
        False,
    )


def test_create_custom_contract_uses_its_config() -> None:
    c = create_contract("c1", "ann", "x", "custom", T0, REVIEWER, phase_config=CUSTOM).contract
    assert (c.phase, c.phase_config.phase_ids, c.terminal_phase) == (
        "draft",
        ["draft", "final"],
        "final",
    )


@pytest.mark.parametrize(
    ("name", "kind", "config", "text"),
    [
        ("", "simple", None, "must not be empty"),
        ("   ", "simple", None, "must not be empty"),
        ("x" * 201, "simple", None, "at most 200"),
        ("x", "epic", None, "Unknown contractType"),
        ("x", "custom", None, "needs a phaseConfig"),
        ("x", "simple", CUSTOM, "only for custom"),
        ("x", "custom", {"phases": []}, "at least one phase"),
    ],
)
def test_create_contract_rejections(name: str, kind: str, config: Any, text: str) -> None:
    with pytest.raises(ValidationFailed, match=text):
        create_contract("c1", "ann", name, kind, T0, REVIEWER, phase_config=config)


def test_name_of_200_characters_is_fine() -> None:
    assert (
        create_contract("c1", "ann", "x" * 200, "simple", T0, REVIEWER).contract.name == "x" * 200
    )


# update_contract, set_auto_complete


def test_update_contract_changes_fields_and_bumps_once() -> None:
    desk = Desk.new()
    outcome = desk.apply(
        update_contract(desk.contract, desk.tick(), REVIEWER, name="New", phase_guard=False)
    )
    c = outcome.contract
    assert (c.name, c.phase_guard, c.version, c.updated_at) == ("New", False, 2, desk.now)
    assert outcome.previous_version == 1
    assert outcome.events == (
        NewEvent(E.CONTRACT_UPDATED, "c1", {"changes": {"name": "New", "phase_guard": False}}),
    )
    assert c.last_activity_at == T0  # settings are not activity


def test_update_contract_without_changes_is_a_noop() -> None:
    desk = Desk.new(description="d")
    outcome = update_contract(desk.contract, desk.tick(), REVIEWER, name="Ship it", description="d")
    assert (outcome.contract, outcome.events, outcome.previous_version) == (desk.contract, (), 1)


def test_update_contract_checks_version_first() -> None:
    desk = Desk.new()
    with pytest.raises(VersionConflict):
        update_contract(desk.contract, desk.tick(), REVIEWER, name="", expected_version=7)
    with pytest.raises(ValidationFailed):
        update_contract(desk.contract, desk.tick(), REVIEWER, name="", expected_version=1)


def test_set_auto_complete() -> None:
    desk = Desk.new()
    off = desk.apply(set_auto_complete(desk.contract, False, desk.tick(), REVIEWER))
    assert (off.contract.auto_complete_enabled, off.contract.version) == (False, 2)
    assert off.events[0].payload == {"changes": {"auto_complete_enabled": False}}
    again = set_auto_complete(desk.contract, False, desk.tick(), REVIEWER)
    assert (again.contract, again.events) == (desk.contract, ())


# change_status


def test_start_needs_a_supervisor_task() -> None:
    desk = Desk.new()
    with pytest.raises(ValidationFailed, match="no supervisor task"):
        status(desk, S.ACTIVE, actor=SUPERVISOR)


def test_status_change_outcome() -> None:
    desk = Desk.new()
    desk.apply(create_task(desk.contract, [], "sup", "supervisor", desk.tick(), SUPERVISOR, True))
    read = desk.contract
    outcome = status(desk, S.ACTIVE, actor=SUPERVISOR, reason="go")
    assert outcome.decision == StatusMoved(S.CREATED, S.ACTIVE)
    assert outcome.events == (
        NewEvent(
            E.STATUS_CHANGED,
            "c1",
            {"old_status": "created", "new_status": "active", "reason": "go"},
        ),
    )
    c = outcome.contract
    assert (c.status_changed_at, c.updated_at, c.version) == (desk.now, desk.now, read.version + 1)
    assert outcome.previous_version == read.version
    assert c.last_activity_at == read.last_activity_at  # a status change is not activity


def test_status_change_checks_version_then_role_then_table() -> None:
    desk = started()
    with pytest.raises(VersionConflict):
        status(desk, S.ARCHIVED, actor=SUPERVISOR, expected_version=1)
    with pytest.raises(Forbidden):
        status(desk, S.ARCHIVED, actor=SUPERVISOR)
    with pytest.raises(InvalidTransition):
        status(desk, S.ARCHIVED)


def test_supervisor_may_not_pause() -> None:
    with pytest.raises(Forbidden):
        status(started(), S.PAUSED, actor=SUPERVISOR)


def test_blocking_records_the_blocker_and_unblocking_clears_it() -> None:
    desk = started()
    blocked = status(desk, S.BLOCKED, actor=SUPERVISOR, blocker="vendor API down")
    assert blocked.contract.blocked_reason == "vendor API down"
    assert blocked.events[0].payload["reason"] == "vendor API down"
    assert status(desk, S.ACTIVE, actor=SUPERVISOR).contract.blocked_reason is None


def test_blocking_needs_a_blocker() -> None:
    with pytest.raises(ValidationFailed, match="blocker"):
        status(started(), S.BLOCKED, reason="no blocker field")


def test_failing_records_the_reason() -> None:
    desk = started()
    with pytest.raises(ValidationFailed, match="reason"):
        status(desk, S.FAILED, actor=SYSTEM)
    assert status(desk, S.FAILED, actor=SYSTEM, reason="crash").contract.failure_reason == "crash"


def test_waiting_for_input_needs_something_pending() -> None:
    desk = started()
    with pytest.raises(ValidationFailed, match="no pending"):
        status(desk, S.WAITING_FOR_INPUT)
    pending_question(desk)
    assert status(desk, S.WAITING_FOR_INPUT).contract.waiting_for is WaitingFor.QUESTION


def test_waiting_for_a_pending_confirmation() -> None:
    desk = started()
    desk.contract = replace(
        desk.contract, pending_confirmation=PendingPhaseConfirmation("t", "execute", T0)
    )
    assert status(desk, S.WAITING_FOR_INPUT).contract.waiting_for is WaitingFor.PHASE_CONFIRMATION


def test_leaving_waiting_needs_nothing_pending_and_clears_waiting_for() -> None:
    desk = started()
    q = pending_question(desk)
    status(desk, S.WAITING_FOR_INPUT)
    with pytest.raises(ValidationFailed, match="still pending"):
        status(desk, S.ACTIVE)
    desk.questions[q.id] = replace(q, status=QuestionStatus.ANSWERED)
    assert status(desk, S.ACTIVE).contract.waiting_for is None


def test_pausing_a_waiting_contract_clears_waiting_for() -> None:
    desk = started()
    pending_question(desk)
    status(desk, S.WAITING_FOR_INPUT)
    assert status(desk, S.PAUSED).contract.waiting_for is None


def test_completing_needs_the_terminal_phase_done() -> None:
    desk = started(phase_guard=False)
    with pytest.raises(ValidationFailed, match="terminal phase"):
        status(desk, S.COMPLETING)
    desk.contract = replace(desk.contract, phase="execute")
    with pytest.raises(ValidationFailed, match="required deliverables"):
        status(desk, S.COMPLETING)


def completing() -> Desk:
    desk = started()
    done = {"execute": ("pull-request",)}
    desk.contract = replace(desk.contract, phase="execute", completed_deliverables=done)
    status(desk, S.COMPLETING)
    return desk


def test_completing_records_detection_and_waits_for_confirmation() -> None:
    c = completing().contract
    assert c.completion_detected_at == c.status_changed_at
    assert c.waiting_for is WaitingFor.COMPLETION_CONFIRMATION


def test_rejecting_completion_clears_it() -> None:
    c = status(completing(), S.ACTIVE).contract
    assert (c.status, c.completion_detected_at, c.waiting_for) == (S.ACTIVE, None, None)


def test_confirming_completion_keeps_detection_time() -> None:
    desk = completing()
    detected = desk.contract.completion_detected_at
    c = status(desk, S.COMPLETED).contract
    assert (c.status, c.waiting_for, c.completion_detected_at) == (S.COMPLETED, None, detected)


# restart, delete, heartbeat


def test_supervisor_restart_is_an_event_without_a_version_bump() -> None:
    desk = Desk.new()
    with pytest.raises(SupervisorNotFound):
        request_supervisor_restart(desk.contract, desk.tick(), REVIEWER)
    desk = started()
    outcome = request_supervisor_restart(desk.contract, desk.tick(), REVIEWER)
    assert (outcome.contract, outcome.previous_version) == (desk.contract, desk.contract.version)
    assert outcome.events == (
        NewEvent(E.SUPERVISOR_RESTART_REQUESTED, "c1", {"supervisor_task_id": "sup"}),
    )


def test_only_archived_contracts_are_deleted() -> None:
    desk = started()
    with pytest.raises(InvalidTransition) as caught:
        delete_contract(desk.contract, desk.tick(), ADMIN)
    assert caught.value.details == {"from": "active", "to": "deleted", "allowed": ["archived"]}
    status(desk, S.FAILED, reason="gave up")
    status(desk, S.ARCHIVED)
    outcome = delete_contract(desk.contract, desk.tick(), ADMIN)
    assert outcome.deleted and outcome.contract == desk.contract
    assert outcome.events == (NewEvent(E.CONTRACT_DELETED, "c1", {"name": "Ship it"}),)


def test_heartbeat_activity_does_not_bump_the_version() -> None:
    desk = started()
    desk.contract = read = replace(desk.contract, stale_notified_at=T0)
    outcome = desk.apply(record_activity(desk.contract, desk.tick()))
    c = outcome.contract
    assert (c.last_activity_at, c.stale_notified_at) == (desk.now, None)
    assert (c.version, c.updated_at, outcome.previous_version) == (
        read.version,
        read.updated_at,
        read.version,
    )
    assert outcome.activity_only and outcome.events == ()
