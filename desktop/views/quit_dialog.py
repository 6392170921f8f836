"""Quitting with actions still queued asks first (objectName `quitDialog`).

The actions are not lost (they are rows in the replica and go out the next time the desk is
online), but the reviewer may think they were sent: the dialog says how many wait, with
Quit and Cancel (the default). `quitConfirmed` fires on Quit. Opened with `open()`.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget


def queued_text(count: int) -> str:
    if count == 1:
        return "1 action is queued and not sent yet."
    return f"{count} actions are queued and not sent yet."


class QuitDialog(QMessageBox):
    quitConfirmed = Signal()

    def __init__(self, queued: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quitDialog")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Quit Contract Desk?")
        self.setText(queued_text(queued))
        them = "It is" if queued == 1 else "They are"
        self.setInformativeText(
            f"{them} kept and sent the next time Contract Desk is online. "
            "Quit now, or cancel to stay until then."
        )
        self.quit_button = self.addButton("&Quit", QMessageBox.ButtonRole.AcceptRole)
        self.quit_button.setObjectName("quitConfirm")
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        assert cancel is not None
        self.cancel_button = cancel
        self.cancel_button.setObjectName("quitCancel")
        self.setDefaultButton(self.cancel_button)
        self.setEscapeButton(self.cancel_button)
        self.buttonClicked.connect(self._clicked)

    def _clicked(self, button: QAbstractButton) -> None:
        if button is self.quit_button:
            self.quitConfirmed.emit()
