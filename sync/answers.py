"""Typed answers of the API client that are more than one core object.

Answers are read with the wire models of `core.api` (the server's response models), then
the core objects inside them with `core.wire`'s parsers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from core.api.contracts import (
    ChangesRequestedAnswer,
    ContractPublic,
    PhaseChangeAnswer,
    ReadinessPublic,
    RequiresConfirmation,
    SupervisorStatusPublic,
)
from core.errors import ValidationFailed
from core.events import LoggedEvent
from core.feedback import FeedbackEntry
from core.model import Contract, Question, Task
from core.wire import (
    contract_from_wire,
    event_from_wire,
    feedback_from_wire,
    question_from_wire,
    task_from_wire,
)


@dataclass(frozen=True, slots=True)
class ContractPage:
    """One page of `GET /contracts`: the contracts and how many match in all."""

    contracts: list[Contract]
    total: int


@dataclass(frozen=True, slots=True)
class ContractDetail:
    """`GET /contracts/{id}`: the contract with its tasks, pending questions, supervisor
    status (None without a supervisor) and phase readiness."""

    contract: Contract
    tasks: list[Task]
    pending_questions: list[Question]
    supervisor: SupervisorStatusPublic | None
    readiness: ReadinessPublic | None
    # The answer as sent, for `contracts show --format json` (which prints it unchanged).
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # The feedback thread: each change request, whether the supervisor picked it up, its reply.
    feedback: list[FeedbackEntry] = field(default_factory=list)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any], owner: str = "") -> ContractDetail:
        supervisor, readiness = wire.get("supervisor"), wire.get("readiness")
        return cls(
            contract=contract_from_wire(wire, owner=owner),
            tasks=[task_from_wire(t) for t in wire.get("tasks") or []],
            pending_questions=[question_from_wire(q) for q in wire.get("pendingQuestions") or []],
            supervisor=None if supervisor is None else read(SupervisorStatusPublic, supervisor),
            readiness=None if readiness is None else read(ReadinessPublic, readiness),
            raw=dict(wire),
            feedback=[feedback_from_wire(f) for f in wire.get("feedback") or []],
        )


M = TypeVar("M")
BM = TypeVar("BM", bound=BaseModel)


def read(model: type[BM], wire: Any) -> BM:
    """`wire` read with its wire model; a mismatch is VALIDATION_FAILED naming the field."""
    return _checked(lambda: model.model_validate(wire))


def read_union(adapter: TypeAdapter[M], wire: Any) -> M:
    """`wire` read with a union of wire models (see `read`)."""
    return _checked(lambda: adapter.validate_python(wire))


def _checked(parse: Callable[[], M]) -> M:
    try:
        return parse()
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise ValidationFailed(
            f"The server's answer does not match the API: {where or 'body'}: {first['msg']}",
            details={"field": where},
        ) from None


PhaseAnswerKind = Literal["contract", "requires_confirmation", "changes_requested"]
_PHASE_ANSWER: TypeAdapter[PhaseChangeAnswer] = TypeAdapter(PhaseChangeAnswer)


@dataclass(frozen=True, slots=True)
class PhaseAnswer:
    """`POST /contracts/{id}/phase`: either the moved contract (kind "contract"), or the
    server's answer when a guard asks for confirmation or feedback was recorded (`answer`).
    `body` is the answer as sent, kept with the outbox entry it settles."""

    kind: PhaseAnswerKind
    contract: Contract | None = None
    answer: RequiresConfirmation | ChangesRequestedAnswer | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> int | None:
        """The contract version the request made (None from a server that does not say)."""
        if self.contract is not None:
            return self.contract.version
        return self.answer.version if self.answer is not None else None

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> PhaseAnswer:
        answer = read_union(_PHASE_ANSWER, wire)
        if isinstance(answer, ContractPublic):
            return cls("contract", contract=contract_from_wire(wire), body=dict(wire))
        return cls(answer.status, answer=answer, body=dict(wire))


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of the event log, oldest first; `last_seq` is where the next page starts."""

    events: list[LoggedEvent]
    last_seq: int

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any], after: int) -> EventPage:
        events = [event_from_wire(e) for e in wire.get("events") or []]
        last = wire.get("lastSeq", wire.get("last_seq"))
        if not isinstance(last, int):
            last = max((e.seq for e in events if e.seq is not None), default=after)
        return cls(events, last)
