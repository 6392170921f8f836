"""Helpers of the inbox tests: real key presses where a keyboard would send them, and
contracts in the states an inbox lists (against a real server, through its API)."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from core.inbox import InboxItem, InboxKind
from core.model import Contract, Question, QuestionType
from desktop.views.inbox_page import InboxPage
from sync.client import ContractClient
from tests.desktop.conftest import until


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "no widget has the keyboard focus"
    return widget


def press(qtbot: QtBot, key: str | Qt.Key, modifier: Qt.KeyboardModifier | None = None) -> None:
    """One key, sent where the keyboard would send it: the widget with the focus."""
    mods = modifier if modifier is not None else Qt.KeyboardModifier.NoModifier
    qtbot.keyClick(focused(), key, mods)


def type_text(qtbot: QtBot, text: str) -> None:
    qtbot.keyClicks(focused(), text)


async def shown_ready(page: InboxPage, within: float = 20) -> InboxItem:
    """The current item, once the pane has read its contract (and its question)."""

    def ready() -> bool:
        seen = page.pane.seen()
        if seen is None:
            return False
        return seen.item.kind is not InboxKind.QUESTION or seen.question is not None

    await until(ready, within)
    item = page.current_item()
    assert item is not None
    return item


async def asking(
    admin: ContractClient,
    supervisor: ContractClient,
    text: str,
    kind: QuestionType = QuestionType.FREE_TEXT,
    choices: list[str] | None = None,
) -> tuple[Contract, Question]:
    """An active contract whose supervisor asked `text`."""
    contract = await admin.create_contract(f"asks-{uuid.uuid4().hex[:6]}", "simple")
    await supervisor.create_task(contract.id, "supervisor", is_supervisor=True)
    await supervisor.change_status(contract.id, "active")
    question = await supervisor.ask_question(contract.id, text, kind.value, choices=choices)
    return contract, question
