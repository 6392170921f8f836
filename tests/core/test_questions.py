"""Asking and answering questions, and what they do to the contract's status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from core.errors import (
    Forbidden,
    QuestionAlreadyAnswered,
    QuestionNotFound,
    ValidationFailed,
)
from core.events import EventType, NewEvent
from core.lifecycle import answer_question, ask_question, change_phase, change_status
from core.model import PendingPhaseConfirmation, QuestionStatus, QuestionType
from core.outcome import Outcome
from core.phase_change import PhaseChangeRequest
from core.status import ContractStatus, WaitingFor
from tests.core.desk import ADMIN, REVIEWER, SUPERVISOR, T0, Desk, started, types

S = ContractStatus
E = EventType


def ask(
    desk: Desk,
    qid: str = "q1",
    kind: str = "free_text",
    choices: Sequence[str] = (),
    text: str = "Which DB?",
) -> Outcome:
    now = desk.tick()
    return desk.apply(ask_question(desk.contract, qid, text, kind, now, SUPERVISOR, choices))


def answer(desk: Desk, qid: str, value: str, actor: Any = REVIEWER) -> Outcome:
    now = desk.tick()
    return desk.apply(answer_question(desk.contract, desk.question_list, qid, value, now, actor))


# ask_question


def test_asking_makes_an_active_contract_wait() -> None:
    desk = started()
    read = desk.contract
    outcome = ask(desk)
    (q,) = outcome.questions
    assert (q.id, q.contract_id, q.phase, q.question, q.question_type) == (
        "q1",
        "c1",
        "plan",
        "Which DB?",
        QuestionType.FREE_TEXT,
    )
    assert (q.status, q.asked_at, q.choices) == (QuestionStatus.PENDING, desk.now, ())
    c = outcome.contract
    assert (c.status, c.waiting_for) == (S.WAITING_FOR_INPUT, WaitingFor.QUESTION)
    assert (c.version, c.last_activity_at) == (read.version + 1, desk.now)
    assert types(outcome) == [E.STATUS_CHANGED, E.QUESTION_ASKED]
    assert outcome.events[1] == NewEvent(
        E.QUESTION_ASKED,
        "c1",
        {
            "question_id": "q1",
            "question": "Which DB?",
            "question_type": "free_text",
            "choices": [],
            "phase": "plan",
        },
    )


def test_second_question_keeps_waiting_without_a_status_event() -> None:
    desk = started()
    ask(desk, "q1")
    outcome = ask(desk, "q2")
    assert types(outcome) == [E.QUESTION_ASKED]
    assert outcome.contract.waiting_for is WaitingFor.QUESTION


def test_question_while_a_confirmation_waits_keeps_naming_the_confirmation() -> None:
    desk = started()
    desk.contract = replace(desk.contract, completed_deliverables={"plan": ("plan-document",)})
    request = PhaseChangeRequest("execute")
    desk.apply(change_phase(desk.contract, [], [], request, desk.tick(), SUPERVISOR, "tr-1"))
    assert ask(desk).contract.waiting_for is WaitingFor.PHASE_CONFIRMATION


def test_question_on_active_contract_with_pending_confirmation_names_the_confirmation() -> None:
    desk = started()
    desk.contract = replace(
        desk.contract, pending_confirmation=PendingPhaseConfirmation("t", "execute", T0)
    )
    assert ask(desk).contract.waiting_for is WaitingFor.PHASE_CONFIRMATION


@pytest.mark.parametrize("status", [S.CREATED, S.PAUSED, S.BLOCKED])
def test_question_on_a_stopped_contract_keeps_its_status(status: ContractStatus) -> None:
    desk = started()
    desk.contract = replace(desk.contract, status=status)
    outcome = ask(desk)
    assert (outcome.contract.status, outcome.contract.waiting_for, types(outcome)) == (
        status,
        None,
        [E.QUESTION_ASKED],
    )


@pytest.mark.parametrize("status", [S.COMPLETING, S.COMPLETED, S.FAILED, S.ARCHIVED])
def test_closed_contract_takes_no_questions(status: ContractStatus) -> None:
    desk = started()
    desk.contract = replace(desk.contract, status=status)
    with pytest.raises(ValidationFailed, match="Cannot ask a question"):
        ask(desk)


def test_choice_question_stores_its_choices() -> None:
    outcome = ask(started(), kind="choice", choices=[" postgres", "sqlite "])
    assert outcome.questions[0].choices == ("postgres", "sqlite")


@pytest.mark.parametrize(
    ("text", "kind", "choices", "message"),
    [
        ("  ", "free_text", (), "must not be empty"),
        ("Which?", "essay", (), "Unknown questionType 'essay'"),
        ("Which?", "choice", (), "at least two distinct"),
        ("Which?", "choice", ("a",), "at least two distinct"),
        ("Which?", "choice", ("a", " a"), "at least two distinct"),
        ("Which?", "choice", ("a", ""), "at least two distinct"),
        ("Which?", "free_text", ("a", "b"), "takes no choices"),
        ("Go?", "confirmation", ("yes", "no"), "takes no choices"),
    ],
)
def test_ask_rejections(text: str, kind: str, choices: Sequence[str], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        ask(started(), kind=kind, choices=choices, text=text)


# answer_question


def test_last_answer_makes_the_contract_active_again() -> None:
    desk = started()
    ask(desk)
    read = desk.contract
    outcome = answer(desk, "q1", "Postgres")
    (q,) = outcome.questions
    assert (q.status, q.answer, q.answered_at, q.answered_by) == (
        QuestionStatus.ANSWERED,
        "Postgres",
        desk.now,
        "ann",
    )
    c = outcome.contract
    assert (c.status, c.waiting_for, c.version, c.last_activity_at) == (
        S.ACTIVE,
        None,
        read.version + 1,
        desk.now,
    )
    assert types(outcome) == [E.QUESTION_ANSWERED, E.STATUS_CHANGED]
    assert outcome.events[0] == NewEvent(
        E.QUESTION_ANSWERED, "c1", {"question_id": "q1", "answer": "Postgres"}
    )


def test_answer_with_another_question_pending_keeps_waiting() -> None:
    desk = started()
    ask(desk, "q1")
    ask(desk, "q2")
    outcome = answer(desk, "q1", "x", ADMIN)
    assert (outcome.contract.status, outcome.contract.waiting_for) == (
        S.WAITING_FOR_INPUT,
        WaitingFor.QUESTION,
    )
    assert types(outcome) == [E.QUESTION_ANSWERED]


def test_answer_with_a_confirmation_pending_waits_for_it() -> None:
    desk = started()
    ask(desk)
    desk.contract = replace(
        desk.contract, pending_confirmation=PendingPhaseConfirmation("t", "execute", T0)
    )
    outcome = answer(desk, "q1", "x")
    assert (outcome.contract.status, outcome.contract.waiting_for) == (
        S.WAITING_FOR_INPUT,
        WaitingFor.PHASE_CONFIRMATION,
    )


def test_answer_on_a_paused_contract_keeps_it_paused() -> None:
    desk = started()
    ask(desk)
    desk.apply(
        change_status(desk.contract, [], desk.question_list, S.PAUSED, desk.tick(), REVIEWER)
    )
    assert answer(desk, "q1", "x").contract.status is S.PAUSED


def test_supervisor_may_not_answer() -> None:
    desk = started()
    ask(desk)
    with pytest.raises(Forbidden):
        answer(desk, "q1", "x", SUPERVISOR)


def test_unknown_question() -> None:
    with pytest.raises(QuestionNotFound):
        answer(started(), "q9", "x")


@pytest.mark.parametrize("status", [QuestionStatus.ANSWERED, QuestionStatus.TIMED_OUT])
def test_question_that_is_no_longer_pending(status: QuestionStatus) -> None:
    desk = started()
    ask(desk)
    desk.questions["q1"] = replace(desk.questions["q1"], status=status)
    with pytest.raises(QuestionAlreadyAnswered) as caught:
        answer(desk, "q1", "x")
    assert caught.value.details == {"question_id": "q1", "status": status.value}


def test_empty_answer_is_refused() -> None:
    desk = started()
    ask(desk)
    with pytest.raises(ValidationFailed, match="must not be empty"):
        answer(desk, "q1", "  ")


def test_choice_answer_must_be_offered() -> None:
    desk = started()
    ask(desk, kind="choice", choices=["postgres", "sqlite"])
    with pytest.raises(ValidationFailed, match="one of: postgres, sqlite"):
        answer(desk, "q1", "mysql")
    assert answer(desk, "q1", " sqlite ").questions[0].answer == "sqlite"


@pytest.mark.parametrize(
    ("given", "stored"),
    [("yes", "yes"), ("Y", "yes"), ("TRUE", "yes"), (" no ", "no"), ("n", "no"), ("False", "no")],
)
def test_confirmation_answers_are_normalised(given: str, stored: str) -> None:
    desk = started()
    ask(desk, kind="confirmation", text="Deploy?")
    assert answer(desk, "q1", given).questions[0].answer == stored


def test_confirmation_answer_must_be_yes_or_no() -> None:
    desk = started()
    ask(desk, kind="confirmation", text="Deploy?")
    with pytest.raises(ValidationFailed, match="yes or no"):
        answer(desk, "q1", "maybe")
