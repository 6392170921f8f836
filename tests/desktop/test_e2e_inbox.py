"""The Inbox page (issue 11) against a real `contract-server`: built from the desk's replica,
emptied with the keyboard alone, and never disturbing what the reviewer types.

Keys are real key events (`qtbot.keyClick`) sent to the widget that has the focus, as a
keyboard would; the decisions go through the outbox to the server, which is asked
afterwards what it recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.inbox import InboxKind, confirmation_item_id, question_item_id
from core.model import QuestionStatus, QuestionType
from core.status import ContractStatus
from desktop.models.inbox import CONTRACT, WHAT
from desktop.views.main_window import INBOX
from tests.desktop.conftest import Loop, until
from tests.desktop.inbox_keys import asking, focused, press, shown_ready, type_text
from tests.desktop.live_desk import LiveWork, open_desk, waiting_for_confirmation
from tests.sync.server_fixture import CONFIG_TOML, ServerProcess, serving

pytestmark = pytest.mark.timeout(300)


def test_the_desk_opens_on_the_inbox_built_from_its_replica(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            window, page = desk.window, desk.window.inbox
            assert window.tabs.currentIndex() == INBOX  # the page the desk opens on
            guarded = await desk.waiting_for_confirmation("inbox-guarded")
            contract, question = await asking(desk.admin, desk.supervisor, "Which region?")
            assert guarded.pending_confirmation is not None
            confirm_id = confirmation_item_id(guarded.pending_confirmation.transition_id)
            question_id = question_item_id(question.id)
            await until(
                lambda: None not in (page.proxy.row_of(confirm_id), page.proxy.row_of(question_id)),
                30,
            )
            # Oldest first: the confirmation was requested before the question was asked.
            ids = [item.id for item in page.model.items()]
            assert ids.index(confirm_id) < ids.index(question_id)
            row = page.proxy.row_of(confirm_id)
            assert row is not None
            assert page.proxy.index(row, WHAT).data() == "Confirm phase"
            assert page.proxy.index(row, CONTRACT).data() == guarded.name
            # The badges: the tab and the tray count the same items as the list.
            count = page.count
            assert window.tabs.tabText(INBOX) == f"&Inbox ({count})"
            await until(lambda: len(window.notifier.waiting) == page.count, 10)
            # Selected: the decision pane beside the list, read from the replica.
            desk.click_row(qtbot, page.list, row)
            await shown_ready(page)
            assert "plan" in page.pane.heading.text().lower()
            assert "execute" in page.pane.heading.text().lower()
            assert "Plan Document" in page.pane.evidence.toPlainText()
            assert page.pane.history_model.rowCount() > 0  # the history since the request
            row = page.proxy.row_of(question_id)
            assert row is not None
            desk.click_row(qtbot, page.list, row)
            await shown_ready(page)
            assert "Which region?" in page.pane.question_text.text()
            assert page.pane.answer_text.isVisibleTo(page.pane)
            assert contract.id == page.current_item().contract_id  # type: ignore[union-attr]

    qloop.run(scenario(), 240)


def test_keyboard_triage_empties_a_20_item_inbox_without_the_mouse(
    qtbot: QtBot, qloop: Loop, tmp_path: Path
) -> None:
    (tmp_path / "desk").mkdir()
    with serving(tmp_path / "server", CONFIG_TOML) as server:
        qloop.run(_triage(server, qtbot, tmp_path / "desk"), 280)


async def _triage(server: ServerProcess, qtbot: QtBot, folder: Path) -> None:
    async with open_desk(server, folder, qtbot) as desk:
        admin, supervisor = desk.admin, desk.supervisor
        guarded = [await waiting_for_confirmation(admin, supervisor, f"g{i}") for i in range(10)]
        asked = [await asking(admin, supervisor, f"Free {i}?") for i in range(5)]
        picks = ["canary", "rolling"]
        asked += [
            await asking(admin, supervisor, f"Pick {i}?", QuestionType.CHOICE, picks)
            for i in range(3)
        ]
        asked += [
            await asking(admin, supervisor, f"Go {i}?", QuestionType.CONFIRMATION) for i in range(2)
        ]
        page = desk.window.inbox
        await until(lambda: page.count == 20, 60)
        desk.window.activateWindow()
        page.focus_list()
        assert page.current_item() is not None  # the oldest is selected already
        # j and k move (and come back), without a mouse.
        first = page.current_item()
        press(qtbot, "j")
        assert page.current_item() != first
        press(qtbot, "k")
        assert page.current_item() == first
        refused = 0
        for left in range(20, 0, -1):
            item = await shown_ready(page)
            assert focused() is page.list, (left, item)
            if item.kind is InboxKind.PHASE_CONFIRMATION and refused < 3:
                press(qtbot, "n")  # the cursor goes to the feedback box
                assert focused() is page.pane.feedback
                type_text(qtbot, "Add tests first")
                press(qtbot, Qt.Key.Key_Return)  # Enter sends
                refused += 1
            elif item.kind is InboxKind.PHASE_CONFIRMATION:
                press(qtbot, "y")
            else:
                press(qtbot, "a")
                question = page.pane.seen().question  # type: ignore[union-attr]
                assert question is not None
                if question.question_type is QuestionType.FREE_TEXT:
                    assert focused() is page.pane.answer_text
                    type_text(qtbot, f"answer to {question.question}")
                elif question.question_type is QuestionType.CHOICE:
                    assert focused() is page.pane.answer_choice
                    press(qtbot, Qt.Key.Key_Down)  # canary → rolling
                press(qtbot, Qt.Key.Key_Return)
            assert page.count == left - 1  # decided: out of the list at once
            if left > 1:
                assert page.current_item() is not None  # the next item is selected
                assert page.current_item() != item
        assert page.count == 0
        # What the server recorded: every decision, as taken.
        for contract in guarded:
            await until(lambda c=contract: _decided(desk.shown(c.id)), 60)
        moved = [desk.shown(c.id) for c in guarded]
        assert sum(1 for c in moved if c is not None and c.phase == "execute") == 7
        for _contract, question in asked:
            answered = await supervisor.get_question(question.id, wait=30)
            assert answered.status is QuestionStatus.ANSWERED
            if question.question_type is QuestionType.CHOICE:
                assert answered.answer == "rolling"
            elif question.question_type is QuestionType.CONFIRMATION:
                assert answered.answer == "yes"
            else:
                assert answered.answer == f"answer to {question.question}"
        await desk.backend.service.settle()
        await until(lambda: page.feed.items() == [] and page.count == 0, 30)


def _decided(contract: object) -> bool:
    status = getattr(contract, "status", None)
    return status is not None and status is not ContractStatus.WAITING_FOR_INPUT


def test_typing_survives_100_live_updates(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            page = desk.window.inbox
            guarded = await desk.waiting_for_confirmation("typing")
            contract, question = await asking(desk.admin, desk.supervisor, "Which database?")
            busy = [await desk.active(f"busy{i}") for i in range(3)]
            question_item = question_item_id(question.id)
            await until(lambda: page.proxy.row_of(question_item) is not None, 30)
            desk.window.activateWindow()
            page.select_item(question_item)
            page.focus_list()
            await shown_ready(page)
            press(qtbot, "a")
            type_text(qtbot, "Postgre")
            work = LiveWork(desk.supervisor, [guarded, contract, *busy])
            work.quiet.add(guarded.id)
            work.start()
            try:
                for _ in range(10):
                    ticks = desk.ticks[0]  # a hundred live updates in all (and question re-reads)
                    await until(lambda t=ticks: desk.ticks[0] >= t + 10, 30)
                    assert focused() is page.pane.answer_text  # never stolen
                    assert page.current_item() is not None
                    assert page.current_item().id == question_item  # type: ignore[union-attr]
                    assert page.pane.answer_text.text().startswith("Postgre")
                    type_text(qtbot, "S")
                assert page.pane.answer_text.text() == "Postgre" + "S" * 10
                assert page.pane.answer_text.cursorPosition() == len("Postgre") + 10
            finally:
                await work.stop()
            press(qtbot, Qt.Key.Key_Return)
            answered = await desk.supervisor.get_question(question.id, wait=30)
            assert answered.answer == "Postgre" + "S" * 10

    qloop.run(scenario(), 280)
