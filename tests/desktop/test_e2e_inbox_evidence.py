"""Decisions bound to the evidence (issue 11), from the Inbox against a real server: a bulk
confirmation where one contract's evidence changes between the preview and the confirm —
that one conflicts, the rest apply — and the conflict view shows exactly what changed,
side by side, and confirms the new evidence.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.status import ContractStatus
from desktop.views.bulk_confirm import BulkConfirmDialog
from desktop.views.conflict_dialog import ConflictDialog
from tests.desktop.conftest import Loop, until
from tests.desktop.inbox_keys import press
from tests.desktop.live_desk import Desk, open_desk
from tests.sync.server_fixture import CONFIG_TOML, ServerProcess, serving

pytestmark = pytest.mark.timeout(300)


def test_bulk_confirm_with_one_evidence_changed_in_between(
    qtbot: QtBot, qloop: Loop, tmp_path: Path
) -> None:
    (tmp_path / "desk").mkdir()
    with serving(tmp_path / "server", CONFIG_TOML) as server:
        qloop.run(_bulk(server, qtbot, tmp_path / "desk"), 280)


async def _bulk(server: ServerProcess, qtbot: QtBot, folder: Path) -> None:
    async with open_desk(server, folder, qtbot) as desk:
        guarded = [await _with_summary(desk, f"bulk{i}") for i in range(3)]
        page, window = desk.window.inbox, desk.window
        await until(lambda: page.count == 3, 30)
        window.activateWindow()
        page.select_row(0)
        page.focus_list()
        press(qtbot, "J", Qt.KeyboardModifier.ShiftModifier)  # select several: Shift+j
        press(qtbot, "J", Qt.KeyboardModifier.ShiftModifier)
        assert len(page.selected_items()) == 3
        press(qtbot, "y")  # several selected: the preview
        dialog = next(d for d in window.dialogs if isinstance(d, BulkConfirmDialog))
        assert len(dialog.ticked()) == 3  # every evidence complete: all ticked
        assert all("complete" in r.evidence_text for r in _rows(dialog))
        # Between the preview and the confirm, one supervisor rewrites its summary.
        changed = guarded[1]
        await desk.supervisor.mark_deliverable(
            changed.id, "plan-document", summary="Rewritten: **no rollback**"
        )
        await until(lambda: _summary_of(desk, changed.id) == "Rewritten: **no rollback**", 20)
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
        assert page.count == 0  # all three decided: out of the list
        await until(lambda: "conflict" in dialog.result_of(changed.id), 30)
        for contract in (guarded[0], guarded[2]):
            await until(lambda c=contract: dialog.result_of(c.id) == "applied", 30)
            assert (await desk.admin.get_contract(contract.id)).contract.phase == "execute"
        assert "evidence changed" in dialog.result_of(changed.id)
        still = (await desk.admin.get_contract(changed.id)).contract
        assert still.status is ContractStatus.WAITING_FOR_INPUT  # not moved on old evidence
        # The conflict view opened by itself: what changed, both evidences side by side.
        await until(lambda: window.conflict_dialog is not None, 20)
        conflict = window.conflict_dialog
        assert isinstance(conflict, ConflictDialog)
        table = conflict.evidence_changes
        rows = [
            [table.item(r, c).text() for c in range(3)]  # type: ignore[union-attr]
            for r in range(table.rowCount())
        ]
        assert [
            "Plan Document: summary",
            "The plan, *reviewed*",
            "Rewritten: **no rollback**",
        ] in rows
        assert "reviewed" in conflict.evidence_seen.toPlainText()
        assert "no rollback" in conflict.evidence_now.toPlainText()
        assert conflict.reconfirm_button.text() == "&Confirm the new evidence"
        # The item is back in the inbox while its conflict waits on the reviewer.
        await until(lambda: page.count == 1, 20)
        qtbot.mouseClick(conflict.reconfirm_button, Qt.MouseButton.LeftButton)
        await until(lambda: (desk.shown(changed.id) or still).phase == "execute", 30)
        await until(lambda: page.count == 0, 30)
        dialog.accept()


async def _with_summary(desk: Desk, name: str) -> object:
    """A guarded contract asking to move plan → execute, its plan summarised."""
    contract = await desk.admin.create_contract(name, "simple", phase_guard=True)
    await desk.supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
    await desk.supervisor.change_status(contract.id, "active")
    await desk.supervisor.mark_deliverable(
        contract.id,
        "plan-document",
        url="https://example.org/plan.md",
        summary="The plan, *reviewed*",
    )
    answer = await desk.supervisor.change_phase(contract.id, "execute")
    assert answer.kind == "requires_confirmation"
    return contract


def _rows(dialog: BulkConfirmDialog) -> list[object]:
    class Row:
        def __init__(self, r: int) -> None:
            self.evidence_text = dialog.table.item(r, 3).text()  # type: ignore[union-attr]

    return [Row(r) for r in range(dialog.table.rowCount())]


def _summary_of(desk: Desk, contract_id: str) -> str | None:
    contract = desk.bridge.contracts.get(contract_id)
    note = contract.note_of("plan", "plan-document") if contract is not None else None
    return note.summary if note is not None else None
