"""Tasks and questions folded from events (the replica has no other source for them).

`HistoryFold` collects, per page of events (or for the whole log during a snapshot), whole
rows for tasks and questions created in the stream and column updates for those created
before it; `write_rows` writes them, inserts before updates, only for contracts the replica
holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.actors import Actor
from core.events import EventType
from core.model import QuestionStatus, TaskStatus
from core.store.schema import questions, tasks

E = EventType
_TASK_STATUS = (
    update(tasks)
    .where(tasks.c.id == bindparam("_id"))
    .values(status=bindparam("status"), updated_at=bindparam("updated_at"))
)
_QUESTION_CHANGE = (
    update(questions)
    .where(questions.c.id == bindparam("_id"))
    .values(
        status=bindparam("status"),
        answer=bindparam("answer"),
        answered_at=bindparam("answered_at"),
        answered_by=bindparam("answered_by"),
    )
)


class FoldEvent(Protocol):
    """What `HistoryFold` reads of an event (a LoggedEvent, or the snapshot's WireEvent)."""

    @property
    def at(self) -> datetime: ...
    @property
    def type(self) -> EventType: ...
    @property
    def contract_id(self) -> str: ...
    @property
    def actor(self) -> Actor: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass(slots=True)
class HistoryFold:
    """Tasks and questions folded from events: whole rows for those created in the stream,
    column updates for those created before it."""

    new_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_questions: dict[str, dict[str, Any]] = field(default_factory=dict)
    question_updates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_all(self, page: Iterable[FoldEvent]) -> None:
        for event in page:
            self.add(event)

    def add(self, event: FoldEvent) -> None:
        handler = _FOLDERS.get(event.type)
        if handler is not None:
            handler(self, event)

    def contract_ids(self) -> set[str]:
        rows = (*self.new_tasks.values(), *self.new_questions.values())
        return {row["contract_id"] for row in rows}

    def forget(self, contract_ids: set[str]) -> None:
        """Drop rows of deleted contracts (the cascade already removed stored ones)."""
        if not contract_ids:
            return
        for table in (self.new_tasks, self.new_questions):
            for key in [k for k, row in table.items() if row["contract_id"] in contract_ids]:
                del table[key]

    def _task_created(self, event: FoldEvent) -> None:
        p = event.payload
        task_id = str(p.get("task_id", ""))
        supervisor = bool(p.get("is_supervisor", False))
        default = TaskStatus.RUNNING if supervisor else TaskStatus.PENDING
        self.new_tasks[task_id] = {
            "id": task_id,
            "contract_id": event.contract_id,
            "name": str(p.get("task_name", "")),
            "status": str(p.get("status") or default.value),
            "is_supervisor": supervisor,
            "created_at": event.at,
            "updated_at": event.at,
        }

    def _task_moved(self, event: FoldEvent) -> None:
        p = event.payload
        if event.type is E.TASK_COMPLETED:
            status = TaskStatus.DONE if p.get("success", True) else TaskStatus.FAILED
        else:
            status = TaskStatus(str(p.get("new_status", TaskStatus.RUNNING.value)))
        self._change(self.new_tasks, self.task_updates, str(p.get("task_id", "")), event)(
            status=status.value, updated_at=event.at
        )

    def _question_asked(self, event: FoldEvent) -> None:
        p = event.payload
        question_id = str(p.get("question_id", ""))
        self.new_questions[question_id] = {
            "id": question_id,
            "contract_id": event.contract_id,
            "phase": str(p.get("phase", "")),
            "question": str(p.get("question", "")),
            "question_type": str(p.get("question_type", "free_text")),
            "choices": list(p.get("choices") or []),
            "status": QuestionStatus.PENDING.value,
            "answer": None,
            "asked_at": event.at,
            "answered_at": None,
            "answered_by": None,
        }

    def _question_answered(self, event: FoldEvent) -> None:
        answer = event.payload.get("answer")
        self._question(event)(
            status=QuestionStatus.ANSWERED.value,
            answer=None if answer is None else str(answer),
            answered_at=event.at,
            answered_by=event.actor.owner,
        )

    def _question_timed_out(self, event: FoldEvent) -> None:
        self._question(event)(
            status=QuestionStatus.TIMED_OUT.value, answer=None, answered_at=None, answered_by=None
        )

    def _question(self, event: FoldEvent) -> Any:
        question_id = str(event.payload.get("question_id", ""))
        return self._change(self.new_questions, self.question_updates, question_id, event)

    @staticmethod
    def _change(
        created: dict[str, dict[str, Any]],
        updates: dict[str, dict[str, Any]],
        key: str,
        event: FoldEvent,
    ) -> Any:
        def put(**values: Any) -> None:
            if key in created:
                created[key].update(values)
            else:
                updates.setdefault(key, {"_id": key, "contract_id": event.contract_id})
                updates[key].update(values)

        return put


_FOLDERS = {
    E.TASK_CREATED: HistoryFold._task_created,
    E.TASK_UPDATED: HistoryFold._task_moved,
    E.TASK_COMPLETED: HistoryFold._task_moved,
    E.TASK_RETRIED: HistoryFold._task_moved,
    E.QUESTION_ASKED: HistoryFold._question_asked,
    E.QUESTION_ANSWERED: HistoryFold._question_answered,
    E.QUESTION_TIMED_OUT: HistoryFold._question_timed_out,
}


def write_rows(conn: Connection, fold: HistoryFold, *, present: set[str]) -> None:
    """Write the fold's rows, only for contracts in `present`, inserts before updates."""
    new_tasks = [r for r in fold.new_tasks.values() if r["contract_id"] in present]
    if new_tasks:
        conn.execute(sqlite_insert(tasks).on_conflict_do_nothing(index_elements=["id"]), new_tasks)
    new_questions = [r for r in fold.new_questions.values() if r["contract_id"] in present]
    if new_questions:
        insert = sqlite_insert(questions).on_conflict_do_nothing(index_elements=["id"])
        conn.execute(insert, new_questions)
    task_updates = [_without_contract(r) for r in fold.task_updates.values()]
    if task_updates:
        conn.execute(_TASK_STATUS, task_updates)
    question_updates = [_question_update(r) for r in fold.question_updates.values()]
    if question_updates:
        conn.execute(_QUESTION_CHANGE, question_updates)


def _without_contract(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "contract_id"}


def _question_update(row: dict[str, Any]) -> dict[str, Any]:
    params = {"answer": None, "answered_at": None, "answered_by": None}
    params.update(_without_contract(row))
    return params
