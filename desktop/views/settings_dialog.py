"""The settings dialog (`settingsDialog`): server URL, API key, alerts, and the stale threshold
shown read-only: it is the server's (`stale_threshold_minutes` in its config), learnt when
connected and remembered for offline use, so the dialog says the same online and offline.

It edits values only: `settingsAccepted(DeskSettings, key)` carries the result (key None:
unchanged) and the main window stores them (settings file, keyring). Opened with `open()`.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.settings import DeskSettings


class SettingsDialog(QDialog):
    settingsAccepted = Signal(object, object)  # DeskSettings, str | None (new key)

    def __init__(
        self,
        settings: DeskSettings,
        *,
        has_key: bool = False,
        live: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Contract Desk settings")
        self.setAccessibleName("Settings")
        self.original = settings
        self.server_url = QLineEdit(settings.server_url)
        self.server_url.setObjectName("serverUrl")
        self.server_url.setAccessibleName("Server URL")
        self.server_url.setPlaceholderText("empty: the embedded local server")
        self.api_key = QLineEdit()
        self.api_key.setObjectName("apiKey")
        self.api_key.setAccessibleName("API key")
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("stored — type to replace" if has_key else "API key")
        self.stale = QDoubleSpinBox()
        self.stale.setObjectName("staleThreshold")
        self.stale.setAccessibleName("Stale threshold in minutes")
        self.stale.setRange(0.01, 7 * 24 * 60)
        self.stale.setDecimals(2)
        self.stale.setSuffix(" min")
        self.stale.setValue(settings.stale_threshold_minutes)
        self.stale.setReadOnly(True)
        self.stale.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        source = "the server's setting" if live else "the server's setting, as last seen"
        self.stale_source = QLabel(f"{source} (stale_threshold_minutes in its config)")
        self.stale_source.setObjectName("staleSource")
        self.stale.setToolTip(f"Contracts count as stale by {self.stale_source.text()}")
        self.notifications = QCheckBox("Show &notifications")
        self.notifications.setObjectName("notifications")
        self.notifications.setChecked(settings.notifications)
        form = QFormLayout()
        form.addRow(_buddy("&Server URL:", self.server_url), self.server_url)
        form.addRow(_buddy("API &key:", self.api_key), self.api_key)
        form.addRow(_buddy("S&tale after:", self.stale), self.stale)
        form.addRow("", self.stale_source)
        form.addRow("", self.notifications)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            QLabel("Changing the server or key takes effect when the desk reconnects.")
        )
        layout.addWidget(self.buttons)

    def values(self) -> tuple[DeskSettings, str | None]:
        settings = self.original.with_changes(
            server_url=self.server_url.text().strip().rstrip("/"),
            notifications=self.notifications.isChecked(),
        )
        key = self.api_key.text().strip() or None
        return settings, key

    def _accept(self) -> None:
        settings, key = self.values()
        self.settingsAccepted.emit(settings, key)
        self.accept()


def _buddy(text: str, widget: QWidget) -> QLabel:
    label = QLabel(text)
    label.setBuddy(widget)
    return label
