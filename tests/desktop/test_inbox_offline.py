"""The Inbox offline (issue 11): built from the replica alone, `/` filters without the
letters typed firing the triage keys, and Ctrl+Z takes back a decision still queued in the
outbox (nothing is sent while offline).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.model import PendingPhaseConfirmation
from core.status import ContractStatus, WaitingFor
from desktop.bridge import SyncBridge
from desktop.views.main_window import MainWindow
from sync.outbox import OutboxState
from tests.desktop.conftest import NOW, LocalBackend, Loop, make_contract, until
from tests.desktop.inbox_keys import focused, press, shown_ready, type_text


def _waiting(number: int, name: str) -> object:
    contract = make_contract(number, name=name, version=3)
    return replace(
        contract,
        status=ContractStatus.WAITING_FOR_INPUT,
        waiting_for=WaitingFor.PHASE_CONFIRMATION,
        completed_deliverables={"plan": ("plan-document",)},
        pending_confirmation=PendingPhaseConfirmation(f"t-{number}", "execute", NOW),
    )


def test_filter_and_undo_offline(
    qtbot: QtBot, qloop: Loop, bridge: SyncBridge, backend: LocalBackend
) -> None:
    names = ["alpha billing", "beta search", "gamma billing"]
    qloop.run(backend.replica.put_contracts([_waiting(i, n) for i, n in enumerate(names)]))  # type: ignore[misc]
    window = MainWindow(bridge)
    qtbot.addWidget(window)

    # Driven inside the running loop, as the app is: the pane reads the replica in tasks.
    async def scenario() -> None:
        window.show()
        window.start()
        page = window.inbox
        await until(lambda: page.count == 3)
        window.activateWindow()
        page.focus_list()
        # `/` filters; the letters typed there ("y", "n", "j"…) are text, not decisions.
        press(qtbot, "/")
        assert focused() is page.filter_box
        type_text(qtbot, "billing")
        assert page.proxy.rowCount() == 2 and page.count == 3
        press(qtbot, Qt.Key.Key_Escape)
        assert page.proxy.rowCount() == 3 and focused() is page.list
        # y confirms; offline the confirmation stays queued; Ctrl+Z takes it back.
        page.select_row(0)
        item = await shown_ready(page)
        press(qtbot, "y")
        assert page.count == 2
        await until(lambda: bool(page.decisions) and page.decisions[-1].entry_id is not None)
        entry_id = page.decisions[-1].entry_id
        assert entry_id is not None
        press(qtbot, "z", Qt.KeyboardModifier.ControlModifier)
        await until(lambda: page.count == 3)
        entry = await backend.outbox.get(entry_id)
        assert entry.state is OutboxState.DROPPED
        assert page.current_item() == item  # back, selected again
        window.close()

    qloop.run(scenario(), 60)
