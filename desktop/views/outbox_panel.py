"""The outbox panel (`outboxPanel`, the Outbox dock): the table of every action with its
outcome, a line saying how many need the reviewer, and the three things a reviewer does
with one of those: Open (the conflict/refusal dialog), Retry, Discard.

Every entry that needs the reviewer (CONFLICT and REJECTED alike, found at start-up too)
can be reached here, so the status bar's "N need you" always points at something the
reviewer can act on. Enter or a double click on such a row opens it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.models.outbox import NEEDS_YOU, OutboxModel
from desktop.views.status_bar import OutboxView
from sync.outbox import MOVES, OutboxEntry, OutboxState


class OutboxPanel(QWidget):
    openRequested = Signal(object)  # an OutboxEntry that needs the reviewer
    retryRequested = Signal(int)  # entry id
    discardRequested = Signal(int)  # entry id

    def __init__(self, view: OutboxView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("outboxPanel")
        self.setAccessibleName("Outbox")
        self.view = view
        model = view.model()
        assert isinstance(model, OutboxModel)
        self.model = model
        self.summary = QLabel("")
        self.summary.setObjectName("outboxSummary")
        self.open_button = self._button("&Open…", "outboxOpen", "Show what happened")
        self.retry_button = self._button("Re&try", "outboxRetry", "Send the action again")
        self.discard_button = self._button("Disc&ard", "outboxDiscard", "Give the action up")
        self.open_button.clicked.connect(lambda: self._emit_entry(self.openRequested))
        self.retry_button.clicked.connect(lambda: self._emit_id(self.retryRequested))
        self.discard_button.clicked.connect(lambda: self._emit_id(self.discardRequested))
        view.entryActivated.connect(self.openRequested)
        view.selectionModel().selectionChanged.connect(self._update)
        for signal in (model.rowsInserted, model.dataChanged, model.modelReset):
            signal.connect(self._update)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        for button in (self.open_button, self.retry_button, self.discard_button):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(view)
        self._update()

    def _button(self, text: str, name: str, accessible: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAccessibleName(accessible)
        return button

    def selected(self) -> OutboxEntry | None:
        index = self.view.currentIndex()
        rows = self.view.selectionModel().selectedRows()
        if not rows or not index.isValid():
            return None
        return self.model.row_at(index.row())

    def select_first_needing_you(self) -> bool:
        """Put the cursor on the oldest entry that needs the reviewer (False: none)."""
        for row, entry in enumerate(self.model.rows):
            if entry.state in NEEDS_YOU:
                self.view.selectRow(row)
                self.view.scrollTo(self.model.index(row, 0))
                return True
        return False

    def _update(self, *_: object) -> None:
        count = len(self.model.needing_attention())
        self.summary.setText(
            f"{count} action(s) need you: select one, then Open, Retry or Discard."
            if count
            else "Nothing here needs you."
        )
        entry = self.selected()
        needs_you = entry is not None and entry.state in NEEDS_YOU
        self.open_button.setEnabled(needs_you)
        self.retry_button.setEnabled(needs_you)
        droppable = entry is not None and OutboxState.DROPPED in MOVES[entry.state]
        self.discard_button.setEnabled(droppable)

    def _emit_entry(self, signal: SignalInstance) -> None:
        entry = self.selected()
        if entry is not None:
            signal.emit(entry)

    def _emit_id(self, signal: SignalInstance) -> None:
        entry = self.selected()
        if entry is not None:
            signal.emit(entry.id)
