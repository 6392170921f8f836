"""The selection is the reviewer's (issue 8, items 3 and 4), end to end against a real server.

While a supervisor works on the selected and on other contracts (rows move to the top of
the activity-sorted table with every task), the selection and the detail stay on the
contract the reviewer clicked, through Confirm, Request changes and Pause taken with the
keyboard. A search that hides the selected contract clears the detail (no buttons left
enabled on a contract the table does not show); clicking an alert about a hidden contract
turns off the search hiding it and selects it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QPushButton
from pytestqt.qtbot import QtBot

from core.model import Contract
from core.status import ContractStatus, WaitingFor
from tests.desktop.conftest import Loop, until
from tests.desktop.live_desk import Desk, LiveWork, open_desk
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(300)
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def _on(desk: Desk, contract: Contract) -> bool:
    """Table selection and detail both on `contract`."""
    current = desk.window.contracts.current_contract()
    snapshot = desk.window.detail.snapshot
    return (
        current is not None
        and current.id == contract.id
        and snapshot is not None
        and snapshot.contract.id == contract.id
    )


async def _select(desk: Desk, qtbot: QtBot, contract: Contract) -> None:
    page = desk.window.contracts
    await until(lambda: page.model.row_of(contract.id) is not None, 20)
    row = page.model.row_of(contract.id)
    assert row is not None
    desk.click_row(qtbot, page.table, row)
    await until(lambda: _on(desk, contract), 10)


async def _shortcut(desk: Desk, qtbot: QtBot, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> None:
    """A shortcut pressed in the table (the window must be the active one to take it)."""
    desk.window.activateWindow()
    await until(desk.window.isActiveWindow, 10)
    qtbot.keyClick(desk.window.contracts.table, key, modifiers)


def _dialog(desk: Desk) -> QDialog:
    dialogs = [d for d in desk.window.dialogs if d.isVisible()]
    assert dialogs, "no dialog opened"
    return dialogs[-1]


async def _server_status(desk: Desk, contract: Contract) -> Contract:
    return (await desk.admin.get_contract(contract.id)).contract


def test_the_selection_stays_through_live_updates_and_decisions(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            confirming = await desk.waiting_for_confirmation("confirm-me")
            refusing = await desk.waiting_for_confirmation("refuse-me")
            pausing = await desk.active("pause-me")
            busy = [await desk.active(f"busy{i}") for i in range(3)]
            window, _page = desk.window, desk.window.contracts
            window.show_contracts()
            await until(lambda: all(desk.shown(c.id) for c in (confirming, refusing, pausing)))
            await until(lambda: (desk.shown(confirming.id) or confirming).version > 0)
            work = LiveWork(desk.supervisor, [confirming, refusing, pausing, *busy]).start()
            try:
                await _select(desk, qtbot, confirming)
                await desk.updates(4)  # its row moves to the top with every task: still it
                assert _on(desk, confirming)
                await _hold_still(desk, work, confirming)
                await until(window.detail.buttons["confirm"].isEnabled, 10)
                await _shortcut(desk, qtbot, Qt.Key.Key_Return, CTRL)  # Confirm phase…
                dialog = _dialog(desk)
                qtbot.keyClicks(dialog.comment, "looks good")  # type: ignore[attr-defined]
                button: QPushButton = dialog.confirm_button  # type: ignore[attr-defined]
                qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
                await until(lambda: (desk.shown(confirming.id) or confirming).phase == "execute")
                await desk.updates(4)
                assert _on(desk, confirming)
                assert (await _server_status(desk, confirming)).phase == "execute"

                await _select(desk, qtbot, refusing)
                await desk.updates(3)
                assert _on(desk, refusing)
                await _hold_still(desk, work, refusing)
                await until(window.detail.buttons["changes"].isEnabled, 10)
                await _shortcut(desk, qtbot, Qt.Key.Key_Return, CTRL | SHIFT)  # Request changes
                dialog = _dialog(desk)
                qtbot.keyClicks(dialog.feedback, "the plan misses a rollback")  # type: ignore[attr-defined]
                button = dialog.changes_button  # type: ignore[attr-defined]
                qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
                await until(lambda: _waiting_for(desk, refusing) is None, 20)
                await desk.updates(4)
                assert _on(desk, refusing)

                await _select(desk, qtbot, pausing)
                await desk.updates(3)
                assert _on(desk, pausing)
                await _hold_still(desk, work, pausing)
                await until(window.detail.buttons["pause"].isEnabled, 10)
                await _shortcut(desk, qtbot, Qt.Key.Key_P, CTRL)  # Pause
                await until(lambda: any(d.isVisible() for d in window.dialogs), 10)
                for asked in [d for d in window.dialogs if d.isVisible()]:
                    # The pause dialog asks why; Enter accepts once a reason is typed.
                    reason = asked.reason  # type: ignore[attr-defined]
                    qtbot.keyClicks(reason, "lunch break")
                    qtbot.keyClick(reason, Qt.Key.Key_Return)
                await until(lambda: _status(desk, pausing) is ContractStatus.PAUSED, 20)
                await desk.updates(4)
                assert _on(desk, pausing)
            finally:
                await work.stop()

    qloop.run(scenario(), 280)


async def _hold_still(desk: Desk, work: LiveWork, contract: Contract) -> None:
    """Only heartbeats on `contract` from now on, and its tasks in flight synced: the
    decision is taken on the version the reviewer sees (others keep working)."""
    work.quiet.add(contract.id)
    await desk.updates(3)


def _waiting_for(desk: Desk, contract: Contract) -> WaitingFor | None:
    shown = desk.shown(contract.id)
    return WaitingFor.PHASE_CONFIRMATION if shown is None else shown.waiting_for


def _status(desk: Desk, contract: Contract) -> ContractStatus | None:
    shown = desk.shown(contract.id)
    return None if shown is None else shown.status


def test_the_detail_shows_only_what_the_table_selects(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            alpha = await desk.active("alpha")
            beta = await desk.active("beta")
            window, page, detail = desk.window, desk.window.contracts, desk.window.detail
            window.show_contracts()
            work = LiveWork(desk.supervisor, [alpha, beta]).start()
            try:
                await _select(desk, qtbot, alpha)
                await until(detail.buttons["pause"].isEnabled, 10)
                qtbot.keyClicks(page.search, beta.name)  # hides alpha
                await until(lambda: page.shown_count() == 1, 10)
                await until(lambda: detail.snapshot is None, 10)
                await desk.updates(4)  # alpha keeps changing: the detail stays empty
                assert detail.snapshot is None and detail.title.text() == "Select a contract"
                assert not any(b.isEnabled() for b in detail.buttons.values())
                assert not page.table.selectionModel().hasSelection()

                page.search.selectAll()
                qtbot.keyClick(page.search, Qt.Key.Key_Backspace)  # shown again: selected again
                await until(lambda: _on(desk, alpha), 10)

                # An alert about alpha while a search hides it: Open turns the search off.
                qtbot.keyClicks(page.search, beta.name)
                await until(lambda: page.shown_count() == 1 and detail.snapshot is None, 10)
                await desk.supervisor.ask_question(alpha.id, "Ship on Friday?", "confirmation")
                banner = window.findChild(QPushButton, "alertBannerOpen")
                assert banner is not None
                await until(lambda: banner.isVisible() and _banner_for(window, alpha), 20)
                qtbot.mouseClick(banner, Qt.MouseButton.LeftButton)
                await until(lambda: _on(desk, alpha), 10)
                assert page.search.text() == ""
                assert page.table.selectionModel().hasSelection()
                await desk.updates(3)
                assert _on(desk, alpha)
            finally:
                await work.stop()

    qloop.run(scenario(), 280)


def _banner_for(window: object, contract: Contract) -> bool:
    from desktop.views.banner import AlertBanner

    banner = window.findChild(AlertBanner, "alertBanner")  # type: ignore[attr-defined]
    return banner is not None and banner.contract_id == contract.id
