"""Models of one contract's detail: the history timeline, tasks and questions."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QObject

from core.clock import utc
from core.events import LoggedEvent
from core.model import Question, Task
from core.projection import describe
from desktop.models.rows import Column, RowsModel


def event_summary(event: LoggedEvent) -> str:
    """What happened, in words: the sentence core gives every reader of the log."""
    return describe(event.type, event.payload)


def when_text(when: datetime | None) -> str:
    """A time as the reviewer reads it: local, to the second."""
    return "" if when is None else utc(when).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def event_comment(event: LoggedEvent) -> str:
    """The human words attached to the event: comment, feedback or reason."""
    for key in ("comment", "feedback", "reason"):
        value = event.payload.get(key)
        if value:
            return str(value)
    return ""


def event_actor(event: LoggedEvent) -> str:
    actor = event.actor
    return actor.owner if actor.role.value == "system" else f"{actor.owner} ({actor.role.value})"


HISTORY_COLUMNS: list[Column[LoggedEvent]] = [
    Column("When", lambda e: when_text(e.at), sort=lambda e: e.seq or 0),
    Column("Who", event_actor),
    Column("What", event_summary, tooltip=event_summary),
    Column("Comment", event_comment, tooltip=event_comment),
]


class HistoryModel(RowsModel[LoggedEvent]):
    """The contract's full event log, oldest first (appends are inserts)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(HISTORY_COLUMNS, parent)


TASK_COLUMNS: list[Column[Task]] = [
    Column("Task", lambda t: t.name + (" (supervisor)" if t.is_supervisor else "")),
    Column("Status", lambda t: t.status.value),
    Column("Updated", lambda t: when_text(t.updated_at)),
]


class TasksModel(RowsModel[Task]):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(TASK_COLUMNS, parent)


QUESTION_COLUMNS: list[Column[Question]] = [
    Column("Asked", lambda q: when_text(q.asked_at)),
    Column("Phase", lambda q: q.phase),
    Column("Question", lambda q: q.question, tooltip=lambda q: q.question),
    Column("Type", lambda q: q.question_type.value.replace("_", " ")),
    Column("Choices", lambda q: ", ".join(q.choices)),
]


class QuestionsModel(RowsModel[Question]):
    """Pending questions (read-only here: answering is the questions panel's job)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(QUESTION_COLUMNS, parent)
