"""The status bar: the connection (`connectionStatus`) and the outbox (`outboxView`).

The connection label says live, connecting, catching up, or offline since when. The outbox
button counts queued actions and those needing the reviewer; it toggles the outbox panel,
a table of every action taken with its outcome. Enter on an entry that needs the reviewer
(a conflict or a refusal) asks the main window to open it (`entryActivated`).
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QPushButton,
    QStatusBar,
    QTableView,
    QWidget,
)

from core.clock import utc
from desktop.models.outbox import NEEDS_YOU, OutboxModel
from desktop.models.rows import ROW_ROLE
from desktop.ports import CATCHING_UP, CONNECTING, LIVE, OFFLINE
from sync.outbox import OutboxEntry


def connection_text(state: str, since: datetime | None) -> str:
    if state == LIVE:
        return "● Live"
    if state == CATCHING_UP:
        return "◐ Catching up…"
    if state == CONNECTING:
        return "○ Connecting…"
    if state == OFFLINE and since is not None:
        return f"○ Offline since {utc(since).astimezone().strftime('%H:%M:%S')}"
    return "○ Offline"


class ConnectionStatus(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(connection_text(OFFLINE, None), parent)
        self.setObjectName("connectionStatus")
        self.setAccessibleName("Connection")
        self.state = OFFLINE

    def show_state(self, state: str, since: datetime | None) -> None:
        self.state = state
        self.setText(connection_text(state, since))
        self.setProperty("connection", state)
        self.setAccessibleDescription(self.text())
        self.style().unpolish(self)
        self.style().polish(self)


class OutboxView(QTableView):
    """Every action the reviewer took, with its outcome."""

    entryActivated = Signal(object)  # an OutboxEntry in CONFLICT or REJECTED

    def __init__(self, model: OutboxModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("outboxView")
        self.setAccessibleName("Outbox: actions and their outcome")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setTabKeyNavigation(False)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setStretchLastSection(True)
        self.activated.connect(self._activated)
        self.doubleClicked.connect(self._activated)

    def _activated(self, index: QModelIndex) -> None:
        entry = index.data(ROW_ROLE)
        if isinstance(entry, OutboxEntry) and entry.state in NEEDS_YOU:
            self.entryActivated.emit(entry)


class DeskStatusBar(QStatusBar):
    outboxToggled = Signal()

    def __init__(self, model: OutboxModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("deskStatusBar")
        self.model = model
        self.connection = ConnectionStatus(self)
        self.outbox_button = QPushButton("Outbox: empty")
        self.outbox_button.setObjectName("outboxButton")
        self.outbox_button.setAccessibleName("Show the outbox")
        self.outbox_button.setFlat(True)
        self.outbox_button.clicked.connect(self.outboxToggled)
        self.addPermanentWidget(self.outbox_button)
        self.addPermanentWidget(self.connection)
        for signal in (model.rowsInserted, model.dataChanged, model.modelReset):
            signal.connect(self.update_outbox)

    def update_outbox(self, *_: object) -> None:
        pending = self.model.pending_count()
        attention = len(self.model.needing_attention())
        parts = []
        if pending:
            parts.append(f"{pending} queued")
        if attention:
            parts.append(f"{attention} need you")
        self.outbox_button.setText("Outbox: " + (", ".join(parts) if parts else "all sent"))
        self.outbox_button.setProperty("attention", bool(attention))
