"""Models of one contract's detail: the history timeline, tasks and questions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from PySide6.QtCore import QObject

from core.clock import utc
from core.events import LoggedEvent
from core.model import Question, Task
from core.projection import describe
from desktop.models.rows import Column, RowsModel
from desktop.times import age_text, local_text

T = TypeVar("T")


def event_summary(event: LoggedEvent) -> str:
    """What happened, in words: the sentence core gives every reader of the log."""
    return describe(event.type, event.payload)


when_text = local_text  # the full local time (the dashboard's rows say it this way)


def event_comment(event: LoggedEvent) -> str:
    """The human words attached to the event: comment, feedback or reason."""
    for key in ("comment", "feedback", "reason"):
        value = event.payload.get(key)
        if value:
            return str(value)
    return ""


def event_actor(event: LoggedEvent) -> str:
    actor = event.actor
    return actor.name if actor.role.value == "system" else f"{actor.name} ({actor.role.value})"


def time_column(
    title: str, when: Callable[[T], datetime | None], sort: Callable[[T], Any] | None = None
) -> Column[T]:
    """A column of ages ("12 min ago") with the full local time as the tooltip."""
    return Column(
        title,
        lambda row: age_text(when(row)),
        sort=sort or (lambda row: _stamp(when(row))),
        tooltip=lambda row: local_text(when(row)),
    )


def _stamp(when: datetime | None) -> float:
    return 0.0 if when is None else utc(when).timestamp()


HISTORY_COLUMNS: list[Column[LoggedEvent]] = [
    time_column("When", lambda e: e.at, sort=lambda e: e.seq or 0),
    Column("Who", event_actor),
    Column("What", event_summary, tooltip=event_summary),
    Column("Comment", event_comment, tooltip=event_comment),
]


class HistoryModel(RowsModel[LoggedEvent]):
    """The contract's full event log, newest first like the dashboard (new events are
    inserted at the top); `newest_first = False` turns it oldest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(HISTORY_COLUMNS, parent)
        self.newest_first = True
        self._events: list[LoggedEvent] = []

    def set_events(self, events: list[LoggedEvent]) -> None:
        """The log in the order it happened; shown in the order chosen."""
        self._events = list(events)
        self.set_rows(self._events[::-1] if self.newest_first else self._events)

    def set_newest_first(self, on: bool) -> None:
        if on != self.newest_first:
            self.newest_first = on
            self.beginResetModel()  # a whole new order: one reset of a short list
            self.rows = self._events[::-1] if on else list(self._events)
            self.endResetModel()


TASK_COLUMNS: list[Column[Task]] = [
    Column("Task", lambda t: t.name + (" (supervisor)" if t.is_supervisor else "")),
    Column("Status", lambda t: t.status.value),
    time_column("Updated", lambda t: t.updated_at),
]


class TasksModel(RowsModel[Task]):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(TASK_COLUMNS, parent)


QUESTION_COLUMNS: list[Column[Question]] = [
    time_column("Asked", lambda q: q.asked_at),
    Column("Phase", lambda q: q.phase),
    Column("Question", lambda q: q.question, tooltip=lambda q: q.question),
    Column("Type", lambda q: q.question_type.value.replace("_", " ")),
    Column("Choices", lambda q: ", ".join(q.choices)),
]


class QuestionsModel(RowsModel[Question]):
    """Pending questions (read-only here: answering is the questions panel's job)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(QUESTION_COLUMNS, parent)
