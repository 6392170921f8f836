"""The in-window alert banner: where alerts appear when the desktop has no system tray.

`AlertBanner` floats over the top edge of its window (it follows the window's size, so the
window's own layout need not make room for it). It shows one grouped message with an Open
button (opens the first contract of the group), a Mute button and a Dismiss button; Escape
dismisses it too. It only shows and reports: what "open" and "mute" mean is decided by the
`desktop.notify.Notifications` hub behind the `BannerNotifier`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMainWindow, QPushButton, QWidget


class AlertBanner(QFrame):
    """A dismissable strip with one message and Open / Mute / Dismiss buttons."""

    openRequested = Signal(str)  # contract id
    muteRequested = Signal()
    dismissed = Signal()

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("alertBanner")
        self.setAccessibleName("Alerts")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setStyleSheet(
            "#alertBanner { background: #fff4ce; border: 1px solid #d9b84a; border-radius: 3px; }"
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._contract_id = ""
        self.text = QLabel(self, wordWrap=True)
        self.text.setObjectName("alertBannerText")
        self.text.setAccessibleName("Alert message")
        self.open_button = self._button("&Open contract", "alertBannerOpen", self._open)
        self.mute_button = self._button("&Mute for an hour", "alertBannerMute", self._mute)
        self.dismiss_button = self._button("Dismiss", "alertBannerDismiss", self.dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.text, 1)
        for button in (self.open_button, self.mute_button, self.dismiss_button):
            row.addWidget(button)
        self.hide()
        window.installEventFilter(self)

    def _button(self, text: str, name: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text.replace("&", ""))
        button.clicked.connect(slot)
        return button

    @property
    def contract_id(self) -> str:
        """The contract the Open button opens ("" when none)."""
        return self._contract_id

    def show_message(self, message: str, contract_id: str) -> None:
        self._contract_id = contract_id
        self.text.setText(message)
        self.setAccessibleDescription(message)
        self.open_button.setEnabled(bool(contract_id))
        self._place()
        self.show()
        self.raise_()

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()

    def _open(self) -> None:
        contract_id = self._contract_id
        self.hide()
        if contract_id:
            self.openRequested.emit(contract_id)

    def _mute(self) -> None:
        self.hide()
        self.muteRequested.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.dismiss()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        """Across the top of the window's content (below a main window's menu bar)."""
        window = self.parentWidget()
        if window is None:
            return
        central = window.centralWidget() if isinstance(window, QMainWindow) else None
        top = central.geometry().top() if central is not None else 0
        self.setGeometry(0, top, window.width(), self.sizeHint().height())
