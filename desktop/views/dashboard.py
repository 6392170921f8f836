"""The dashboard page: status and phase charts, what waits on you, what is stale, recent events.

"Waiting on you" and "Stale" are core's two lists (core.attention, core.timing), never
mixed: a contract waiting for the reviewer is not stale, whatever its age.

`DashboardPage.show_data(data)` shows one `DashboardData`; `refresh()` asks the bridge for
a new one (from the replica, so it works offline). Refreshes are throttled: changes mark
the page dirty and one refresh runs at most every `REFRESH_MS`; a slower timer refreshes
anyway, since staleness grows with time alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.dashboard import Dashboard
from core.status import ContractStatus
from desktop.bridge import SyncBridge
from desktop.models.contracts import STATUS_COLOURS, status_label
from desktop.models.dashboard import (
    EventRow,
    RecentEventsModel,
    StaleModel,
    StaleRow,
    WaitingModel,
    WaitingRow,
    stale_rows,
)
from desktop.models.rows import ROW_ROLE
from desktop.times import duration_text
from desktop.views.charts import Bar, BarChart

WAITING_TITLE = "Waiting on you"
REFRESH_MS = 2_000
TICK_MS = 15_000
PHASE_COLOUR = "#5f27cd"


@dataclass(frozen=True, slots=True)
class DashboardData:
    dashboard: Dashboard
    stale: tuple[StaleRow, ...]
    now: datetime


def make_table(model: QAbstractItemModel, name: str, accessible: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setAccessibleName(accessible)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setDefaultSectionSize(24)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setDefaultSectionSize(150)
    view.setTabKeyNavigation(False)
    return view


class DashboardPage(QWidget):
    contractActivated = Signal(str)  # a row was opened (Enter / double click)

    def __init__(self, bridge: SyncBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dashboardPage")
        self.setAccessibleName("Dashboard")
        self.bridge = bridge
        self.data: DashboardData | None = None
        self._dirty = False
        self._loading = False
        self.status_chart = BarChart("Contracts by status")
        self.status_chart.setObjectName("statusChart")
        self.phase_chart = BarChart("Open contracts by phase")
        self.phase_chart.setObjectName("phaseChart")
        self.usage = QLabel("Resource usage: —")
        self.usage.setObjectName("resourceUsage")
        self.usage.setAccessibleName("Resource usage")
        self.waiting_model = WaitingModel(self)
        self.stale_model = StaleModel(self)
        self.events_model = RecentEventsModel(self)
        self.waiting_view = make_table(self.waiting_model, "waitingTable", WAITING_TITLE)
        self.stale_view = make_table(self.stale_model, "staleTable", "Stale contracts")
        self.waiting_box = _boxed(WAITING_TITLE, self.waiting_view)
        self.waiting_box.setObjectName("waitingBox")
        self.stale_box = _boxed("Stale", self.stale_view)
        self.stale_box.setObjectName("staleBox")
        self.events_view = make_table(self.events_model, "recentEvents", "Recent events")
        self._layout()
        for view in (self.waiting_view, self.stale_view):
            view.activated.connect(self._activated)
            view.doubleClicked.connect(self._activated)
        self._throttle = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._throttle.timeout.connect(self.refresh)
        self._ticker = QTimer(self, interval=TICK_MS)
        self._ticker.timeout.connect(self.refresh)
        bridge.contractsChanged.connect(self.mark_dirty)
        bridge.contractsLoaded.connect(self.refresh)

    def _layout(self) -> None:
        grid = QGridLayout(self)
        grid.addWidget(self.status_chart, 0, 0)
        grid.addWidget(self.phase_chart, 0, 1)
        grid.addWidget(self.usage, 1, 0, 1, 2)
        grid.addWidget(self.waiting_box, 2, 0)
        grid.addWidget(self.stale_box, 2, 1)
        grid.addWidget(_boxed("Recent events", self.events_view), 3, 0, 1, 2)
        grid.setRowStretch(2, 2)
        grid.setRowStretch(3, 1)
        self.setTabOrder(self.waiting_view, self.stale_view)
        self.setTabOrder(self.stale_view, self.events_view)

    # --- life ----------------------------------------------------------------------------

    def start(self) -> None:
        self._ticker.start()
        self.refresh()

    def stop(self) -> None:
        self._ticker.stop()
        self._throttle.stop()

    def mark_dirty(self, _: list[str] | None = None) -> None:
        self._dirty = True
        if not self._throttle.isActive():
            self._throttle.start()

    def refresh(self) -> None:
        if self._loading:
            self.mark_dirty()
            return
        self._loading = True
        self._dirty = False
        self.bridge.runner.spawn(self._load(), self._load_failed)

    def _load_failed(self, error: BaseException) -> None:
        self._loading = False
        self.bridge.operationFailed.emit("Dashboard", str(error))

    async def _load(self) -> None:
        try:
            dashboard = await self.bridge.dashboard()
            ids = [s.id for s in dashboard.stale_contracts[:100]]
            liveness = await self.bridge.liveness(ids)
        finally:
            self._loading = False
        now = self.bridge.now()
        rows = stale_rows(dashboard.stale_contracts, liveness, now=now)
        self.show_data(DashboardData(dashboard, tuple(rows), now))

    # --- showing -------------------------------------------------------------------------

    def show_data(self, data: DashboardData) -> None:
        self.data = data
        board = data.dashboard
        self.status_chart.set_bars(
            [
                Bar(status_label(s), board.status_counts.get(s, 0), STATUS_COLOURS[s])
                for s in ContractStatus
            ]
        )
        phases = sorted(board.phase_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        self.phase_chart.set_bars([Bar(p, n, PHASE_COLOUR) for p, n in phases])
        u = board.resource_usage
        self.usage.setText(
            f"Resource usage — supervisors alive: {u.active_supervisors} · running tasks: "
            f"{u.running_tasks} · pending tasks: {u.pending_tasks} · daemons: "
            f"{u.active_daemons} · worktrees: {u.total_worktrees}"
        )
        self.waiting_model.set_rows([WaitingRow(w, data.now) for w in board.waiting_for_input])
        self.stale_model.set_rows(list(data.stale))
        minutes = duration_text(int(self.bridge.config.stale_threshold.total_seconds()))
        self.stale_box.setTitle(f"Stale: active, no activity for over {minutes}")
        names = self.bridge.contracts
        self.events_model.set_rows(
            [
                EventRow(e, names[e.contract_id].name if e.contract_id in names else "")
                for e in board.recent_events
            ]
        )

    def _activated(self, index: QModelIndex) -> None:
        row = index.data(ROW_ROLE)
        if isinstance(row, WaitingRow):
            self.contractActivated.emit(row.info.id)
        elif isinstance(row, StaleRow):
            self.contractActivated.emit(row.contract_id)


def _boxed(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.addWidget(widget)
    layout.setContentsMargins(4, 4, 4, 4)
    return box
