"""The contracts page: filter bar over a sortable table of every contract.

The table (objectName `contractsTable`) shows `ContractsFilter` over `ContractsModel`; the
model is fed by the bridge's coalesced `contractsUpdated` / `contractsRemoved`. Rows have a
fixed height and columns fixed widths: `resizeToContents` would measure all 10,000 rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.model import Contract
from core.status import ContractStatus
from desktop.bridge import SyncBridge
from desktop.models.contracts import (
    ACTIVITY,
    NAME,
    QUIET,
    ContractsFilter,
    ContractsModel,
    status_label,
)

SEARCH_DELAY_MS = 150
COLUMN_WIDTHS = (260, 120, 90, 130, 150, 100, 60, 90)


class ContractsPage(QWidget):
    """The table and its filters; `contractSelected` says which contract is selected.

    The selection belongs to the reviewer: a live update that moves, inserts or removes
    rows, a re-sort or a filter never moves it to another contract. When a filter or search
    hides the selected contract the page says so (`selectionHidden`) and the detail clears;
    when the filter shows it again it is selected again.
    """

    contractSelected = Signal(str)  # the reviewer selected a contract (or it is shown again)
    selectionHidden = Signal()  # the selected contract is hidden by a filter, or gone
    contractActivated = Signal(str)  # Enter or double click

    def __init__(self, bridge: SyncBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contractsPage")
        self.bridge = bridge
        self.model = ContractsModel(self)
        self.model.clock = bridge.clock
        self.proxy = ContractsFilter(self)
        self.table = self._make_table()
        self.search = QLineEdit(placeholderText="Search name, description or id (Ctrl+F)")
        self.search.setObjectName("contractSearch")
        self.search.setAccessibleName("Search contracts")
        self.search.setClearButtonEnabled(True)
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("statusFilter")
        self.status_filter.setAccessibleName("Filter by status")
        self.status_filter.addItem("All statuses", None)
        for status in ContractStatus:
            self.status_filter.addItem(status_label(status), status.value)
        self.phase_filter = QComboBox()
        self.phase_filter.setObjectName("phaseFilter")
        self.phase_filter.setAccessibleName("Filter by phase")
        self.phase_filter.addItem("All phases", "")
        self.stale_only = QCheckBox("&Stale only")
        self.stale_only.setObjectName("staleOnly")
        self.waiting_only = QCheckBox("&Waiting only")
        self.waiting_only.setObjectName("waitingOnly")
        self.count = QLabel("0 contracts")
        self.count.setObjectName("contractCount")
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._current_id: str | None = None  # the reviewer's selection, shown or not
        self._hidden = False  # the selected contract is filtered out (or gone) now
        self._restoring = False
        self._layout()
        self._connect()

    def _make_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("contractsTable")
        table.setAccessibleName("Contracts")
        table.setModel(self.model)
        table.setSortingEnabled(True)
        table.sortByColumn(ACTIVITY, Qt.SortOrder.DescendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setTabKeyNavigation(False)
        rows = table.verticalHeader()
        rows.setVisible(False)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(24)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        return table

    def _layout(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(self.status_filter, 1)
        bar.addWidget(self.phase_filter, 1)
        bar.addWidget(self.stale_only)
        bar.addWidget(self.waiting_only)
        bar.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        order = [self.search, self.status_filter, self.phase_filter, self.stale_only]
        order += [self.waiting_only, self.table]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

    def _connect(self) -> None:
        self.bridge.contractsUpdated.connect(self.apply_updates)
        self.bridge.contractsRemoved.connect(self.apply_removed)
        # ages ("3 min ago") grow with time alone: redraw them with the periodic stale scan
        self.bridge.staleScanned.connect(self.table.viewport().update)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self._search_timer.timeout.connect(
            lambda: self._filter(lambda: self.proxy.set_text(self.search.text()))
        )
        self.status_filter.currentIndexChanged.connect(self._status_changed)
        self.phase_filter.currentIndexChanged.connect(
            lambda _: self._filter(
                lambda: self.proxy.set_phase(str(self.phase_filter.currentData() or ""))
            )
        )
        self.stale_only.toggled.connect(self._stale_changed)
        self.bridge.staleScanned.connect(self._time_passed)
        self.waiting_only.toggled.connect(
            lambda on: self._filter(lambda: self.proxy.set_waiting_only(on))
        )
        for model in (self.model, self.proxy):
            model.rowsInserted.connect(self._count_changed)
            model.rowsRemoved.connect(self._count_changed)
            model.modelReset.connect(self._count_changed)
            model.layoutChanged.connect(self._count_changed)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.activated.connect(self._activated)

    # --- feeding -------------------------------------------------------------------------

    def apply_updates(self, contracts: list[Contract]) -> None:
        with self._holding_selection():
            self.model.apply(contracts)
        self._learn_phases(contracts)

    def apply_removed(self, ids: list[str]) -> None:
        with self._holding_selection():
            self.model.apply((), ids)

    @contextmanager
    def _holding_selection(self) -> Iterator[None]:
        """Around any change of rows: Qt moves the current index to a neighbour when the
        selected row is removed (a moved row is removed and inserted); that is not the
        reviewer's choice, so it is ignored and the selection put back afterwards."""
        if self._restoring:  # nested: the outer change puts it back
            yield
            return
        self._restoring = True
        try:
            yield
        finally:
            self._restoring = False
        self._keep_selection()

    def _keep_selection(self) -> None:
        """Put the selection back on the reviewer's contract, without announcing a new
        selection; if a filter hides it (or it is gone) clear the table's selection and
        say so once."""
        wanted = self._current_id
        if wanted is None:
            return
        current = self.current_contract()
        if current is not None and current.id == wanted and not self._hidden:
            return
        self._restoring = True
        try:
            shown = self.select(wanted, scroll=False)
            if not shown:
                self.table.selectionModel().clear()
        finally:
            self._restoring = False
        if shown and self._hidden:
            self._hidden = False
            self.contractSelected.emit(wanted)  # shown again: the detail follows
        elif not shown and not self._hidden:
            self._hidden = True
            self.selectionHidden.emit()

    def _learn_phases(self, contracts: list[Contract]) -> None:
        known = {self.phase_filter.itemData(i) for i in range(self.phase_filter.count())}
        for phase in sorted({c.phase for c in contracts} - known):
            self.phase_filter.addItem(phase, phase)

    # --- filters -------------------------------------------------------------------------

    def _filter(self, change: Callable[[], None]) -> None:
        """Apply a filter change; the proxy sits between table and model only while some
        filter is on. Unfiltered, the proxy would re-filter all rows on every relayout."""
        with self._holding_selection():
            change()
            filtering = self.proxy.active
            if filtering != (self.table.model() is self.proxy):
                self._attach_proxy(filtering)
        self._count_changed()
        if self._current_id is not None and not self._hidden:
            self.select(self._current_id)  # in view

    def _attach_proxy(self, filtering: bool) -> None:
        self.model.row_moves = filtering
        if filtering:
            self.proxy.setSourceModel(self.model)
            self.table.setModel(self.proxy)
        else:
            self.table.setModel(self.model)
            self.proxy.setSourceModel(None)  # type: ignore[arg-type]
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

    @property
    def filtering(self) -> bool:
        return self.table.model() is self.proxy

    def shown_count(self) -> int:
        return self.table.model().rowCount()

    def contract_at(self, row: int) -> Contract | None:
        """The contract on a row of the table as shown (filtered or not)."""
        return self.proxy.contract_at(row) if self.filtering else self.model.contract_at(row)

    def _status_changed(self, _: int) -> None:
        value = self.status_filter.currentData()
        self._filter(lambda: self.proxy.set_statuses([ContractStatus(value)] if value else []))

    def _stale_changed(self, on: bool) -> None:
        threshold = self.bridge.config.stale_threshold
        now = self.bridge.now() if on else None
        self._filter(lambda: self.proxy.set_stale_only(now, threshold))

    def _time_passed(self) -> None:
        """Staleness and "quiet for" grow with time alone: refresh both on each stale scan."""
        if self.stale_only.isChecked():
            self._stale_changed(True)
        rows = self.model.rowCount()
        if rows:
            self.model.dataChanged.emit(
                self.model.index(0, QUIET), self.model.index(rows - 1, QUIET)
            )

    def _count_changed(self, *_: object) -> None:
        shown, total = self.shown_count(), self.model.rowCount()
        text = f"{shown} of {total} contracts" if shown != total else f"{total} contracts"
        self.count.setText(text)

    def clear_filters_hiding(self, contract_id: str) -> list[str]:
        """Turn off every filter that hides `contract_id` (a notification asks to show it);
        returns what was turned off, e.g. ["search", "status"]."""
        row = self.model.row_of(contract_id)
        contract = None if row is None else self.model.contract_at(row)
        if contract is None:
            return []
        hiding = self.proxy.hiding(contract)
        controls: dict[str, Callable[[], None]] = {
            "search": self._clear_search,
            "status": lambda: self.status_filter.setCurrentIndex(0),
            "phase": lambda: self.phase_filter.setCurrentIndex(0),
            "waiting only": lambda: self.waiting_only.setChecked(False),
            "stale only": lambda: self.stale_only.setChecked(False),
        }
        for name in hiding:
            controls[name]()
        return hiding

    def _clear_search(self) -> None:
        self._search_timer.stop()
        self.search.clear()
        self._search_timer.stop()  # clearing typed text restarts the delay: apply it now
        self._filter(lambda: self.proxy.set_text(""))

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # --- selection -----------------------------------------------------------------------

    def current_contract(self) -> Contract | None:
        index = self.table.currentIndex()
        return self.contract_at(index.row()) if index.isValid() else None

    def select(self, contract_id: str, *, scroll: bool = True) -> bool:
        row = self.model.row_of(contract_id)
        if row is None:
            return False
        index = self.model.index(row, NAME)
        if self.filtering:
            index = self.proxy.mapFromSource(index)
        if not index.isValid():
            return False
        self.table.setCurrentIndex(index)
        if scroll:
            self.table.scrollTo(index)
        return True

    def _selection_changed(self, selected: QItemSelection, _: QItemSelection) -> None:
        contract = self.current_contract()
        if contract is None or self._restoring:
            return
        self._current_id = contract.id
        self._hidden = False
        self.contractSelected.emit(contract.id)

    @property
    def selected_id(self) -> str | None:
        """The reviewer's contract while it is shown (None while a filter hides it)."""
        return None if self._hidden else self._current_id

    def _activated(self, index: QModelIndex) -> None:
        contract = self.contract_at(index.row())
        if contract is not None:
            self.contractActivated.emit(contract.id)
