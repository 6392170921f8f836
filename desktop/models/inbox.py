"""The inbox as a table: every item waiting on this reviewer, oldest first.

The items come from `core.inbox.inbox_items` (the one rule of what waits on a reviewer,
shared with the server's `GET /api/v1/inbox` and the CLI); this module only shows them.

`InboxModel.set_items(items)` adapts the rows already shown to a new list — gone items are
removed, changed ones emit `dataChanged`, new ones are inserted at their place — never a
reset, so the reviewer's selection (a persistent index) and whatever they type beside the
list survive every live update. `hidden` items (decided here, not yet gone from the feed)
stay out of the rows until the feed drops them or they are shown again (an undo).

`InboxFilter` is the `/` filter: a case-insensitive text over kind, contract and phase.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from core.clock import utc
from core.inbox import InboxItem, InboxKind
from desktop.models.rows import ROW_ROLE, Index
from desktop.times import age_text, local_text

COLUMNS = ("What", "Contract", "Phase", "Since", "Blocked by")
WHAT, CONTRACT, PHASE, SINCE, BLOCKED = range(len(COLUMNS))

KIND_TEXT = {
    InboxKind.PHASE_CONFIRMATION: "Confirm phase",
    InboxKind.QUESTION: "Question",
    InboxKind.COMPLETION_CONFIRMATION: "Confirm completion",
    InboxKind.PHASE_READY: "Phase ready",
    InboxKind.STALE: "Stale",
}
KIND_COLOURS = {
    InboxKind.PHASE_CONFIRMATION: "#2e86de",
    InboxKind.QUESTION: "#e67e22",
    InboxKind.COMPLETION_CONFIRMATION: "#16a085",
    InboxKind.PHASE_READY: "#8e44ad",
    InboxKind.STALE: "#c0392b",
}


def kind_text(kind: InboxKind) -> str:
    return KIND_TEXT.get(kind, kind.value.replace("_", " "))


def order_key(item: InboxItem) -> tuple[float, str]:
    """Oldest first; ties by the item's stable id, so the order never flickers."""
    return (utc(item.since).timestamp(), item.id)


class InboxModel(QAbstractTableModel):
    """Rows of inbox items in `order_key` order (`_keys` parallel to `_rows`)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[InboxItem] = []
        self._keys: list[tuple[float, str]] = []
        self._all: dict[str, InboxItem] = {}  # every item of the feed, hidden ones too
        self.hidden: set[str] = set()  # decided here: out of the list until the feed agrees
        self.now: Callable[[], datetime | None] = lambda: None  # None: the wall clock
        self._colours = {k: QColor(c) for k, c in KIND_COLOURS.items()}

    # --- the model API -------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation is Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        item = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(item, column)
        if role == ROW_ROLE:
            return item
        if role == Qt.ItemDataRole.ToolTipRole:
            return local_text(item.since) if column == SINCE else self._text(item, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == WHAT:
            return self._colours.get(item.kind)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return row_sentence(item, self.now())
        return None

    def _text(self, item: InboxItem, column: int) -> str:
        if column == WHAT:
            return kind_text(item.kind)
        if column == CONTRACT:
            return item.contract_name
        if column == PHASE:
            return item.phase
        if column == SINCE:
            return age_text(item.since, self.now())
        return item.blocked_by or ""

    # --- reading -------------------------------------------------------------------------

    def item_at(self, row: int) -> InboxItem | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, item_id: str) -> int | None:
        item = self._all.get(item_id)
        if item is None or item_id in self.hidden:
            return None
        row = bisect_left(self._keys, order_key(item))
        return row if row < len(self._rows) and self._rows[row].id == item_id else None

    def items(self) -> list[InboxItem]:
        """The items shown, oldest first."""
        return list(self._rows)

    def get(self, item_id: str) -> InboxItem | None:
        """An item of the feed, shown or hidden."""
        return self._all.get(item_id)

    # --- changing ------------------------------------------------------------------------

    def set_items(self, items: Iterable[InboxItem]) -> None:
        """The feed's items now: the rows change as little as they can."""
        self._all = {item.id: item for item in items}
        self.hidden &= set(self._all)  # the feed dropped them: nothing left to hide
        self._sync()

    def hide(self, item_id: str) -> None:
        self.hidden.add(item_id)
        self._sync()

    def unhide(self, item_id: str) -> None:
        self.hidden.discard(item_id)
        self._sync()

    def redraw_ages(self) -> None:
        if self._rows:
            last = len(self._rows) - 1
            self.dataChanged.emit(self.index(0, SINCE), self.index(last, SINCE))

    def _sync(self) -> None:
        wanted = {i: item for i, item in self._all.items() if i not in self.hidden}
        self._remove_where(lambda item: _moved(item, wanted.get(item.id)))
        for row, shown in enumerate(self._rows):
            fresh = wanted[shown.id]
            if fresh != shown:
                self._rows[row] = fresh
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        shown_ids = {item.id for item in self._rows}
        new = sorted((i for i in wanted.values() if i.id not in shown_ids), key=order_key)
        self._insert_all(new)

    def _remove_where(self, gone: Callable[[InboxItem], bool]) -> None:
        """Bottom up, one contiguous run at a time, so row numbers stay right."""
        row = len(self._rows) - 1
        while row >= 0:
            if not gone(self._rows[row]):
                row -= 1
                continue
            last = row
            while row - 1 >= 0 and gone(self._rows[row - 1]):
                row -= 1
            self.beginRemoveRows(QModelIndex(), row, last)
            del self._rows[row : last + 1]
            del self._keys[row : last + 1]
            self.endRemoveRows()
            row -= 1

    def _insert_all(self, new: Sequence[InboxItem]) -> None:
        """New items at their places; a run of them landing together is one insert."""
        at = 0
        while at < len(new):
            key = order_key(new[at])
            row = bisect_left(self._keys, key)
            end = at + 1
            # The following new items that land at the same row go in with it.
            bound = self._keys[row] if row < len(self._keys) else None
            while end < len(new) and (bound is None or order_key(new[end]) < bound):
                end += 1
            self.beginInsertRows(QModelIndex(), row, row + end - at - 1)
            self._rows[row:row] = new[at:end]
            self._keys[row:row] = [order_key(i) for i in new[at:end]]
            self.endInsertRows()
            at = end


def _moved(shown: InboxItem, fresh: InboxItem | None) -> bool:
    """The row must go: the item left the feed (or is hidden), or its place changed."""
    return fresh is None or order_key(fresh) != order_key(shown)


def row_sentence(item: InboxItem, now: datetime | None = None) -> str:
    """The row read aloud: "Confirm phase: Billing, plan, 12 min ago"."""
    text = (
        f"{kind_text(item.kind)}: {item.contract_name}, {item.phase}, {age_text(item.since, now)}"
    )
    return text + (f", blocked by {item.blocked_by}" if item.blocked_by else "")


class InboxFilter(QSortFilterProxyModel):
    """The `/` filter: rows whose kind, contract or phase contains the text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        wanted = text.strip().casefold()
        if wanted == self._text:
            return
        begin = getattr(self, "beginFilterChange", None)  # Qt 6.10 deprecates invalidateFilter
        if begin is not None:
            begin()
            self._text = wanted
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._text = wanted
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._text:
            return True
        model = self.sourceModel()
        item = model.item_at(source_row) if isinstance(model, InboxModel) else None
        if item is None:
            return True
        haystack = f"{kind_text(item.kind)}\n{item.contract_name}\n{item.phase}\n{item.kind.value}"
        return self._text in haystack.casefold()

    def item_at(self, row: int) -> InboxItem | None:
        found = self.index(row, 0).data(ROW_ROLE)
        return found if isinstance(found, InboxItem) else None

    def row_of(self, item_id: str) -> int | None:
        model = self.sourceModel()
        if not isinstance(model, InboxModel):
            return None
        source = model.row_of(item_id)
        if source is None:
            return None
        mapped = self.mapFromSource(model.index(source, 0))
        return mapped.row() if mapped.isValid() else None
