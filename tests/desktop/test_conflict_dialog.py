"""The conflict dialog, driven through its buttons and signals (never exec())."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.events import EventType
from desktop.views.conflict_dialog import ConflictDialog, changed_fields
from sync.outbox import OutboxState
from tests.desktop.conftest import REVIEWER, make_contract, make_event
from tests.desktop.test_status_bar import entry

NOW_CONTRACT = {"version": 5, "status": "active", "phase": "execute", "waitingFor": None}


def _conflict() -> object:
    return entry(
        7,
        OutboxState.CONFLICT,
        error_code="VERSION_CONFLICT",
        result={"code": "VERSION_CONFLICT", "contract": NOW_CONTRACT},
    )


def test_shows_what_changed_and_reconfirms(qtbot: QtBot) -> None:
    seen = make_contract(0, version=3)
    since = [
        make_event(
            9,
            seen.id,
            EventType.PHASE_CHANGED,
            actor=REVIEWER,
            old_phase="plan",
            new_phase="execute",
        )
    ]
    dialog = ConflictDialog(_conflict(), seen, since)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.objectName() == "conflictDialog"
    fields = dialog.fields
    rows = {
        fields.item(r, 0).text(): (fields.item(r, 1).text(), fields.item(r, 2).text())
        for r in range(fields.rowCount())
    }
    assert rows["Version"] == ("3", "5")
    assert rows["Phase"] == ("plan", "execute")
    assert dialog.events.item(0, 2).text() == "moved phase plan → execute"
    assert "version 5" in dialog.reconfirm_button.text()
    with qtbot.waitSignal(dialog.reconfirmRequested) as signal:
        qtbot.mouseClick(dialog.reconfirm_button, Qt.MouseButton.LeftButton)
    assert signal.args == [7]
    assert not dialog.isVisible()


def test_drop_and_decide_later(qtbot: QtBot) -> None:
    dialog = ConflictDialog(_conflict(), None)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.open()
    with qtbot.waitSignal(dialog.dropRequested) as signal:
        qtbot.mouseClick(dialog.drop_button, Qt.MouseButton.LeftButton)
    assert signal.args == [7]
    later = ConflictDialog(_conflict(), None)  # type: ignore[arg-type]
    qtbot.addWidget(later)
    later.open()
    with qtbot.waitSignal(later.rejected):
        qtbot.keyClick(later, Qt.Key.Key_Escape)


def test_changed_fields_without_a_copy_of_the_seen_contract() -> None:
    rows = changed_fields({"version": 2}, NOW_CONTRACT)
    assert rows[0] == ("Version", "2", "5")
    assert rows[1] == ("Status", "—", "active")
