"""The inbox rule: which items wait on the reviewer, their stable ids, oldest first."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.config import ContractTimeoutConfig
from core.inbox import STALE_BLOCKER, InboxKind, inbox_items
from core.model import PendingPhaseConfirmation, QuestionStatus, TaskStatus
from core.status import ContractStatus, WaitingFor
from tests.core.factories import T0, make_contract, make_question, make_task

THRESHOLD = timedelta(minutes=30)
NOW = T0 + timedelta(hours=2)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_each_kind_has_its_stable_id_and_the_list_is_oldest_first() -> None:
    asking = make_contract(
        id="c-q",
        name="asks",
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.QUESTION,
        last_activity_at=_at(50),
    )
    confirming = make_contract(
        id="c-p",
        name="confirms",
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.PHASE_CONFIRMATION,
        pending_confirmation=PendingPhaseConfirmation("tr-1", "execute", _at(20)),
        status_changed_at=_at(20),
    )
    completing = make_contract(
        id="c-c",
        name="completes",
        phase="execute",
        status=ContractStatus.COMPLETING,
        completion_detected_at=_at(40),
        status_changed_at=_at(40),
        last_activity_at=_at(40),
    )
    stale = make_contract(id="c-s", name="quiet", last_activity_at=_at(5))
    busy = make_contract(id="c-a", name="busy", last_activity_at=NOW - timedelta(minutes=1))
    paused = make_contract(
        id="c-z",
        status=ContractStatus.PAUSED,
        pending_confirmation=PendingPhaseConfirmation("tr-z", "execute", _at(1)),
    )
    questions = [
        make_question(id="q-2", contract_id="c-q", asked_at=_at(30)),
        make_question(id="q-1", contract_id="c-q", asked_at=_at(10)),
        make_question(id="q-old", contract_id="c-q", status=QuestionStatus.ANSWERED),
        make_question(id="q-paused", contract_id="c-z", asked_at=_at(0)),
    ]
    items = inbox_items(
        [asking, confirming, completing, stale, busy, paused], NOW, THRESHOLD, questions=questions
    )
    assert [(i.id, i.kind) for i in items] == [
        ("stale:c-s", InboxKind.STALE),
        ("question:q-1", InboxKind.QUESTION),
        ("confirmation:tr-1", InboxKind.PHASE_CONFIRMATION),
        ("question:q-2", InboxKind.QUESTION),
        ("completion:c-c", InboxKind.COMPLETION_CONFIRMATION),
    ]
    by_id = {i.id: i for i in items}
    assert by_id["stale:c-s"].blocked_by == STALE_BLOCKER
    assert by_id["question:q-1"].question_id == "q-1"
    assert by_id["question:q-1"].contract_name == "asks"
    assert by_id["confirmation:tr-1"].transition_id == "tr-1"
    assert by_id["confirmation:tr-1"].since == _at(20)
    assert by_id["completion:c-c"].phase == "execute"
    assert all(i.snoozed_until is None and i.claimed_by is None for i in items)
    assert all(i.deadline is None for i in items)  # no config given


def test_a_contract_asking_with_a_confirmation_open_lists_both() -> None:
    contract = make_contract(
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.QUESTION,
        pending_confirmation=PendingPhaseConfirmation("tr-9", "execute", _at(3)),
    )
    items = inbox_items(
        [contract], NOW, THRESHOLD, questions=[make_question(id="q", asked_at=_at(4))]
    )
    assert [i.id for i in items] == ["confirmation:tr-9", "question:q"]


def test_deadlines_come_from_the_input_timeout_and_the_completion_grace() -> None:
    cfg = ContractTimeoutConfig(input_timeout_hours=1, completion_grace_period_minutes=5)
    waiting = make_contract(
        id="w",
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.PHASE_CONFIRMATION,
        status_changed_at=_at(10),
        pending_confirmation=PendingPhaseConfirmation("tr", "execute", _at(10)),
    )
    completing = make_contract(
        id="c", status=ContractStatus.COMPLETING, completion_detected_at=_at(20)
    )
    items = {i.kind: i for i in inbox_items([waiting, completing], NOW, THRESHOLD, config=cfg)}
    assert items[InboxKind.PHASE_CONFIRMATION].deadline == _at(70)
    assert items[InboxKind.COMPLETION_CONFIRMATION].deadline == _at(25)


def test_a_ready_phase_waits_on_the_reviewer_only_when_auto_advance_is_off() -> None:
    ready = make_contract(
        completed_deliverables={"plan": ("plan-document",)},
        last_activity_at=NOW - timedelta(minutes=2),
    )
    tasks = [make_task(status=TaskStatus.DONE)]
    manual = ContractTimeoutConfig(auto_advance_phases=False)
    items = inbox_items([ready], NOW, THRESHOLD, tasks=tasks, config=manual)
    assert [(i.id, i.kind, i.since) for i in items] == [
        ("phase_ready:c1:plan", InboxKind.PHASE_READY, ready.last_activity_at)
    ]
    assert inbox_items([ready], NOW, THRESHOLD, tasks=tasks) == []  # auto-advance on
    assert inbox_items([ready], NOW, THRESHOLD, config=manual) == []  # tasks not given
    unfinished = [make_task(status=TaskStatus.RUNNING)]
    assert inbox_items([ready], NOW, THRESHOLD, tasks=unfinished, config=manual) == []


def test_stale_follows_the_threshold_strictly_over() -> None:
    edge = make_contract(last_activity_at=NOW - THRESHOLD)
    assert inbox_items([edge], NOW, THRESHOLD) == []
    over = make_contract(last_activity_at=NOW - THRESHOLD - timedelta(seconds=1))
    assert [i.kind for i in inbox_items([over], NOW, THRESHOLD)] == [InboxKind.STALE]


def test_a_ready_phase_left_quiet_is_phase_ready_not_stale() -> None:
    quiet = make_contract(completed_deliverables={"plan": ("plan-document",)}, last_activity_at=T0)
    manual = ContractTimeoutConfig(auto_advance_phases=False)
    items = inbox_items([quiet], NOW, THRESHOLD, tasks=[], config=manual)
    assert [i.kind for i in items] == [InboxKind.PHASE_READY]


def test_the_wire_form_is_camel_case_with_null_optionals() -> None:
    contract = make_contract(
        status=ContractStatus.WAITING_FOR_INPUT, waiting_for=WaitingFor.QUESTION
    )
    (item,) = inbox_items([contract], NOW, THRESHOLD, questions=[make_question()])
    assert item.to_wire() == {
        "id": "question:q1",
        "kind": "question",
        "contractId": "c1",
        "contractName": "Contract c1",
        "phase": "plan",
        "since": "2026-01-01T12:00:00.000Z",
        "questionId": "q1",
        "transitionId": None,
        "snoozedUntil": None,
        "claimedBy": None,
        "claimedAt": None,
        "deadline": None,
        "blockedBy": None,
        "escalated": False,
    }
