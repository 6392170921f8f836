"""The pending questions as a table: contract, question, kind, when asked.

`set_questions` adapts a new list to the rows already shown: questions that are gone (answered
elsewhere, timed out) are removed, changed ones emit `dataChanged`, new ones are inserted at
the end — never a reset, so a selection and the answer being typed survive a refresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from core.model import Question, QuestionType
from desktop.times import age_text, local_text

QUESTION_ROLE = Qt.ItemDataRole.UserRole + 1  # the Question itself
HEADERS = ("Contract", "Question", "Kind", "Asked")
ASKED = 3
KIND_TEXT = {
    QuestionType.FREE_TEXT: "free text",
    QuestionType.CHOICE: "choice",
    QuestionType.CONFIRMATION: "yes / no",
}

_Index = QModelIndex | QPersistentModelIndex


class QuestionsModel(QAbstractTableModel):
    """Rows of pending questions, oldest first as given."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Question] = []
        self._names: dict[str, str] = {}

    # --- reading -------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation is Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(HEADERS):
            return HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        question = self._rows[index.row()]
        if role == QUESTION_ROLE:
            return question
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == ASKED:
            return local_text(question.asked_at)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._text(question, index.column())
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{self.contract_name(question)}: {question.question}"
        return None

    def _text(self, question: Question, column: int) -> str | None:
        if column == 0:
            return self.contract_name(question)
        if column == 1:
            return question.question
        if column == 2:
            return KIND_TEXT[question.question_type]
        if column == ASKED:
            return age_text(question.asked_at)
        return None

    def contract_name(self, question: Question) -> str:
        return self._names.get(question.contract_id, question.contract_id)

    def question_at(self, row: int) -> Question | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, question_id: str) -> int:
        for row, question in enumerate(self._rows):
            if question.id == question_id:
                return row
        return -1

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(self._rows)

    # --- changing ------------------------------------------------------------------------

    def set_questions(
        self, questions: Sequence[Question], names: Mapping[str, str] | None = None
    ) -> None:
        """Show `questions` (pending ones only), touching only the rows that differ."""
        wanted = [q for q in questions if q.is_pending]
        renamed = names is not None and dict(names) != self._names
        if names is not None:
            self._names = dict(names)
        by_id = {q.id: q for q in wanted}
        self._remove_gone(set(by_id))
        for row, shown in enumerate(self._rows):
            fresh = by_id[shown.id]
            if fresh != shown or renamed:
                self._rows[row] = fresh
                last = self.index(row, len(HEADERS) - 1)
                self.dataChanged.emit(self.index(row, 0), last)
        known = {q.id for q in self._rows}
        new = [q for q in wanted if q.id not in known]
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()

    def _remove_gone(self, keep: set[str]) -> None:
        # Bottom up, one contiguous block at a time, so row numbers stay right.
        row = len(self._rows) - 1
        while row >= 0:
            if self._rows[row].id in keep:
                row -= 1
                continue
            last = row
            while row - 1 >= 0 and self._rows[row - 1].id not in keep:
                row -= 1
            self.beginRemoveRows(QModelIndex(), row, last)
            del self._rows[row : last + 1]
            self.endRemoveRows()
            row -= 1
