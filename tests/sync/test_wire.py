"""core/wire.py: from-wire parsers are the exact inverse of the to_wire methods."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.actors import SYSTEM, Actor, Role
from core.errors import ValidationFailed
from core.events import EventType, LoggedEvent
from core.model import PendingPhaseConfirmation, QuestionStatus, QuestionType, TaskStatus
from core.phases import ContractType, parse_phase_config
from core.status import ContractStatus, WaitingFor
from core.wire import contract_from_wire, event_from_wire, question_from_wire, task_from_wire
from tests.core.factories import T0, make_contract, make_question, make_task

CUSTOM = parse_phase_config(
    {
        "phases": [
            {"id": "draft", "name": "Draft", "order": 0},
            {"id": "ship", "name": "Ship", "order": 1},
        ],
        "defaultPhase": "draft",
        "deliverables": {"draft": [{"id": "doc", "name": "Doc", "priority": "recommended"}]},
    }
)


def test_contract_round_trip_with_every_field_set() -> None:
    contract = make_contract(
        owner="alice",
        description="a description",
        contract_type=ContractType.CUSTOM,
        custom_phase_config=CUSTOM,
        phase="draft",
        status=ContractStatus.WAITING_FOR_INPUT,
        phase_guard=False,
        auto_complete_enabled=False,
        version=7,
        completed_deliverables={"draft": ("doc",)},
        waiting_for=WaitingFor.PHASE_CONFIRMATION,
        blocked_reason="b",
        failure_reason="f",
        supervisor_task_id="t9",
        completion_detected_at=T0 + timedelta(minutes=3),
        updated_at=T0 + timedelta(seconds=1),
        pending_confirmation=PendingPhaseConfirmation("", "ship", T0 + timedelta(seconds=1)),
    )
    parsed = contract_from_wire(contract.to_wire(), owner="alice")
    assert parsed == contract
    assert parsed.to_wire() == contract.to_wire()


def test_contract_round_trip_minimal_and_owner_is_not_on_the_wire() -> None:
    contract = make_contract()
    parsed = contract_from_wire(contract.to_wire())
    assert parsed.owner == ""
    assert parsed.to_wire() == contract.to_wire()
    assert parsed.completed_deliverables == {}
    assert parsed.pending_confirmation is None


def test_contract_detail_keys_are_ignored() -> None:
    wire = {**make_contract().to_wire(), "tasks": [], "pendingQuestions": [], "supervisor": None}
    assert contract_from_wire(wire).id == "c1"


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("status", "sleeping", "status"),
        ("version", "7", "version"),
        ("version", True, "version"),
        ("createdAt", "yesterday", "createdAt"),
        ("phaseGuard", "yes", "phaseGuard"),
        ("completedDeliverables", {"plan": "doc"}, "completedDeliverables"),
        ("name", None, "name"),
    ],
)
def test_contract_bad_fields_name_the_field(key: str, value: Any, words: str) -> None:
    wire = make_contract().to_wire()
    wire[key] = value
    with pytest.raises(ValidationFailed) as caught:
        contract_from_wire(wire)
    assert words in caught.value.message


def test_contract_missing_field_and_not_an_object() -> None:
    wire = make_contract().to_wire()
    del wire["phase"]
    with pytest.raises(ValidationFailed, match="'phase'"):
        contract_from_wire(wire)
    with pytest.raises(ValidationFailed, match="JSON object"):
        contract_from_wire([])  # type: ignore[arg-type]


def test_task_round_trip() -> None:
    for task in (make_task(), make_task(status=TaskStatus.DONE, is_supervisor=True)):
        assert task_from_wire(task.to_wire()) == task


def test_question_round_trip() -> None:
    pending = make_question(question_type=QuestionType.CHOICE, choices=("a", "b"))
    answered = make_question(
        status=QuestionStatus.ANSWERED,
        answer="yes",
        answered_at=T0 + timedelta(hours=1),
        answered_by="alice",
        question_type=QuestionType.CONFIRMATION,
    )
    for question in (pending, answered):
        assert question_from_wire(question.to_wire()) == question


def test_question_bad_choices() -> None:
    wire = make_question().to_wire()
    wire["choices"] = [1, 2]
    with pytest.raises(ValidationFailed, match="choices"):
        question_from_wire(wire)


def test_event_round_trip_keeps_the_payload() -> None:
    event = LoggedEvent(
        seq=42,
        at=T0,
        type=EventType.STATUS_CHANGED,
        contract_id="c1",
        actor=Actor("alice", Role.REVIEWER),
        payload={"old_status": "active", "new_status": "paused", "reason": "lunch"},
    )
    assert event_from_wire(event.to_wire()) == event
    assert event_from_wire(event.to_wire(), owner="alice").owner == "alice"


def test_transient_heartbeat_has_no_seq() -> None:
    event = LoggedEvent(
        None, T0, EventType.HEARTBEAT, "c1", SYSTEM, {"state": "working", "progress": 5}
    )
    assert event_from_wire(event.to_wire()) == event
    wire = event.to_wire()
    del wire["actor"]
    assert event_from_wire(wire).actor == SYSTEM


@pytest.mark.parametrize(
    ("key", "value"), [("seq", "1"), ("type", "exploded"), ("actor", "alice"), ("at", 5)]
)
def test_event_bad_fields(key: str, value: Any) -> None:
    wire = LoggedEvent(1, T0, EventType.CONTRACT_CREATED, "c1", SYSTEM).to_wire()
    wire[key] = value
    with pytest.raises(ValidationFailed, match=key):
        event_from_wire(wire)


@given(
    name=st.text(max_size=40),
    version=st.integers(min_value=1, max_value=10**9),
    status=st.sampled_from(list(ContractStatus)),
    seconds=st.integers(min_value=0, max_value=10**8),
    done=st.lists(st.sampled_from(["plan-document", "x"]), max_size=2, unique=True),
)
def test_contract_round_trip_property(
    name: str, version: int, status: ContractStatus, seconds: int, done: list[str]
) -> None:
    # the wire keeps milliseconds, so whole seconds round-trip exactly
    when = T0 + timedelta(seconds=seconds)
    contract = make_contract(
        name=name,
        version=version,
        status=status,
        last_activity_at=when,
        completed_deliverables={"plan": tuple(done)} if done else {},
    )
    assert contract_from_wire(contract.to_wire(), owner="alice") == contract
