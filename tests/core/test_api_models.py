"""core/api: the wire models describe exactly what the domain's writers put on the wire.

A model that reads a wire object and writes it back unchanged (same keys, same casing, same
time format) is the schema of that object; the server declares these as response models.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from core.actors import Actor, Role
from core.api.base import wire_alias
from core.api.batch import BatchBody
from core.api.contracts import (
    ChangesRequestedAnswer,
    ContractPublic,
    PhaseChangeAnswer,
    QuestionPublic,
    RequiresConfirmation,
    TaskPublic,
)
from core.api.errors import ErrorBody, ErrorCode
from core.api.events import EventPublic, MonitorSubscription
from core.events import EventType, LoggedEvent
from core.model import PendingPhaseConfirmation
from core.status import ContractStatus, WaitingFor
from tests.core.factories import T0, make_contract, make_question, make_task


def test_contract_model_round_trips_the_wire_key_for_key() -> None:
    contract = make_contract(
        description="d",
        version=4,
        completed_deliverables={"plan": ("plan-document",)},
        waiting_for=WaitingFor.PHASE_CONFIRMATION,
        status=ContractStatus.WAITING_FOR_INPUT,
        completion_detected_at=T0 + timedelta(seconds=3),
        pending_confirmation=PendingPhaseConfirmation("t", "execute", T0),
    )
    wire = contract.to_wire()
    assert ContractPublic.model_validate(wire).model_dump(mode="json") == wire


def test_task_and_question_models_round_trip() -> None:
    task, question = make_task(), make_question()
    assert TaskPublic.model_validate(task.to_wire()).model_dump(mode="json") == task.to_wire()
    assert QuestionPublic.model_validate(question.to_wire()).model_dump(mode="json") == (
        question.to_wire()
    )


def test_event_model_keeps_payload_fields_and_snake_case() -> None:
    event = LoggedEvent(
        7,
        T0,
        EventType.PHASE_CHANGED,
        "c1",
        Actor("alice", Role.REVIEWER),
        {"old_phase": "plan", "new_phase": "execute", "version": 3, "newer_field": 1},
    )
    wire = event.to_wire()
    assert EventPublic.model_validate(wire).model_dump(mode="json", exclude_unset=True) == wire


def test_phase_answer_is_told_apart_by_its_status() -> None:
    answers = TypeAdapter(PhaseChangeAnswer)
    moved = answers.validate_python(make_contract().to_wire())
    feedback = answers.validate_python({"status": "changes_requested", "feedback": "more"})
    assert isinstance(moved, ContractPublic)
    assert isinstance(feedback, ChangesRequestedAnswer)
    with pytest.raises(ValidationError):
        answers.validate_python({"status": "requires_confirmation"})
    assert RequiresConfirmation.model_fields["transition_id"].alias == "transitionId"


def test_one_alias_rule_reads_both_spellings() -> None:
    assert wire_alias("older_than_hours") == "olderThanHours"
    snake = BatchBody.model_validate({"operation": "pause_all", "dry_run": True})
    camel = BatchBody.model_validate({"operation": "pause_all", "dryRun": True})
    assert snake == camel
    sub = MonitorSubscription.model_validate({"contractIds": ["a"], "include_stale": False})
    assert sub.to_filter().contract_ids == frozenset({"a"})
    assert sub.to_filter().include_stale is False


def test_unknown_error_code_is_kept_as_unknown() -> None:
    body = ErrorBody.model_validate({"code": "SOMETHING_NEWER", "message": "m"})
    assert body.code_member is ErrorCode.UNKNOWN and body.code == "SOMETHING_NEWER"
    assert ErrorCode.parse("VERSION_CONFLICT") is ErrorCode.VERSION_CONFLICT
    assert ErrorBody.of(ErrorCode.FORBIDDEN, "no", None).to_wire() == {
        "code": "FORBIDDEN",
        "message": "no",
    }
