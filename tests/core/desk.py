"""An in-memory stand-in for the store, for lifecycle tests: it applies Outcomes the way the
store does (checking `previous_version` as the optimistic lock) and keeps the event log.
Plus the few steps most lifecycle tests start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.actors import Actor, Role
from core.events import EventType, NewEvent
from core.lifecycle import change_phase, change_status, create_contract, create_task
from core.model import Contract, Question, QuestionType, Task
from core.outcome import Outcome
from core.phase_change import PhaseChangeRequest
from core.status import ContractStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REVIEWER = Actor("ann", Role.REVIEWER)
ADMIN = Actor("root", Role.ADMIN)
SUPERVISOR = Actor("bot", Role.SUPERVISOR)


class Desk:
    def __init__(self, contract: Contract, now: datetime = T0) -> None:
        self.contract = contract
        self.tasks: dict[str, Task] = {}
        self.questions: dict[str, Question] = {}
        self.log: list[NewEvent] = []
        self.now = now

    @classmethod
    def new(cls, contract_type: str = "simple", **options: Any) -> Desk:
        outcome = create_contract("c1", "ann", "Ship it", contract_type, T0, REVIEWER, **options)
        desk = cls(outcome.contract)
        desk.log.extend(outcome.events)
        return desk

    def tick(self, seconds: float = 60) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    @property
    def task_list(self) -> list[Task]:
        return list(self.tasks.values())

    @property
    def question_list(self) -> list[Question]:
        return list(self.questions.values())

    def apply(self, outcome: Outcome) -> Outcome:
        assert outcome.previous_version == self.contract.version, "stale write"
        self.contract = outcome.contract
        self.tasks.update({t.id: t for t in outcome.tasks})
        self.questions.update({q.id: q for q in outcome.questions})
        self.log.extend(outcome.events)
        return outcome


def types(outcome: Outcome) -> list[EventType]:
    return [e.type for e in outcome.events]


def started(contract_type: str = "simple", **options: Any) -> Desk:
    """A contract with its supervisor task `sup`, moved to `active` by the supervisor."""
    desk = Desk.new(contract_type, **options)
    desk.apply(create_task(desk.contract, [], "sup", "supervisor", desk.tick(), SUPERVISOR, True))
    status(desk, ContractStatus.ACTIVE, actor=SUPERVISOR)
    return desk


def status(desk: Desk, target: ContractStatus, actor: Actor = REVIEWER, **kw: Any) -> Outcome:
    """Apply `change_status` (keywords: reason, blocker, expected_version)."""
    now = desk.tick()
    return desk.apply(
        change_status(desk.contract, desk.task_list, desk.question_list, target, now, actor, **kw)
    )


def phase(
    desk: Desk, target: str, actor: Actor = REVIEWER, tid: str = "tr-1", **kw: Any
) -> Outcome:
    """Apply `change_phase` (keywords: the PhaseChangeRequest's fields)."""
    request = PhaseChangeRequest(target, **kw)
    now = desk.tick()
    return desk.apply(
        change_phase(desk.contract, desk.task_list, desk.question_list, request, now, actor, tid)
    )


def pending_question(desk: Desk, question_id: str = "q1") -> Question:
    """A pending question put straight into the desk (no use case, no status change)."""
    q = Question(
        question_id, "c1", desk.contract.phase, "Which DB?", QuestionType.FREE_TEXT, desk.now
    )
    desk.questions[q.id] = q
    return q
