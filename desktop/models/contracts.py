"""The contracts table: every contract of the replica, filtered and sorted in a proxy.

`ContractsModel` holds one row per contract in arrival order and never resets after the
first load: `apply(updated, removed)` (one call per bridge tick) turns a batch of changed
contracts into `dataChanged` for contiguous runs of existing rows, one `rowsInserted` for
the new ones appended at the end, and `rowsRemoved` per removed run. The proxy
(`ContractsFilter`) filters and sorts on plain values read through `SORT_ROLE` / `ROW_ROLE`,
so it never formats text to compare.

Sorting 10,000 rows goes through `data()` once per row; keep `data()` cheap (no strings
built for SORT_ROLE, no lookups beyond a list index).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from core.attention import waiting_on_reviewer
from core.clock import Clock, SystemClock, utc
from core.model import Contract
from core.status import ContractStatus
from core.timing import age, stale_duration
from desktop.models.rows import ROW_ROLE, SORT_ROLE, Index
from desktop.times import age_text, duration_text, local_text

COLUMNS = (
    "Name",
    "Status",
    "Phase",
    "Waiting for",
    "Last activity",
    "Type",
    "Version",
    "Quiet for",
)
NAME, STATUS, PHASE, WAITING, ACTIVITY, TYPE, VERSION, QUIET = range(len(COLUMNS))
BULK = 500  # more new rows than this at once: one relayout instead of row inserts
FEW_MOVES = 8  # more moved rows than this in one batch: one relayout instead of row moves

STATUS_COLOURS = {
    ContractStatus.CREATED: "#7f8c8d",
    ContractStatus.ACTIVE: "#2e86de",
    ContractStatus.WAITING_FOR_INPUT: "#e67e22",
    ContractStatus.PAUSED: "#8e44ad",
    ContractStatus.BLOCKED: "#c0392b",
    ContractStatus.COMPLETING: "#16a085",
    ContractStatus.COMPLETED: "#27ae60",
    ContractStatus.FAILED: "#e74c3c",
    ContractStatus.ARCHIVED: "#95a5a6",
}


def status_label(status: ContractStatus) -> str:
    return status.value.replace("_", " ")


class ContractsModel(QAbstractTableModel):
    """Every contract, kept sorted by the current sort column (ties by id).

    Rows live in ascending key order in `_rows` / `_keys` (parallel lists), so finding a
    contract, or the place a changed one moves to, is a bisect; a descending view just
    reads the lists from the end. A changed contract that keeps its place is one
    `dataChanged`; one that moves is one row move, so the view never holds the table
    without it and a selection travels with it. Behind a filtering proxy (`row_moves`) a
    move is a removal and an insertion instead: Qt's proxy turns a row move into a full
    relayout that re-filters all 10,000 rows; the page keeps the selection itself there.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Contract] = []
        self._keys: list[tuple[Any, str]] = []
        self._key_of: dict[str, tuple[Any, str]] = {}
        self._column = ACTIVITY
        self._descending = True
        # Behind a filtering proxy a relayout makes the proxy re-filter every row (a Python
        # call each); row moves cost it one call per moved row and the view sees only the
        # rows the filter keeps. The page sets this while its proxy is attached.
        self.row_moves = False
        self._colours = {s: QColor(c) for s, c in STATUS_COLOURS.items()}
        self.badges: dict[str, str] = {}  # contract id → its queued actions ("[pause queued]")
        self.clock: Clock = SystemClock()  # ages ("quiet for", last activity) need a now

    # --- the model API -------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():
            return None  # the view asks for a dozen roles per cell: answer the rest fast
        contract = self.contract_at(index.row())
        if contract is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == NAME and contract.id in self.badges:
                return f"{self.badges[contract.id]} {contract.name}"  # first: never cut off
            return self._text(contract, index.column())
        if role == SORT_ROLE:
            return _sort_key(contract, index.column())
        if role == ROW_ROLE:
            return contract
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == STATUS:
            return self._colours.get(contract.status)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == QUIET:
            quiet = self._text(contract, QUIET)
            return f"{quiet} quiet (last activity {local_text(contract.last_activity_at)})"
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(contract, index.column())
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{COLUMNS[index.column()]}: {index.data()}"
        return None

    def set_badges(self, badges: dict[str, str]) -> None:
        """The rows whose queued actions changed are redrawn (their Name cell)."""
        changed = {
            i for i in badges.keys() | self.badges.keys() if badges.get(i) != self.badges.get(i)
        }
        self.badges = dict(badges)
        for contract_id in changed:
            row = self.row_of(contract_id)
            if row is not None:
                self.dataChanged.emit(self.index(row, NAME), self.index(row, NAME))

    def _text(self, contract: Contract, column: int) -> str:
        if column == QUIET:
            return quiet_text(contract, self.clock.now())
        if column == ACTIVITY:
            return age_text(contract.last_activity_at, self.clock.now())
        return _display(contract, column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        self.layoutAboutToBeChanged.emit()
        before = [(i, self.contract_at(i.row())) for i in self.persistentIndexList()]
        self._column = column
        self._descending = order == Qt.SortOrder.DescendingOrder
        keyed = sorted((self._key(c), c) for c in self._rows)
        self._keys = [k for k, _ in keyed]
        self._rows = [c for _, c in keyed]
        self._key_of = {c.id: k for k, c in keyed}
        self._repoint(before)
        self.layoutChanged.emit()

    @property
    def sort_column(self) -> int:
        return self._column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self._descending else Qt.SortOrder.AscendingOrder

    # --- where rows are ------------------------------------------------------------------

    def _key(self, contract: Contract) -> tuple[Any, str]:
        return (_sort_key(contract, self._column), contract.id)

    def _view_row(self, slot: int) -> int:
        return len(self._rows) - 1 - slot if self._descending else slot

    def contract_at(self, row: int) -> Contract | None:
        if not 0 <= row < len(self._rows):
            return None
        return self._rows[len(self._rows) - 1 - row if self._descending else row]

    def _slot(self, contract_id: str) -> int | None:
        key = self._key_of.get(contract_id)
        return None if key is None else bisect_left(self._keys, key)

    def row_of(self, contract_id: str) -> int | None:
        slot = self._slot(contract_id)
        return None if slot is None else self._view_row(slot)

    def contracts(self) -> list[Contract]:
        return list(self._rows)

    # --- adapting changes ----------------------------------------------------------------

    def apply(self, updated: Iterable[Contract], removed: Iterable[str] = ()) -> None:
        """One batch of changes: in place where the order holds, moved where it does not,
        new ones inserted at their place, gone ones removed.

        Moves are row removals and insertions when few; a tick with many (sorted by
        activity, every event moves its row to the top) is one layout change instead —
        per-row signals cost the view far more than one relayout of the visible rows.
        """
        changed: list[int] = []
        moving: list[Contract] = []
        fresh: dict[str, Contract] = {}
        for contract in updated:
            slot = self._slot(contract.id)
            if slot is None:
                fresh[contract.id] = contract
            elif self._rows[slot] == contract:
                continue
            elif self._fits(slot, contract):
                self._set(slot, contract)
                changed.append(self._view_row(slot))
            else:
                moving.append(contract)
        for first, last in _runs(sorted(set(changed))):
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        self._move(moving)
        for gone in removed:
            slot = self._slot(gone)
            if slot is not None:
                self._remove_slot(slot)
        if fresh:
            self._add(list(fresh.values()))

    def _fits(self, slot: int, contract: Contract) -> bool:
        key, keys = self._key(contract), self._keys
        return (slot == 0 or keys[slot - 1] < key) and (
            slot == len(keys) - 1 or key < keys[slot + 1]
        )

    def _set(self, slot: int, contract: Contract) -> None:
        key = self._key(contract)
        self._rows[slot] = contract
        self._keys[slot] = key
        self._key_of[contract.id] = key

    def _move(self, contracts: list[Contract]) -> None:
        if self.row_moves:  # a filtering proxy: removal and insertion (see `row_moves`)
            for contract in contracts:
                slot = self._slot(contract.id)
                if slot is not None:
                    self._remove_slot(slot)
                self._insert(contract, self._key(contract))
            return
        if len(contracts) <= FEW_MOVES:
            for contract in contracts:
                self._move_row(contract)
            return
        self.layoutAboutToBeChanged.emit()
        before = [(i, self.contract_at(i.row())) for i in self.persistentIndexList()]
        for contract in contracts:
            slot = self._slot(contract.id)
            if slot is not None:
                del self._rows[slot]
                del self._keys[slot]
            key = self._key(contract)
            at = bisect_left(self._keys, key)
            self._rows.insert(at, contract)
            self._keys.insert(at, key)
            self._key_of[contract.id] = key
        self._repoint(before)
        self.layoutChanged.emit()

    def _move_row(self, contract: Contract) -> None:
        """One changed contract to its new place as one row move.

        Never a removal and an insertion here: between the two the view holds a table
        with the contract missing (a repaint then shows a neighbour twice and the moved
        row nowhere), and the selection model drops a removed row, so the reviewer's
        selection would jump to the neighbour. A move keeps both: the view relays out
        once, and the selection (a persistent index) travels with the row."""
        slot = self._slot(contract.id)
        if slot is None:
            return
        key, last = self._key(contract), len(self._rows) - 1
        at = bisect_left(self._keys, key)
        at = at - 1 if at > slot else at  # its place once it has left `slot`
        old_row = self._view_row(slot)
        new_row = last - at if self._descending else at
        if new_row != old_row:
            below = new_row + 1 if new_row > old_row else new_row  # Qt counts before the move
            self.beginMoveRows(QModelIndex(), old_row, old_row, QModelIndex(), below)
        del self._rows[slot]
        del self._keys[slot]
        self._rows.insert(at, contract)
        self._keys.insert(at, key)
        self._key_of[contract.id] = key
        if new_row != old_row:
            self.endMoveRows()
        self.dataChanged.emit(self.index(new_row, 0), self.index(new_row, len(COLUMNS) - 1))

    def _repoint(self, before: list[tuple[QModelIndex, Contract | None]]) -> None:
        for old, contract in before:
            row = self.row_of(contract.id) if contract is not None else None
            new = self.index(row, old.column()) if row is not None else QModelIndex()
            self.changePersistentIndex(old, new)

    def _remove_slot(self, slot: int) -> None:
        row = self._view_row(slot)
        self.beginRemoveRows(QModelIndex(), row, row)
        contract = self._rows.pop(slot)
        del self._keys[slot]
        self._key_of.pop(contract.id, None)
        self.endRemoveRows()

    def _insert(self, contract: Contract, key: tuple[Any, str]) -> None:
        slot = bisect_left(self._keys, key)
        row = len(self._rows) - slot if self._descending else slot
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(slot, contract)
        self._keys.insert(slot, key)
        self._key_of[contract.id] = key
        self.endInsertRows()

    def _add(self, contracts: Sequence[Contract]) -> None:
        if self._rows and len(contracts) <= BULK:
            for contract in contracts:
                self._insert(contract, self._key(contract))
            return
        if self._rows:  # a bulk arrival into a filled table: one relayout
            self.layoutAboutToBeChanged.emit()
            self._merge(contracts)
            self.layoutChanged.emit()
            return
        self.beginInsertRows(QModelIndex(), 0, len(contracts) - 1)
        self._merge(contracts)
        self.endInsertRows()

    def _merge(self, contracts: Sequence[Contract]) -> None:
        before = [(i, self.contract_at(i.row())) for i in self.persistentIndexList()]
        keyed = sorted(
            [*zip(self._keys, self._rows, strict=True)] + [(self._key(c), c) for c in contracts]
        )
        self._keys = [k for k, _ in keyed]
        self._rows = [c for _, c in keyed]
        self._key_of = {c.id: k for k, c in keyed}
        self._repoint(before)


_ROLES = frozenset(
    {
        int(Qt.ItemDataRole.DisplayRole),
        SORT_ROLE,
        ROW_ROLE,
        int(Qt.ItemDataRole.ForegroundRole),
        int(Qt.ItemDataRole.ToolTipRole),
        int(Qt.ItemDataRole.AccessibleTextRole),
    }
)


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as contiguous (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def _tooltip(contract: Contract, column: int) -> str:
    """The whole of a cell that may be cut off (the activity cell: its full local time)."""
    if column == NAME and contract.description:
        return f"{contract.name}\n{contract.description}"
    return _display(contract, column)


def _display(contract: Contract, column: int) -> str:
    if column == NAME:
        return contract.name
    if column == STATUS:
        return status_label(contract.status)
    if column == PHASE:
        return contract.phase
    if column == WAITING:
        return contract.waiting_for.value.replace("_", " ") if contract.waiting_for else ""
    if column == ACTIVITY:
        return local_text(contract.last_activity_at)
    if column == TYPE:
        return contract.contract_type.value
    return str(contract.version)


def quiet_text(contract: Contract, now: datetime) -> str:
    """How long the contract has shown no activity, for humans ("12 min")."""
    return duration_text(int(age(contract.last_activity_at, now).total_seconds()))


def _sort_key(contract: Contract, column: int) -> Any:
    if column == NAME:
        return contract.name.casefold()
    if column == ACTIVITY:
        return utc(contract.last_activity_at).timestamp()
    if column == QUIET:  # the longer quiet, the earlier the last activity: no clock needed
        return -utc(contract.last_activity_at).timestamp()
    if column == VERSION:
        return contract.version
    return _display(contract, column)


class ContractsFilter(QSortFilterProxyModel):
    """Filters: statuses, phase, stale only, waiting only, text (name, description, id)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(True)  # re-filter changed rows; sorting is the source's
        self._statuses: frozenset[ContractStatus] = frozenset()
        self._phase = ""
        self._text = ""
        self._waiting = False
        self._stale: tuple[datetime, timedelta] | None = None

    def set_statuses(self, statuses: Iterable[ContractStatus]) -> None:
        with self._changing_filter():
            self._statuses = frozenset(statuses)

    def set_phase(self, phase: str) -> None:
        with self._changing_filter():
            self._phase = phase

    def set_text(self, text: str) -> None:
        with self._changing_filter():
            self._text = text.strip().casefold()

    def set_waiting_only(self, on: bool) -> None:
        with self._changing_filter():
            self._waiting = on

    def set_stale_only(self, now: datetime | None, threshold: timedelta) -> None:
        """`now` None turns the filter off; otherwise stale at `now` by `threshold`."""
        with self._changing_filter():
            self._stale = None if now is None else (now, threshold)

    @contextmanager
    def _changing_filter(self) -> Iterator[None]:
        """Qt 6.10 deprecates invalidateFilter() for begin/endFilterChange(); the project
        allows PySide6 from 6.8, so use whichever this build has."""
        begin = getattr(self, "beginFilterChange", None)
        if begin is None:
            yield
            self.invalidateFilter()
            return
        begin()
        yield
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    @property
    def active(self) -> bool:
        return bool(self._statuses or self._phase or self._text or self._waiting or self._stale)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if not isinstance(model, ContractsModel):
            return True
        contract = model.contract_at(source_row)
        return contract is not None and self.accepts(contract)

    def accepts(self, contract: Contract) -> bool:
        return not self.hiding(contract)

    def hiding(self, contract: Contract) -> list[str]:
        """The filters that hide `contract`: "status", "phase", "waiting only",
        "stale only", "search" (none: it is shown)."""
        found = []
        if self._statuses and contract.status not in self._statuses:
            found.append("status")
        if self._phase and contract.phase != self._phase:
            found.append("phase")
        if self._waiting and waiting_on_reviewer(contract) is None:
            found.append("waiting only")
        if self._stale is not None:
            now, threshold = self._stale
            if stale_duration(contract, now, threshold) is None:
                found.append("stale only")
        if self._text:
            haystack = f"{contract.name}\n{contract.description or ''}\n{contract.id}"
            if self._text not in haystack.casefold():
                found.append("search")
        return found

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting happens in the source model (see ContractsModel); the proxy keeps the
        source's order, so a moved row costs one filter call, not a re-sort."""
        model = self.sourceModel()
        if isinstance(model, ContractsModel):
            model.sort(column, order)

    def contract_at(self, proxy_row: int) -> Contract | None:
        found = self.index(proxy_row, 0).data(ROW_ROLE)
        return found if isinstance(found, Contract) else None
