"""Answers survive live updates (issue 8, items 1 and 2), end to end against a real server.

The reviewer picks a choice and types answers with real key presses while a supervisor
works on the same and on other contracts through the API; what the server records is what
was picked and typed. Drafts are kept per question and survive a restart of the desk.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.model import QuestionStatus
from desktop.drafts import drafts_beside
from desktop.views.main_window import MainWindow
from desktop.views.phase_dialog import PhaseConfirmationDialog
from tests.desktop.conftest import Loop, until
from tests.desktop.live_desk import Desk, LiveWork, open_desk
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(240)
Cancel = QDialogButtonBox.StandardButton.Cancel


def test_the_choice_picked_is_the_answer_recorded_while_updates_arrive(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            asking = await desk.active("rollout")
            others = [await desk.active(f"busy{i}") for i in range(3)]
            asked = await desk.supervisor.ask_question(
                asking.id,
                "Which rollout strategy should I use?",
                "choice",
                choices=["canary", "blue-green", "rolling"],
            )
            panel = desk.window.questions
            desk.window.show_questions()
            await until(lambda: panel.model.row_of(asked.id) >= 0, 20)
            desk.click_row(qtbot, panel.table, panel.model.row_of(asked.id))
            assert panel.editors.currentWidget() is panel.choice_page
            work = LiveWork(desk.supervisor, [asking, *others]).start()
            try:
                panel.choice_box.setFocus()
                qtbot.keyClick(panel.choice_box, Qt.Key.Key_Down)  # canary → blue-green
                assert panel.choice_box.currentText() == "blue-green"
                await desk.updates(4)  # the list is re-read four times and more
                assert panel.choice_box.currentText() == "blue-green"
                qtbot.mouseClick(panel.choice_send, Qt.MouseButton.LeftButton)
            finally:
                await work.stop()
            answered = await desk.supervisor.get_question(asked.id, wait=15)
            assert answered.status is QuestionStatus.ANSWERED
            assert answered.answer == "blue-green"

    qloop.run(scenario(), 200)


def test_typed_answers_survive_updates_other_questions_and_a_restart(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def first_session() -> tuple[str, str]:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            contract = await desk.active("billing")
            other = await desk.active("search")
            first = await desk.supervisor.ask_question(contract.id, "Which database?", "free_text")
            second = await desk.supervisor.ask_question(other.id, "Which region?", "free_text")
            panel = desk.window.questions
            desk.window.show_questions()
            await until(lambda: min(panel.model.row_of(q.id) for q in (first, second)) >= 0, 20)
            work = LiveWork(desk.supervisor, [contract, other]).start()
            try:
                desk.click_row(qtbot, panel.table, panel.model.row_of(first.id))
                qtbot.keyClicks(panel.text_edit, "Postgre")
                await desk.updates(3)
                qtbot.keyClicks(panel.text_edit, "SQL 16")
                await desk.updates(3)
                assert panel.text_edit.text() == "PostgreSQL 16"
                # Another question, its own draft; back again, the first draft is there.
                desk.click_row(qtbot, panel.table, panel.model.row_of(second.id))
                assert panel.text_edit.text() == ""
                qtbot.keyClicks(panel.text_edit, "eu-west")
                await desk.updates(2)
                desk.click_row(qtbot, panel.table, panel.model.row_of(first.id))
                assert panel.text_edit.text() == "PostgreSQL 16"
            finally:
                await work.stop()
            return first.id, second.id

    first_id, second_id = qloop.run(first_session(), 200)
    drafts_file = drafts_beside(tmp_path / "replica.db")
    assert stat.S_IMODE(drafts_file.stat().st_mode) == 0o600  # the text may be confidential

    async def after_restart() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            panel = desk.window.questions
            desk.window.show_questions()
            await until(lambda: min(panel.model.row_of(q) for q in (first_id, second_id)) >= 0)
            desk.click_row(qtbot, panel.table, panel.model.row_of(second_id))
            assert panel.text_edit.text() == "eu-west"
            desk.click_row(qtbot, panel.table, panel.model.row_of(first_id))
            assert panel.text_edit.text() == "PostgreSQL 16"
            qtbot.keyClick(panel.text_edit, Qt.Key.Key_Return)
            answered = await desk.supervisor.get_question(first_id, wait=15)
            assert answered.answer == "PostgreSQL 16"
            assert "PostgreSQL" not in drafts_file.read_text()  # sent: its draft is gone

    qloop.run(after_restart(), 200)


def test_feedback_typed_for_a_contract_survives_updates_closing_and_a_restart(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def first_session() -> str:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            contract = await desk.waiting_for_confirmation("feedback")
            other = await desk.active("elsewhere")
            window = desk.window
            window.show_contracts()
            await until(lambda: (desk.shown(contract.id) or contract).version > 0, 20)
            window.open_contract(contract.id)
            await until(window.detail.buttons["changes"].isEnabled, 10)
            work = LiveWork(desk.supervisor, [contract, other])
            work.quiet.add(contract.id)  # heartbeats only: its version stays
            work.start()
            try:
                dialog = _open_changes(window, qtbot)
                qtbot.keyClicks(dialog.feedback, "Add a rollback plan")
                await desk.updates(3)
                qtbot.mouseClick(dialog.buttons.button(Cancel), Qt.MouseButton.LeftButton)
                dialog = _open_changes(window, qtbot)  # opened again: the text is there
                assert dialog.feedback.toPlainText() == "Add a rollback plan"
                qtbot.mouseClick(dialog.buttons.button(Cancel), Qt.MouseButton.LeftButton)
            finally:
                await work.stop()
            return contract.id

    contract_id = qloop.run(first_session(), 200)

    async def after_restart() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            window = desk.window
            window.open_contract(contract_id)
            await until(window.detail.buttons["changes"].isEnabled, 20)
            dialog = _open_changes(window, qtbot)
            assert dialog.feedback.toPlainText() == "Add a rollback plan"
            qtbot.keyClicks(dialog.feedback, " first")
            qtbot.mouseClick(dialog.changes_button, Qt.MouseButton.LeftButton)
            await until(lambda: _last_feedback(desk, contract_id) is not None, 20)
            page = await desk.admin.contract_events(contract_id)
            asked = [e for e in page.events if e.type.value == "changes_requested"]
            assert asked and asked[-1].payload.get("feedback") == "Add a rollback plan first"

    qloop.run(after_restart(), 200)


def _open_changes(window: MainWindow, qtbot: QtBot) -> PhaseConfirmationDialog:
    qtbot.mouseClick(window.detail.buttons["changes"], Qt.MouseButton.LeftButton)
    dialog = next(d for d in reversed(window.dialogs) if d.isVisible())
    assert isinstance(dialog, PhaseConfirmationDialog)
    return dialog


def _last_feedback(desk: Desk, contract_id: str) -> str | None:
    shown = desk.shown(contract_id)
    return None if shown is None or shown.waiting_for is not None else "decided"
