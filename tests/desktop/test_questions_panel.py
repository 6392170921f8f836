"""Pending questions: the model (qtmodeltester) and the panel answering each kind in place."""

from __future__ import annotations

from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from core.model import Contract, Question, QuestionStatus, QuestionType
from desktop.models.questions_model import QUESTION_ROLE, QuestionsModel
from desktop.views.questions_panel import QuestionsPanel
from tests.core.factories import make_contract, make_question


class RecordingAnswers:
    """The `AnswerActions` port, recording every answer."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def answer_question(self, question_id: str, contract_id: str, answer: str) -> object:
        self.calls.append((question_id, contract_id, answer))
        return None


class InlineRunner:
    """The `Spawner` port without an event loop: runs a coroutine that never suspends."""

    def spawn(self, coro: Coroutine[Any, Any, Any], on_error: Any = None) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            coro.send(None)
        except StopIteration as finished:
            done.set_result(finished.value)
        else:  # pragma: no cover - the fake feed never awaits
            raise AssertionError("the fake feed suspended")
        return done


class FakeQuestionFeed(QObject):
    """The `QuestionFeed` port: pending questions and the contracts, in memory."""

    questionsChanged = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.contracts: dict[str, Contract] = {}
        self.questions: list[Question] = []
        self.runner = InlineRunner()
        self.reads = 0

    async def pending_questions(self) -> list[Question]:
        self.reads += 1
        return [q for q in self.questions if q.is_pending]


FREE = make_question(id="q1", contract_id="c1", question="Which database?")
CHOICE = make_question(
    id="q2",
    contract_id="c2",
    question="Which region?",
    question_type=QuestionType.CHOICE,
    choices=("eu-west", "us-east"),
)
CONFIRM = make_question(
    id="q3",
    contract_id="c1",
    question="Drop the old table?",
    question_type=QuestionType.CONFIRMATION,
)
NAMES = {"c1": "Billing", "c2": "Search"}


@pytest.fixture
def actions() -> RecordingAnswers:
    return RecordingAnswers()


@pytest.fixture
def panel(qtbot: QtBot, actions: RecordingAnswers) -> QuestionsPanel:
    shown = QuestionsPanel(None, actions)
    qtbot.addWidget(shown)
    shown.resize(700, 400)
    shown.show()
    return shown


def test_model_passes_qtmodeltester_through_every_kind_of_change(
    qtmodeltester: ModelTester,
) -> None:
    model = QuestionsModel()
    qtmodeltester.check(model)
    model.set_questions([FREE, CHOICE, CONFIRM], NAMES)
    qtmodeltester.check(model)
    assert model.rowCount() == 3 and model.columnCount() == 4
    assert model.data(model.index(0, 0)) == "Billing"
    assert model.data(model.index(1, 2)) == "choice"
    assert model.data(model.index(2, 1), QUESTION_ROLE) is CONFIRM
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Question"
    changed = make_question(id="q1", contract_id="c1", question="Which database, really?")
    model.set_questions([changed, CONFIRM], NAMES)  # q2 answered elsewhere, q1 edited
    qtmodeltester.check(model)
    assert [q.id for q in model.questions] == ["q1", "q3"]
    assert model.data(model.index(0, 1)) == "Which database, really?"
    model.set_questions([])
    qtmodeltester.check(model)
    assert model.rowCount() == 0


def test_model_updates_rows_in_place_without_a_reset(qtbot: QtBot) -> None:
    model = QuestionsModel()
    model.set_questions([FREE, CHOICE, CONFIRM], NAMES)
    events: list[str] = []
    model.modelReset.connect(lambda: events.append("reset"))
    model.rowsRemoved.connect(lambda _p, first, last: events.append(f"removed {first}-{last}"))
    model.rowsInserted.connect(lambda _p, first, last: events.append(f"inserted {first}-{last}"))
    model.dataChanged.connect(lambda top, _b: events.append(f"changed {top.row()}"))
    answered = make_question(id="q3", status=QuestionStatus.ANSWERED, answer="yes")
    extra = make_question(id="q4", contract_id="c2")
    model.set_questions([FREE, CHOICE, answered, extra], NAMES)
    assert events == ["removed 2-2", "inserted 2-2"]
    model.set_questions([FREE, CHOICE, extra], {"c1": "Billing v2", "c2": "Search"})
    assert events[2:] == ["changed 0", "changed 1", "changed 2"]  # a renamed contract


def test_free_text_is_answered_in_place_with_enter(
    qtbot: QtBot, panel: QuestionsPanel, actions: RecordingAnswers
) -> None:
    counts: list[int] = []
    panel.countChanged.connect(counts.append)
    panel.set_questions([FREE, CHOICE], NAMES)
    assert counts == [2] and panel.title.text() == "Pending questions (2)"
    assert panel.selected() == FREE  # the first question is selected for answering
    assert panel.editors.currentWidget() is panel.text_page
    assert panel.prompt.text() == "Billing asks: Which database?"
    assert not panel.text_send.isEnabled()
    qtbot.keyClicks(panel.text_edit, "PostgreSQL")
    with qtbot.waitSignal(panel.answered, timeout=1000) as answered:
        qtbot.keyClick(panel.text_edit, Qt.Key.Key_Return)
    assert answered.args == ["q1", "PostgreSQL"]
    assert actions.calls == [("q1", "c1", "PostgreSQL")]
    assert counts == [2, 1]
    assert panel.selected() == CHOICE  # the next one is ready to answer


def test_choice_is_answered_with_the_combo_box(
    qtbot: QtBot, panel: QuestionsPanel, actions: RecordingAnswers
) -> None:
    panel.set_questions([CHOICE], NAMES)
    assert panel.editors.currentWidget() is panel.choice_page
    assert [panel.choice_box.itemText(i) for i in range(panel.choice_box.count())] == [
        "eu-west",
        "us-east",
    ]
    panel.choice_box.setFocus()
    qtbot.keyClick(panel.choice_box, Qt.Key.Key_Down)
    assert panel.choice_box.currentText() == "us-east"
    qtbot.mouseClick(panel.choice_send, Qt.MouseButton.LeftButton)
    assert actions.calls == [("q2", "c2", "us-east")]
    assert panel.count == 0
    assert panel.editors.currentWidget() is panel.none_page


@pytest.mark.parametrize(("button", "answer"), [("yes_button", "yes"), ("no_button", "no")])
def test_confirmation_is_answered_with_yes_or_no(
    qtbot: QtBot, panel: QuestionsPanel, actions: RecordingAnswers, button: str, answer: str
) -> None:
    panel.set_questions([CONFIRM], NAMES)
    assert panel.editors.currentWidget() is panel.confirm_page
    qtbot.mouseClick(getattr(panel, button), Qt.MouseButton.LeftButton)
    assert actions.calls == [("q3", "c1", answer)]


def test_a_question_answered_elsewhere_disappears(qtbot: QtBot, panel: QuestionsPanel) -> None:
    panel.set_questions([FREE, CHOICE, CONFIRM], NAMES)
    panel.select_question("q2")
    with qtbot.waitSignal(panel.countChanged, timeout=1000) as changed:
        panel.set_questions([FREE, CONFIRM], NAMES)
    assert changed.args == [2]
    assert [q.id for q in panel.model.questions] == ["q1", "q3"]
    assert panel.selected() is not None and panel.selected() != CHOICE


def test_an_answer_in_flight_stays_hidden_until_the_feed_catches_up(
    qtbot: QtBot, panel: QuestionsPanel, actions: RecordingAnswers
) -> None:
    panel.set_questions([FREE, CONFIRM], NAMES)
    qtbot.keyClicks(panel.text_edit, "SQLite")
    qtbot.mouseClick(panel.text_send, Qt.MouseButton.LeftButton)
    panel.set_questions([FREE, CONFIRM], NAMES)  # the replica has not heard yet
    assert [q.id for q in panel.model.questions] == ["q3"]
    panel.set_questions([CONFIRM], NAMES)  # now it has
    panel.set_questions([FREE, CONFIRM], NAMES)  # (a new pending copy would show again)
    assert [q.id for q in panel.model.questions] == ["q3", "q1"]
    assert len(actions.calls) == 1


def test_follow_refreshes_from_the_feed_when_questions_change(
    qtbot: QtBot, panel: QuestionsPanel
) -> None:
    feed = FakeQuestionFeed()
    feed.contracts = {"c1": make_contract(id="c1", name="Billing")}
    feed.questions = [FREE]
    panel.follow(feed)  # what QuestionsPanel(bridge, operations) does at construction
    assert [q.id for q in panel.model.questions] == ["q1"]
    assert panel.model.data(panel.model.index(0, 0)) == "Billing"
    feed.questions = [FREE, CONFIRM]
    feed.questionsChanged.emit()
    assert panel.count == 2 and feed.reads == 2
    panel.stop_following()
    feed.questionsChanged.emit()
    assert feed.reads == 2


def test_rows_open_their_contract_and_controls_are_named(
    qtbot: QtBot, panel: QuestionsPanel
) -> None:
    panel.set_questions([FREE, CHOICE], NAMES)
    panel.table.setFocus()
    panel.table.setCurrentIndex(panel.model.index(1, 0))
    with qtbot.waitSignal(panel.openContractRequested, timeout=1000) as opened:
        qtbot.keyClick(panel.table, Qt.Key.Key_Return)
    assert opened.args == ["c2"]
    for widget in panel.findChildren(QWidget):
        if widget.isVisible() and widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            assert widget.accessibleName(), widget.objectName()


class FailingAnswers:
    """An `AnswerActions` whose answers fail to be written (the outbox refused)."""

    def __init__(self) -> None:
        self.futures: list[Future[None]] = []

    def answer_question(self, question_id: str, contract_id: str, answer: str) -> Future[None]:
        future: Future[None] = Future()
        self.futures.append(future)
        return future


def test_a_failed_answer_brings_the_question_back(qtbot: QtBot) -> None:
    failing = FailingAnswers()
    panel = QuestionsPanel(None, failing)
    qtbot.addWidget(panel)
    panel.set_questions([CONFIRM], NAMES)
    qtbot.mouseClick(panel.yes_button, Qt.MouseButton.LeftButton)
    assert panel.count == 0
    failing.futures[0].set_exception(RuntimeError("disk full"))
    assert panel.count == 1 and panel.selected() == CONFIRM
