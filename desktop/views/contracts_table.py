"""The contracts page: filter bar over a sortable table of every contract.

The table (objectName `contractsTable`) shows `ContractsFilter` over `ContractsModel`; the
model is fed by the bridge's coalesced `contractsUpdated` / `contractsRemoved`. Rows have a
fixed height and columns fixed widths: `resizeToContents` would measure all 10,000 rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

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
    contractSelected = Signal(str)  # the current row changed
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
        self._current_id: str | None = None
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
        self.model.apply(contracts)
        self._learn_phases(contracts)
        self._keep_selection()

    def apply_removed(self, ids: list[str]) -> None:
        self.model.apply((), ids)
        self._keep_selection()

    def _keep_selection(self) -> None:
        """A changed row moves by removal and insertion: put the selection back on the
        contract the reviewer had selected, without announcing a new selection."""
        wanted = self._current_id
        if wanted is None:
            return
        current = self.current_contract()
        if current is not None and current.id == wanted:
            return
        self._restoring = True
        try:
            if not self.select(wanted, scroll=False):
                self._current_id = wanted  # filtered out for now; keep it for later
        finally:
            self._restoring = False

    def _learn_phases(self, contracts: list[Contract]) -> None:
        known = {self.phase_filter.itemData(i) for i in range(self.phase_filter.count())}
        for phase in sorted({c.phase for c in contracts} - known):
            self.phase_filter.addItem(phase, phase)

    # --- filters -------------------------------------------------------------------------

    def _filter(self, change: Callable[[], None]) -> None:
        """Apply a filter change; the proxy sits between table and model only while some
        filter is on. Unfiltered, the proxy would re-filter all rows on every relayout."""
        change()
        filtering = self.proxy.active
        if filtering == (self.table.model() is self.proxy):
            self._count_changed()
            return
        keep = self._current_id
        self._restoring = True
        try:
            self.model.row_moves = filtering
            if filtering:
                self.proxy.setSourceModel(self.model)
                self.table.setModel(self.proxy)
            else:
                self.table.setModel(self.model)
                self.proxy.setSourceModel(None)  # type: ignore[arg-type]
            self.table.selectionModel().selectionChanged.connect(self._selection_changed)
            if keep is not None:
                self.select(keep)
        finally:
            self._restoring = False
        self._count_changed()

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
        self.contractSelected.emit(contract.id)

    def _activated(self, index: QModelIndex) -> None:
        contract = self.contract_at(index.row())
        if contract is not None:
            self.contractActivated.emit(contract.id)
