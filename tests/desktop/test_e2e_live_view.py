"""What the table and the detail show while updates arrive (issue 8, items 5 and 13), end to
end against a real server.

- A contract that changes place (confirmed, or worked on) moves as one row: the rows the
  view has been told about never hold a contract twice or miss one, and the model passes
  qtmodeltester afterwards.
- Times read as ages ("12 s ago") with the full local time as the tooltip, in the table, the
  detail, its history (newest first, new events on top) and the questions; every table cell
  has a tooltip with its whole text.
- The window fits 1024 x 700 without squeezing any pane below its minimum size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path

import pytest
from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from core.model import Contract
from desktop.models.contracts import ACTIVITY, COLUMNS, ROW_ROLE
from desktop.times import local_text
from tests.desktop.conftest import Loop, until
from tests.desktop.live_desk import Desk, LiveWork, open_desk
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(300)
AGE = re.compile(r"^(just now|\d+ s ago|\d+ min ago)$")


class ToldRows:
    """The rows a view has been told about, rebuilt from the model's signals alone, and
    checked at every signal: each contract the model holds is there once, and no contract
    the desk still holds is ever removed (a removal drops the selection on that row, and a
    repaint before the re-insertion shows the table without it)."""

    def __init__(self, model: QAbstractItemModel, held: Callable[[], Collection[str]]) -> None:
        self.model = model
        self.held = held
        self.ids = [self._id(r) for r in range(model.rowCount())]
        self.problems: list[str] = []
        model.rowsInserted.connect(self._inserted)
        model.rowsRemoved.connect(self._removed)
        model.rowsMoved.connect(self._moved)
        model.layoutChanged.connect(self._relaid)
        model.modelReset.connect(self._relaid)

    def _id(self, row: int) -> str:
        contract = self.model.index(row, 0).data(ROW_ROLE)
        return contract.id if isinstance(contract, Contract) else ""

    def _inserted(self, _: QModelIndex, first: int, last: int) -> None:
        self.ids[first:first] = [self._id(r) for r in range(first, last + 1)]
        self._check("insert")

    def _removed(self, _: QModelIndex, first: int, last: int) -> None:
        gone = self.ids[first : last + 1]
        del self.ids[first : last + 1]
        for contract_id in gone:
            if contract_id in self.held():  # removed from the view, not from the desk
                self.problems.append(f"{contract_id} missing from the view after a removal")
        self._check("removal")

    def _moved(self, _: QModelIndex, first: int, last: int, __: QModelIndex, to: int) -> None:
        moving = self.ids[first : last + 1]
        del self.ids[first : last + 1]
        at = to if to < first else to - len(moving)
        self.ids[at:at] = moving
        self._check("move")

    def _relaid(self) -> None:
        self.ids = [self._id(r) for r in range(self.model.rowCount())]
        self._check("relayout")

    def _check(self, after: str) -> None:
        model_ids = [self._id(r) for r in range(self.model.rowCount())]
        if self.ids != model_ids:
            twice = sorted({i for i in self.ids if self.ids.count(i) > 1})
            self.problems.append(f"after a {after}: the view's rows differ (twice: {twice})")


def test_a_contract_that_moves_is_one_row_move_through_a_confirm(
    qtbot: QtBot,
    qloop: Loop,
    sync_server: ServerProcess,
    tmp_path: Path,
    qtmodeltester: ModelTester,
) -> None:
    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            waiting = [await desk.waiting_for_confirmation(f"guarded{i}") for i in range(3)]
            busy = [await desk.active(f"busy{i}") for i in range(3)]
            page = desk.window.contracts
            desk.window.show_contracts()
            await until(lambda: all((desk.shown(c.id) or c).version > 0 for c in waiting), 20)
            await until(lambda: all(desk.shown(c.id) for c in busy), 20)
            told = ToldRows(page.model, lambda: desk.bridge.contracts)
            work = LiveWork(desk.supervisor, busy).start()
            try:
                await desk.updates(4)  # the busy ones move to the top, one after another
                target = waiting[1]
                row = page.model.row_of(target.id)
                assert row is not None
                desk.click_row(qtbot, page.table, row)
                await until(desk.window.detail.buttons["confirm"].isEnabled, 10)
                qtbot.mouseClick(desk.window.detail.buttons["confirm"], Qt.MouseButton.LeftButton)
                dialog = next(d for d in desk.window.dialogs if d.isVisible())
                qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
                await until(lambda: (desk.shown(target.id) or target).phase == "execute", 20)
                await desk.updates(4)
            finally:
                await work.stop()
            assert told.problems == []
            assert told.ids == desk.table_ids()
            assert sorted(told.ids) == sorted(set(told.ids)) == sorted(desk.bridge.contracts)
            qtmodeltester.check(page.model, force_py=True)

    qloop.run(scenario(), 280)


def test_times_are_ages_with_local_times_and_history_is_newest_first(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            contract = await desk.active("timed")
            await desk.supervisor.ask_question(contract.id, "Which timezone?", "free_text")
            window, page, detail = desk.window, desk.window.contracts, desk.window.detail
            window.show_contracts()
            await until(lambda: desk.shown(contract.id) is not None, 20)
            row = page.model.row_of(contract.id)
            assert row is not None
            desk.click_row(qtbot, page.table, row)
            await until(lambda: detail.snapshot is not None, 10)
            work = LiveWork(desk.supervisor, [contract]).start()
            try:
                await desk.updates(4)
                newest = await _newest_shown_first(desk, contract)
                await desk.updates(3)
                assert await _newest_shown_first(desk, contract) > newest  # new ones on top
            finally:
                await work.stop()
            _assert_table_times_and_tooltips(desk, contract)
            history = detail.history_model
            when = history.index(0, 0)
            assert AGE.match(when.data()), when.data()
            event = history.rows[0]
            assert when.data(Qt.ItemDataRole.ToolTipRole) == local_text(event.at)
            summary = detail.summary.text()  # "Last activity: 3 s ago (2026-12-07 21:10:06 CET)"
            assert re.search(r"Last activity: (just now|\d+ s ago|\d+ min ago) \(\d{4}-", summary)
            window.show_questions()
            questions = window.questions.model
            await until(lambda: questions.rowCount() > 0, 20)
            asked = questions.index(0, 3)
            assert AGE.match(asked.data()), asked.data()
            assert asked.data(Qt.ItemDataRole.ToolTipRole) == local_text(
                questions.questions[0].asked_at
            )

    qloop.run(scenario(), 280)


async def _newest_shown_first(desk: Desk, contract: Contract) -> int:
    """The detail's history: row 0 is the latest event of the replica; returns its seq."""
    history = desk.window.detail.history_model
    latest = max(e.seq or 0 for e in await desk.bridge.replica.history(contract.id))
    await until(lambda: bool(history.rows) and (history.rows[0].seq or 0) >= latest, 10)
    seqs = [e.seq or 0 for e in history.rows]
    assert seqs == sorted(seqs, reverse=True)
    return seqs[0]


def _assert_table_times_and_tooltips(desk: Desk, contract: Contract) -> None:
    model = desk.window.contracts.model
    row = model.row_of(contract.id)
    assert row is not None
    shown = model.contract_at(row)
    assert shown is not None
    activity = model.index(row, ACTIVITY)
    assert AGE.match(activity.data()), activity.data()
    assert activity.data(Qt.ItemDataRole.ToolTipRole) == local_text(shown.last_activity_at)
    for column in range(len(COLUMNS)):
        cell = model.index(row, column)
        tip = cell.data(Qt.ItemDataRole.ToolTipRole)
        assert tip, f"no tooltip in column {COLUMNS[column]}"
        if column != ACTIVITY:
            assert str(cell.data()) in tip


def test_the_window_fits_1024_by_700(
    qtbot: QtBot, qloop: Loop, sync_server: ServerProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_desk(sync_server, tmp_path, qtbot) as desk:
            contract = await desk.waiting_for_confirmation("narrow")
            window = desk.window
            window.show_contracts()
            await until(lambda: desk.shown(contract.id) is not None, 20)
            window.open_contract(contract.id)
            await until(lambda: window.detail.snapshot is not None, 10)
            window.resize(1024, 700)
            await until(lambda: window.size().toTuple() == (1024, 700), 5)
            for tab in range(window.tabs.count()):
                window.tabs.setCurrentIndex(tab)
                await until(lambda: True, 1)
                _assert_nothing_squeezed(window.tabs.currentWidget())

    qloop.run(scenario(), 200)


def _assert_nothing_squeezed(page: QWidget) -> None:
    """Every pane and every button shown is at least as large as its minimum size."""
    panes = ["contractsPage", "contractDetail", "dashboardPage", "questionsPanel"]
    shown = [w for w in page.findChildren(QWidget) if w.isVisible()] + [page]
    for widget in shown:
        if widget.objectName() in panes or isinstance(widget, QPushButton):
            least = widget.minimumSizeHint()
            name = widget.objectName() or widget.text()  # type: ignore[attr-defined]
            assert widget.width() >= least.width(), f"{name}: {widget.width()} < {least}"
            assert widget.height() >= least.height(), f"{name}: {widget.height()} < {least}"
