"""Typed answers of the API client that are more than one core object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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
    supervisor: dict[str, Any] | None
    readiness: dict[str, Any] | None
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
            supervisor=dict(supervisor) if isinstance(supervisor, Mapping) else None,
            readiness=dict(readiness) if isinstance(readiness, Mapping) else None,
            raw=dict(wire),
            feedback=[feedback_from_wire(f) for f in wire.get("feedback") or []],
        )


PhaseAnswerKind = Literal["contract", "requires_confirmation", "changes_requested"]


@dataclass(frozen=True, slots=True)
class PhaseAnswer:
    """`POST /contracts/{id}/phase`: either the moved contract (kind "contract"), or the
    server's body when a guard asks for confirmation or feedback was recorded."""

    kind: PhaseAnswerKind
    contract: Contract | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> int | None:
        """The contract version the request made (None from a server that does not say)."""
        if self.contract is not None:
            return self.contract.version
        return answered_version(self.body)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> PhaseAnswer:
        status = wire.get("status")
        if status == "requires_confirmation":
            return cls("requires_confirmation", body=dict(wire))
        if status == "changes_requested":
            return cls("changes_requested", body=dict(wire))
        return cls("contract", contract=contract_from_wire(wire), body=dict(wire))


def answered_version(body: Mapping[str, Any]) -> int | None:
    """The `version` a decision's answer carries, if it carries one."""
    version = body.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else None


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
