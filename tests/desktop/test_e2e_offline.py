"""Offline must be honest (issue 8, items 7, 8, 9 and 12), against a real `contract-server`
process, with the real main window driven by clicks and key presses:

- a confirmation queued while the server is down shows on its contract (badge in the row, a
  line in the detail pane), Confirm is off with the reason as tooltip, Ctrl+Return and the
  outbox itself refuse a second one; back online it is sent once;
- a refused action stays in the outbox until the reviewer opens it and retries or discards
  it, after a restart too; the status bar's count and the outbox view agree;
- pausing asks for the reason (Enter pauses, Esc cancels; the Ctrl+P shortcut too) and the
  reason reaches the contract's history on the server;
- quitting with actions queued asks first.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QPushButton, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from core.model import Contract
from core.status import ContractStatus
from desktop.models.contracts import NAME
from desktop.notify import TrayNotifier
from desktop.ports import LIVE, OFFLINE
from desktop.views.main_window import MainWindow
from desktop.views.pause_dialog import PauseDialog
from desktop.views.phase_dialog import PhaseConfirmationDialog
from sync.outbox import OutboxState
from tests.desktop import test_e2e_desk
from tests.desktop.conftest import Loop, until
from tests.desktop.test_e2e_desk import Desk, open_desk
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(240)
LEFT = Qt.MouseButton.LeftButton
server = test_e2e_desk.server  # the fixture: a server process of the test's own


async def _active(desk: Desk) -> Contract:
    contract = await desk.admin.create_contract(f"active-{uuid.uuid4().hex[:6]}", "simple")
    await desk.supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
    await desk.supervisor.change_status(contract.id, "active")
    return (await desk.admin.get_contract(contract.id)).contract


async def _shown(desk: Desk, contract_id: str, button: str) -> QPushButton:
    """Open the contract in the detail pane; returns the button once it is usable."""
    desk.window.open_contract(contract_id)
    detail = desk.window.detail
    found = detail.buttons[button]

    def ready() -> bool:
        shown = detail.snapshot
        return shown is not None and shown.contract.id == contract_id and found.isEnabled()

    await until(ready, 20)
    return found


def _name_cell(window: MainWindow, contract_id: str) -> str:
    model = window.contracts.model
    row = model.row_of(contract_id)
    return "" if row is None else str(model.index(row, NAME).data())


def _last_dialog(window: MainWindow) -> QDialog | None:
    return window.dialogs[-1] if window.dialogs else None


def test_a_queued_confirmation_shows_on_its_contract_and_is_not_queued_twice(
    qtbot: QtBot, qloop: Loop, server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(server, tmp_path / "replica.db", qtbot) as desk:
            window, detail = desk.window, desk.window.detail
            contract = await desk.waiting_for_confirmation()
            await until(lambda: desk.waits(contract.id), 20)
            await asyncio.to_thread(server.stop)
            await until(lambda: desk.bridge.state == OFFLINE, 20)

            confirm = await _shown(desk, contract.id, "confirm")
            qtbot.mouseClick(confirm, LEFT)
            dialog = _last_dialog(window)
            assert isinstance(dialog, PhaseConfirmationDialog)
            qtbot.mouseClick(dialog.confirm_button, LEFT)
            await until(lambda: window.outbox_model.pending_count() == 1, 10)

            # The contract shows what is queued, and Confirm is off with the reason.
            await until(lambda: not confirm.isEnabled(), 10)
            assert "already queued" in confirm.toolTip()
            assert not detail.buttons["changes"].isEnabled()
            assert detail.queued_note.isVisible()
            assert "confirmation of 'execute'" in detail.queued_note.text()
            assert _name_cell(window, contract.id) == f"[confirmation queued] {contract.name}"

            # The shortcut does not open a second confirmation either.
            window.show_contracts()
            window.activateWindow()
            await until(window.isActiveWindow, 10)
            before = len(window.dialogs)
            qtbot.keyClick(
                window.contracts.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
            )
            assert len(window.dialogs) == before
            assert "already queued" in window.status.currentMessage()

            # Nor does the outbox, whoever asks: the operation fails with the reason.
            failures: list[tuple[str, str]] = []
            desk.bridge.operationFailed.connect(lambda t, m: failures.append((t, m)))
            desk.bridge.operations.confirm_phase(contract.id, "execute", contract.version)
            await until(lambda: bool(failures), 10)
            assert "already queued" in failures[0][1]
            assert window.outbox_model.pending_count() == 1

            # Back online it is sent once, and the contract stops showing it.
            await asyncio.to_thread(server.restart)
            await until(lambda: desk.bridge.state == LIVE, 30)
            applied = [OutboxState.APPLIED]
            await until(lambda: [e.state for e in window.outbox_model.rows] == applied, 30)
            await until(lambda: _name_cell(window, contract.id) == contract.name, 10)
            await until(lambda: not detail.queued_note.isVisible(), 10)
            server_copy = (await desk.admin.get_contract(contract.id)).contract
            assert server_copy.phase == "execute"

    qloop.run(scenario(), 180)


def test_pause_asks_for_the_reason_and_sends_it(
    qtbot: QtBot, qloop: Loop, server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(server, tmp_path / "replica.db", qtbot) as desk:
            window = desk.window
            first, second = await _active(desk), await _active(desk)
            pause = await _shown(desk, first.id, "pause")
            qtbot.mouseClick(pause, LEFT)
            dialog = _last_dialog(window)
            assert isinstance(dialog, PauseDialog) and dialog.isVisible()
            qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)  # no reason yet: nothing happens
            assert dialog.isVisible() and window.outbox_model.rowCount() == 0
            qtbot.keyClicks(dialog.reason, "waiting for the security review")
            qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
            assert not dialog.isVisible()
            await until(lambda: _status(desk, first.id) is ContractStatus.PAUSED, 20)
            history = (await desk.admin.contract_events(first.id)).events
            paused = [e for e in history if e.payload.get("new_status") == "paused"]
            assert paused and paused[-1].payload.get("reason") == "waiting for the security review"

            # Ctrl+P on another contract asks too; Esc cancels and nothing is queued.
            await _shown(desk, second.id, "pause")
            window.show_contracts()
            window.activateWindow()
            await until(window.isActiveWindow, 10)
            qtbot.keyClick(
                window.contracts.table, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier
            )
            asked = _last_dialog(window)
            assert isinstance(asked, PauseDialog) and asked.contract.id == second.id
            qtbot.keyClick(asked.reason, Qt.Key.Key_Escape)
            await until(lambda: not window.dialogs, 5)
            await asyncio.sleep(0.5)
            assert window.outbox_model.rowCount() == 1
            assert (
                await desk.admin.get_contract(second.id)
            ).contract.status is ContractStatus.ACTIVE

    qloop.run(scenario(), 180)


def test_a_refused_action_can_be_opened_retried_or_discarded_after_a_restart(
    qtbot: QtBot, qloop: Loop, server: ServerProcess, tmp_path: Path
) -> None:
    replica = tmp_path / "replica.db"
    active = ContractStatus.ACTIVE

    async def refused() -> tuple[Contract, Contract]:
        async with open_desk(server, replica, qtbot) as desk:
            window = desk.window
            first, second = await _active(desk), await _active(desk)
            await until(lambda: _status(desk, first.id) is active, 20)
            await until(lambda: _status(desk, second.id) is active, 20)
            # Resuming an active contract: the outbox takes it, the server refuses it.
            desk.bridge.operations.resume(first.id, first.version)
            desk.bridge.operations.resume(second.id, second.version)
            await until(lambda: len(window.outbox_model.needing_attention()) == 2, 20)
            assert window.status.outbox_button.text() == "Outbox: 2 need you"
            assert "refused" in window.banner.text() and second.name in window.banner.text()
            return first, second

    first, second = qloop.run(refused(), 120)

    async def after_restart() -> None:
        async with open_desk(server, replica, qtbot) as desk:
            window = desk.window
            await until(lambda: window.status.outbox_button.text() == "Outbox: 2 need you", 10)
            # "Resolve conflicts and refusals" opens the oldest one, the refusal.
            window.activateWindow()
            await until(window.isActiveWindow, 10)
            ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
            qtbot.keyClick(window.contracts, Qt.Key.Key_C, ctrl_shift)
            await until(lambda: window.conflict_dialog is not None, 10)
            dialog = window.conflict_dialog
            assert dialog is not None and dialog.refused
            assert dialog.entry.contract_id == first.id
            qtbot.mouseClick(dialog.later_button, LEFT)
            await until(lambda: window.conflict_dialog is None, 10)

            # The status bar's button opens the outbox on the first entry that needs you.
            qtbot.mouseClick(window.status.outbox_button, LEFT)
            assert window.outbox_dock.isVisible()
            panel, model = window.outbox_panel, window.outbox_model
            await until(lambda: first.name in _column(model, 2), 10)
            assert second.name in _column(model, 2) and first.id not in _column(model, 2)
            assert "2 action(s) need you" in panel.summary.text()
            selected = panel.selected()
            assert selected is not None and selected.contract_id == first.id
            qtbot.mouseClick(panel.open_button, LEFT)
            await until(lambda: window.conflict_dialog is not None, 10)
            opened = window.conflict_dialog
            assert opened is not None
            qtbot.mouseClick(opened.later_button, LEFT)
            await until(lambda: window.conflict_dialog is None, 10)

            # Someone paused the first contract meanwhile: retrying its resume now works.
            await desk.admin.change_status(first.id, "paused", reason="elsewhere")
            await until(lambda: _status(desk, first.id) is ContractStatus.PAUSED, 20)
            qtbot.mouseClick(panel.retry_button, LEFT)
            await until(lambda: _status(desk, first.id) is active, 20)
            # The second one is given up.
            row = next(r for r, e in enumerate(model.rows) if e.contract_id == second.id)
            cell = window.outbox_view.visualRect(model.index(row, 1)).center()
            qtbot.mouseClick(window.outbox_view.viewport(), LEFT, pos=cell)
            qtbot.mouseClick(panel.discard_button, LEFT)
            await until(lambda: window.status.outbox_button.text() == "Outbox: all sent", 20)
            assert panel.summary.text() == "Nothing here needs you."
            states = sorted(e.state.value for e in model.rows)
            assert states == ["applied", "dropped", "reconfirmed"]

    qloop.run(after_restart(), 120)


def test_offline_the_tray_says_so_and_quitting_with_queued_actions_asks(
    qtbot: QtBot,
    qloop: Loop,
    server: ServerProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Offscreen Qt has no system tray; say there is one so the window makes its tray icon.
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    # As `contract-desk` runs: the last window closing ends the desk, not the QApplication.
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    quits = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)

    async def scenario() -> None:
        async with open_desk(server, tmp_path / "replica.db", qtbot) as desk:
            window = desk.window
            tray = window.notifier.backend
            assert isinstance(tray, TrayNotifier)
            contract = await desk.waiting_for_confirmation()
            await until(lambda: tray.tray.toolTip() == "Contract Desk: 1 waiting", 20)
            online_icon = tray.tray.icon().pixmap(64, 64).toImage()

            await asyncio.to_thread(server.stop)
            await until(lambda: desk.bridge.state == OFFLINE, 20)
            await until(lambda: "offline" in tray.tray.toolTip(), 10)
            assert tray.tray.toolTip() == "Contract Desk: offline; 1 waiting at the last sync"
            assert tray.tray.icon().pixmap(64, 64).toImage() != online_icon

            confirm = await _shown(desk, contract.id, "confirm")
            qtbot.mouseClick(confirm, LEFT)
            dialog = _last_dialog(window)
            assert isinstance(dialog, PhaseConfirmationDialog)
            qtbot.mouseClick(dialog.confirm_button, LEFT)
            await until(lambda: "1 action queued" in tray.tray.toolTip(), 10)

            # Ctrl+Q asks: Cancel stays, Quit quits.
            closed: list[bool] = []
            window.closed.connect(lambda: closed.append(True))
            window.activateWindow()
            await until(window.isActiveWindow, 10)
            ctrl = Qt.KeyboardModifier.ControlModifier
            qtbot.keyClick(window.contracts.table, Qt.Key.Key_Q, ctrl)
            asked = window.quit_dialog
            assert asked is not None and asked.isVisible()
            assert asked.text() == "1 action is queued and not sent yet."
            assert "sent the next time" in asked.informativeText()
            qtbot.mouseClick(asked.cancel_button, LEFT)
            await until(lambda: window.quit_dialog is None, 5)
            assert window.isVisible() and not closed
            window.activateWindow()
            await until(window.isActiveWindow, 10)
            qtbot.keyClick(window.contracts.table, Qt.Key.Key_Q, ctrl)
            asked = window.quit_dialog
            assert asked is not None
            qtbot.mouseClick(asked.quit_button, LEFT)
            await until(lambda: bool(closed), 5)
            assert not window.isVisible()
            entries = await desk.backend.outbox.pending()
            assert len(entries) == 1  # kept for the next time

    try:
        qloop.run(scenario(), 180)
    finally:
        qapp.setQuitOnLastWindowClosed(quits)


def _column(model: object, column: int) -> list[str]:
    rows = model.rowCount()  # type: ignore[attr-defined]
    return [str(model.index(r, column).data()) for r in range(rows)]  # type: ignore[attr-defined]


def _status(desk: Desk, contract_id: str) -> ContractStatus | None:
    found = desk.bridge.contracts.get(contract_id)
    return None if found is None else found.status
