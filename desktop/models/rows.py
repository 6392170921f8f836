"""A small table model over a list of plain rows, described by columns.

For the short lists of the GUI (a contract's history, tasks, the outbox, the dashboard's
rows). `set_rows` replaces the list with the fewest signals it can: rows added at the end
or at the top are inserted, an unchanged list emits nothing, anything else is one reset — fine for
lists of tens or hundreds of rows, never used for the contracts table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

T = TypeVar("T")
Index = QModelIndex | QPersistentModelIndex
ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 1  # the row object itself
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 2  # a value that sorts the column


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    title: str
    text: Callable[[T], str]
    sort: Callable[[T], Any] | None = None
    tooltip: Callable[[T], str] | None = None


class RowsModel(QAbstractTableModel, Generic[T]):
    def __init__(self, columns: Sequence[Column[T]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[T] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.ToolTipRole:  # a cut-off cell can always be read whole
            return column.tooltip(row) if column.tooltip is not None else column.text(row)
        if role == ROW_ROLE:
            return row
        if role == SORT_ROLE:
            return column.sort(row) if column.sort is not None else column.text(row)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            return self.columns[section].title
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self.rows):
            return str(section + 1)
        return None

    def row_at(self, row: int) -> T | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def set_rows(self, rows: Sequence[T]) -> None:
        new = list(rows)
        old = self.rows
        if new == old:
            return
        if old and len(new) > len(old) and new[: len(old)] == old:
            self.beginInsertRows(QModelIndex(), len(old), len(new) - 1)
            self.rows = new
            self.endInsertRows()
            return
        if old and len(new) > len(old) and new[len(new) - len(old) :] == old:
            # newest first: what happened since is inserted at the top, the rest stays
            self.beginInsertRows(QModelIndex(), 0, len(new) - len(old) - 1)
            self.rows = new
            self.endInsertRows()
            return
        if len(new) == len(old) and old:
            self.rows = new
            changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
            last = self.columnCount() - 1
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], last))
            return
        self.beginResetModel()
        self.rows = new
        self.endResetModel()
