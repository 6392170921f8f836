"""Settings: the file, the key store (keyring or a 0600 file) and the dialog."""

from __future__ import annotations

import stat
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.settings import DeskPaths, DeskSettings, KeyStore, SettingsStore
from desktop.views.settings_dialog import SettingsDialog


def paths(tmp_path: Path) -> DeskPaths:
    return DeskPaths(tmp_path / "config", tmp_path / "data")


def test_settings_round_trip_and_bad_files(tmp_path: Path) -> None:
    store = SettingsStore(paths(tmp_path))
    assert store.load() == DeskSettings()
    store.save(DeskSettings(server_url="https://desk.example/", stale_threshold_minutes=5))
    loaded = store.load()
    assert loaded.server_url == "https://desk.example"
    assert loaded.stale_threshold_minutes == 5.0
    store.paths.settings_file.write_text("{not json")
    assert store.load() == DeskSettings()
    store.paths.settings_file.write_text('{"stale_threshold_minutes": -1, "junk": 1}')
    assert store.load() == DeskSettings()


def test_keys_go_to_a_user_only_file_without_a_keyring(tmp_path: Path) -> None:
    keys = KeyStore(paths(tmp_path), use_keyring=False)
    assert keys.get("https://desk.example") is None
    where = keys.set("https://desk.example", "secret-1")
    assert where.endswith("desk-credentials.json")
    mode = stat.S_IMODE(Path(where).stat().st_mode)
    assert mode == 0o600
    assert keys.get("https://desk.example") == "secret-1"
    keys.set("embedded:/x.db", "secret-2")
    assert keys.get("https://desk.example") == "secret-1"
    assert "secret" not in (tmp_path / "config").joinpath("desk-settings.json").as_posix()


def test_replica_files_are_per_server(tmp_path: Path) -> None:
    p = paths(tmp_path)
    assert p.replica_file("http://a:1") != p.replica_file("http://b:1")
    assert p.replica_file("embedded").name == "embedded.db"


def test_dialog_edits_values_and_reports_them(qtbot: QtBot) -> None:
    dialog = SettingsDialog(DeskSettings(), has_key=True)
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.objectName() == "settingsDialog"
    assert "stored" in dialog.api_key.placeholderText()
    qtbot.keyClicks(dialog.server_url, "https://desk.example/")
    qtbot.keyClicks(dialog.api_key, "new-key")
    assert dialog.stale.isReadOnly()  # the server's threshold: shown, not edited here
    qtbot.keyClicks(dialog.stale, "9")
    dialog.notifications.setChecked(False)
    with qtbot.waitSignal(dialog.settingsAccepted) as signal:
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    settings, key = signal.args
    assert settings.server_url == "https://desk.example"
    assert settings.stale_threshold_minutes == DeskSettings().stale_threshold_minutes
    assert settings.notifications is False
    assert key == "new-key"


def test_cancel_reports_nothing(qtbot: QtBot) -> None:
    dialog = SettingsDialog(DeskSettings())
    qtbot.addWidget(dialog)
    dialog.open()
    with qtbot.assertNotEmitted(dialog.settingsAccepted):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.api_key.echoMode() == dialog.api_key.EchoMode.Password


def test_an_older_desks_open_replica_folder_is_made_user_only(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "replicas"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)  # as the first desks made it
    replica = DeskPaths(tmp_path / "config", tmp_path / "data").replica_file("embedded")
    assert replica.parent == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
