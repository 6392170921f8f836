"""Pausing a contract asks why, like every other reviewer decision (and like
`contracts pause --reason`). The dialog (objectName `pauseDialog`) has one reason field
(`pauseReason`); Enter pauses once a reason is typed, Esc cancels. `pauseRequested(reason)`
carries it to the main window, which queues the pause with it. Opened with `open()`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from core.model import Contract


class PauseDialog(QDialog):
    pauseRequested = Signal(str)  # the reason, stripped, never empty

    def __init__(self, contract: Contract, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pauseDialog")
        self.setWindowTitle(f"Pause {contract.name}")
        self.setAccessibleName("Pause the contract")
        self.contract = contract
        intro = QLabel(
            f"Why pause “{contract.name}”? Its supervisor stops until it is resumed; the "
            "reason is recorded in the contract's history."
        )
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.reason = QLineEdit()
        self.reason.setObjectName("pauseReason")
        self.reason.setAccessibleName("Reason for pausing")
        self.reason.setPlaceholderText("e.g. waiting for the security review")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.pause_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.pause_button.setText("&Pause")
        self.pause_button.setObjectName("pauseConfirmButton")
        self.pause_button.setDefault(True)
        self.pause_button.setEnabled(False)
        self.buttons.accepted.connect(self._pause)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(self._reason_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.reason)
        layout.addWidget(self.buttons)
        self.reason.setFocus(Qt.FocusReason.OtherFocusReason)

    def _reason_changed(self, text: str) -> None:
        self.pause_button.setEnabled(bool(text.strip()))

    def _pause(self) -> None:
        reason = self.reason.text().strip()
        if not reason:
            return  # Enter on an empty field: the reason is still missing
        self.pauseRequested.emit(reason)
        self.accept()
