"""Questions a supervisor asks and a reviewer answers. Import these from `core.lifecycle`.

Asking puts an active contract into `waiting_for_input`; the last answer (with no phase
confirmation pending) makes it `active` again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from core.actors import Actor
from core.contract_change import ContractChange
from core.errors import QuestionAlreadyAnswered, QuestionNotFound, ValidationFailed
from core.events import EventType
from core.model import Contract, Question, QuestionStatus, QuestionType, Task
from core.outcome import Outcome
from core.permissions import ReviewerOnly, check_reviewer_action
from core.progress import DEFAULT_PROGRESS, ProgressSettings
from core.status import ContractStatus
from core.work import require_text, run_progress

_YES = frozenset({"yes", "y", "true"})
_NO = frozenset({"no", "n", "false"})


def ask_question(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    question_id: str,
    question: str,
    question_type: str,
    now: datetime,
    actor: Actor,
    choices: Sequence[str] = (),
) -> Outcome:
    """Ask a question; the new Question is `outcome.questions[0]`.

    Only an open contract takes questions. A `choice` question needs at least two distinct,
    non-empty choices; the other types take none (a confirmation's answers are yes/no).
    """
    del actor
    text = require_text(question, "Question")
    kind = _parse_question_type(question_type)
    _check_choices(kind, choices)
    if contract.status is ContractStatus.COMPLETING or contract.status.is_terminal:
        raise ValidationFailed(
            f"Cannot ask a question on a contract that is '{contract.status}'",
            details={"status": contract.status.value},
        )
    offered = tuple(c.strip() for c in choices)
    asked = Question(question_id, contract.id, contract.phase, text, kind, now, offered)
    change = ContractChange(contract)
    change.touch(now)
    if contract.status is ContractStatus.ACTIVE:
        # waiting_for becomes QUESTION, or stays PHASE_CONFIRMATION if one is pending.
        change.move(ContractStatus.WAITING_FOR_INPUT, now, [asked])
    # `choices` and `phase` go beyond the specification's fields so that a replica can
    # rebuild the question from the log alone.
    change.emit(
        EventType.QUESTION_ASKED,
        question_id=question_id,
        question=text,
        question_type=kind.value,
        choices=list(offered),
        phase=contract.phase,
    )
    return change.outcome(now, questions=(asked,))


def _parse_question_type(value: str) -> QuestionType:
    try:
        return QuestionType(value)
    except ValueError:
        valid = ", ".join(t.value for t in QuestionType)
        raise ValidationFailed(
            f"Unknown questionType '{value}'. Valid types: {valid}",
            details={"field": "questionType"},
        ) from None


def _check_choices(kind: QuestionType, choices: Sequence[str]) -> None:
    if kind is not QuestionType.CHOICE:
        if choices:
            raise ValidationFailed(f"A {kind} question takes no choices")
        return
    cleaned = [c.strip() for c in choices]
    if len(cleaned) < 2 or not all(cleaned) or len(set(cleaned)) != len(cleaned):
        raise ValidationFailed("A choice question needs at least two distinct, non-empty choices")


def answer_question(  # noqa: PLR0917 - the use-case signature shared with server/
    contract: Contract,
    questions: Sequence[Question],
    question_id: str,
    answer: str,
    now: datetime,
    actor: Actor,
    tasks: Sequence[Task] = (),
    settings: ProgressSettings = DEFAULT_PROGRESS,
) -> Outcome:
    """Answer a pending question (reviewers and admins only); the answered Question is
    `outcome.questions[0]`.

    Trap: the contract goes back to `active` only when nothing else is pending — another
    question or a phase confirmation keeps it waiting, naming what it waits on. Back to
    `active`, the progress flow runs: work may have finished while the question waited.
    """
    check_reviewer_action(actor, ReviewerOnly.ANSWER_QUESTION)
    asked = _find_question(contract, questions, question_id)
    if not asked.is_pending:
        raise QuestionAlreadyAnswered(question_id, asked.status.value)
    value = _normalise_answer(asked, answer)
    answered = replace(
        asked,
        status=QuestionStatus.ANSWERED,
        answer=value,
        answered_at=now,
        answered_by=actor.owner,
    )
    change = ContractChange(contract)
    change.touch(now)
    change.emit(EventType.QUESTION_ANSWERED, question_id=question_id, answer=value)
    after = [answered if q.id == question_id else q for q in questions]
    change.settle_waiting(now, after)
    run_progress(change, tasks, now, settings)
    return change.outcome(now, questions=(answered,))


def _find_question(contract: Contract, questions: Sequence[Question], question_id: str) -> Question:
    for q in questions:
        if q.id == question_id and q.contract_id == contract.id:
            return q
    raise QuestionNotFound(question_id)


def _normalise_answer(asked: Question, answer: str) -> str:
    """The answer as stored: a confirmation becomes "yes"/"no", a choice must be offered."""
    text = require_text(answer, "Answer")
    if asked.question_type is QuestionType.CHOICE:
        if text not in asked.choices:
            raise ValidationFailed(
                f"Answer must be one of: {', '.join(asked.choices)}",
                details={"choices": list(asked.choices)},
            )
        return text
    if asked.question_type is QuestionType.CONFIRMATION:
        return _yes_or_no(text)
    return answer


def _yes_or_no(text: str) -> str:
    lowered = text.lower()
    if lowered in _YES:
        return "yes"
    if lowered in _NO:
        return "no"
    raise ValidationFailed(
        "A confirmation is answered yes or no", details={"choices": ["yes", "no"]}
    )
