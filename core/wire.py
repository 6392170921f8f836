"""From-wire parsers: the inverse of the `to_wire` methods of the model and the event log.

The client side (sync, CLI, desktop replica) reads the API's JSON back into the same core
types the server produced it from, so one set of rules works on both sides. Contracts, tasks
and questions are read with the wire models of `core.api.contracts` (the server's response
models); events, read by the thousand during a first sync, keep a hand-written reader.

Each parser raises `ValidationFailed` naming the field when the JSON does not have the
expected shape, never a bare `KeyError` or `TypeError` from deep inside.

The traps:
- `owner` is never on the wire: parsed contracts and events carry the owner the caller
  passes (the key's owner, or "" when unknown).
- A pending guarded confirmation is `pendingConfirmation` (transition id, next phase, request
  time, evidence digest); an older server shows only `pendingPhase`, and then the parsed
  `pending_confirmation` has an empty `transition_id` and `updatedAt` as its request time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from core.actors import Actor, Role
from core.api.contracts import ContractPublic, QuestionPublic, TaskPublic
from core.api.feedback import FeedbackPublic
from core.api.inbox import InboxItemPublic
from core.api.worktrees import WorktreePublic
from core.clock import parse_iso
from core.errors import ValidationFailed
from core.events import EventType, LoggedEvent
from core.feedback import FeedbackEntry
from core.inbox import InboxItem
from core.model import Contract, Question, Task
from core.worktrees import ReportedWorktree

E = TypeVar("E", bound=Enum)

# The keys of an event's envelope; everything else on an event object is its payload.
EVENT_ENVELOPE = frozenset({"seq", "at", "type", "contract_id", "actor"})


def contract_from_wire(wire: Mapping[str, Any], *, owner: str = "") -> Contract:
    """A Contract from the API's Contract object (extra keys, as on a detail, are ignored)."""
    public = _read(ContractPublic, wire, "contract")
    return public.to_domain(owner, wire.get("phaseConfig"))


def inbox_item_from_wire(wire: Mapping[str, Any]) -> InboxItem:
    """One item of `GET /inbox` (`{items: [...]}`)."""
    return _read(InboxItemPublic, wire, "inbox item").to_domain()


def worktree_from_wire(wire: Mapping[str, Any]) -> ReportedWorktree:
    """One entry of `GET /worktrees`."""
    return _read(WorktreePublic, wire, "worktree").to_domain()


def feedback_from_wire(wire: Mapping[str, Any]) -> FeedbackEntry:
    """One entry of a contract's `feedback` thread (`GET /contracts/{id}`, the export)."""
    return _read(FeedbackPublic, wire, "feedback").to_domain(str(wire.get("contractId") or ""))


def task_from_wire(wire: Mapping[str, Any]) -> Task:
    return _read(TaskPublic, wire, "task").to_domain()


def question_from_wire(wire: Mapping[str, Any]) -> Question:
    return _read(QuestionPublic, wire, "question").to_domain()


M = TypeVar("M", bound=BaseModel)


def _read(model: type[M], wire: Any, kind: str) -> M:
    """`wire` read with its model of core/api; the first problem names the field."""
    if not isinstance(wire, Mapping):
        raise ValidationFailed(f"A {kind} must be a JSON object, got {type(wire).__name__}")
    try:
        return model.model_validate(wire)
    except PydanticValidationError as invalid:
        first = invalid.errors()[0]
        key = ".".join(str(part) for part in first.get("loc", ())) or kind
        details = {"object": kind, "field": key}
        if first.get("type") == "missing":
            raise ValidationFailed(f"The {kind} has no '{key}'", details=details) from None
        value = str(first.get("input"))[:60]
        raise ValidationFailed(
            f"The {kind}'s '{key}' is not valid ({first['msg']}), got {value!r}", details=details
        ) from None


def event_from_wire(wire: Mapping[str, Any], *, owner: str | None = None) -> LoggedEvent:
    """A logged event (or a transient heartbeat, `seq` null) from its wire object."""
    w = _Fields(wire, "event")
    seq = wire.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise _bad("event", "seq", seq, "a whole number or null")
    return LoggedEvent(
        seq=seq,
        at=w.time("at"),
        type=w.enum("type", EventType),
        contract_id=w.text("contract_id"),
        actor=actor_from_wire(wire.get("actor")),
        payload={k: v for k, v in wire.items() if k not in EVENT_ENVELOPE},
        owner=owner,
    )


def actor_from_wire(wire: Any) -> Actor:
    """`{owner, role}`; a missing actor (as on some transient heartbeats) is the system."""
    if wire is None:
        return Actor("system", Role.SYSTEM)
    if not isinstance(wire, Mapping):
        raise _bad("event", "actor", wire, "an object {owner, role}")
    w = _Fields(wire, "actor")
    user = wire.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("actor", "user", user, "a string or null")
    return Actor(w.text("owner"), w.enum("role", Role), user)


def _bad(kind: str, key: str, value: Any, expected: str) -> ValidationFailed:
    return ValidationFailed(
        f"The {kind}'s '{key}' must be {expected}, got {str(value)[:60]!r}",
        details={"object": kind, "field": key},
    )


class _Fields:
    """Typed reads of one wire object, each failure naming the object and the field."""

    def __init__(self, wire: Mapping[str, Any], kind: str) -> None:
        if not isinstance(wire, Mapping):
            raise ValidationFailed(f"A {kind} must be a JSON object, got {type(wire).__name__}")
        self._wire = wire
        self._kind = kind

    def _get(self, key: str) -> Any:
        if key not in self._wire:
            raise ValidationFailed(
                f"The {self._kind} has no '{key}'", details={"object": self._kind, "field": key}
            )
        return self._wire[key]

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise _bad(self._kind, key, value, "a string")
        return value

    def time(self, key: str) -> datetime:
        return self._parse_time(key, self._get(key))

    def _parse_time(self, key: str, value: Any) -> datetime:
        try:
            return parse_iso(value)
        except (TypeError, ValueError, AttributeError):
            raise _bad(self._kind, key, value, "an ISO 8601 time") from None

    def enum(self, key: str, kind: type[E]) -> E:
        value = self._get(key)
        try:
            return kind(value)
        except ValueError:
            raise _bad(self._kind, key, value, f"a known {key}") from None
