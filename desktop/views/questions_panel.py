"""Pending questions: every open question, answered in place.

A table (`desktop.models.questions_model.QuestionsModel`) lists the questions; below it the
selected one is answered with the editor its kind calls for — a line edit for free text, a
combo box for a choice, Yes / No buttons for a confirmation. An answer goes through
`answer_question` (the outbox) and the row leaves the list at once; it stays hidden until
the feed no longer lists it, so it cannot be answered twice while the answer travels. A
question answered elsewhere simply disappears at the next refresh.

`countChanged(int)` feeds the main window's badge. `QuestionsPanel(bridge, operations)`
follows the bridge: the list is read again from the replica whenever it says questions
changed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import shiboken6
from PySide6.QtCore import QItemSelection, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.model import Question, QuestionType
from desktop.dialog_ports import AnswerActions, QuestionFeed
from desktop.drafts import Drafts, answer_key
from desktop.models.questions_model import QuestionsModel


def _button(parent: QWidget, text: str, name: str) -> QPushButton:
    button = QPushButton(text, parent)
    button.setObjectName(name)
    button.setAccessibleName(text.replace("&", ""))
    return button


class QuestionsPanel(QWidget):
    """The list of pending questions with an in-place answer editor."""

    countChanged = Signal(int)
    answered = Signal(str, str)  # question id, answer
    openContractRequested = Signal(str)  # contract id (Enter or double click on a row)

    def __init__(
        self,
        feed: QuestionFeed | None,
        actions: AnswerActions,
        parent: QWidget | None = None,
        *,
        drafts: Drafts | None = None,
    ) -> None:
        """`feed` (the bridge) is followed at once; None leaves filling to `set_questions`.
        `drafts` keeps unsent answers per question (in memory when not given)."""
        super().__init__(parent)
        self.drafts = drafts or Drafts()
        self._editing: Question | None = None  # the question the editor shows
        self.setObjectName("questionsPanel")
        self.setAccessibleName("Pending questions")
        self.answer_actions = actions
        self.model = QuestionsModel(self)
        self._sent: set[str] = set()  # answered here, still listed by the feed
        self._count = 0
        self._feed: QuestionFeed | None = None
        self._refreshing = False
        self._dirty = False
        self.title = QLabel(self)
        self.title.setObjectName("questionsTitle")
        self.table = self._table()
        self.prompt = QLabel(self)
        self.prompt.setObjectName("questionPrompt")
        self.prompt.setWordWrap(True)
        self.prompt.setAccessibleName("Selected question")
        self.editors = QStackedWidget(self)
        self.editors.setObjectName("answerEditors")
        self._build_editors()
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.prompt)
        layout.addWidget(self.editors)
        self._update_count()
        self._show_selected()
        if feed is not None:
            self.follow(feed)

    # --- construction --------------------------------------------------------------------

    def _table(self) -> QTableView:
        table = QTableView(self)
        table.setObjectName("questionsTable")
        table.setAccessibleName("Pending questions")
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = table.horizontalHeader()
        for column in (0, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().hide()
        table.selectionModel().selectionChanged.connect(self._selection_changed)
        table.activated.connect(lambda index: self._open_row(index.row()))
        return table

    def _build_editors(self) -> None:
        self.none_page = QLabel("Select a question to answer it.", self.editors)
        self.none_page.setObjectName("answerNone")
        self.text_page, self.text_edit, self.text_send = self._text_editor()
        self.choice_page, self.choice_box, self.choice_send = self._choice_editor()
        self.confirm_page, self.yes_button, self.no_button = self._confirm_editor()
        for page in (self.none_page, self.text_page, self.choice_page, self.confirm_page):
            self.editors.addWidget(page)

    def _text_editor(self) -> tuple[QWidget, QLineEdit, QPushButton]:
        page = QWidget(self.editors)
        edit = QLineEdit(page)
        edit.setObjectName("answerText")
        edit.setAccessibleName("Answer")
        edit.setPlaceholderText("Type the answer and press Enter")
        send = _button(page, "&Send answer", "answerTextSend")
        edit.returnPressed.connect(self._send_text)
        edit.textChanged.connect(lambda text: send.setEnabled(bool(text.strip())))
        edit.textEdited.connect(self._keep_draft)  # the reviewer's typing, not our filling
        send.clicked.connect(self._send_text)
        row = QHBoxLayout(page)
        row.addWidget(edit, 1)
        row.addWidget(send)
        return page, edit, send

    def _choice_editor(self) -> tuple[QWidget, QComboBox, QPushButton]:
        page = QWidget(self.editors)
        box = QComboBox(page)
        box.setObjectName("answerChoice")
        box.setAccessibleName("Choice")
        send = _button(page, "&Send choice", "answerChoiceSend")
        send.clicked.connect(lambda: self._send(box.currentText()))
        box.activated.connect(lambda _: self._keep_draft(box.currentText()))  # a pick
        row = QHBoxLayout(page)
        row.addWidget(box, 1)
        row.addWidget(send)
        return page, box, send

    def _confirm_editor(self) -> tuple[QWidget, QPushButton, QPushButton]:
        page = QWidget(self.editors)
        yes = _button(page, "&Yes", "answerYes")
        no = _button(page, "&No", "answerNo")
        yes.clicked.connect(lambda: self._send("yes"))
        no.clicked.connect(lambda: self._send("no"))
        row = QHBoxLayout(page)
        row.addWidget(yes)
        row.addWidget(no)
        row.addStretch(1)
        return page, yes, no

    # --- content -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._count

    def set_questions(
        self, questions: Sequence[Question], names: Mapping[str, str] | None = None
    ) -> None:
        """Show the pending `questions`; `names` maps contract ids to contract names."""
        listed = {q.id for q in questions}
        self._sent &= listed  # the feed has caught up with these answers
        self.model.set_questions([q for q in questions if q.id not in self._sent], names)
        self._after_change()

    def _after_change(self) -> None:
        self._update_count()
        if self.selected() is None and self.model.rowCount() > 0:
            self.table.selectRow(0)
        self._show_selected()

    def _update_count(self) -> None:
        count = self.model.rowCount()
        self.title.setText(f"Pending questions ({count})")
        if count != self._count:
            self._count = count
            self.countChanged.emit(count)

    def selected(self) -> Question | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.question_at(rows[0].row()) if rows else None

    def select_question(self, question_id: str) -> bool:
        row = self.model.row_of(question_id)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    def _selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        """Show the selected question in its editor. A refresh that leaves the same
        question selected touches nothing: the choice picked and the text typed stay."""
        question = self.selected()
        if question is not None and _same_editor(question, self._editing):
            self._editing = question
            self._show_prompt(question)
            return
        self._editing = question
        if question is None:
            self.prompt.setText("")
            self.editors.setCurrentWidget(self.none_page)
            return
        self._show_prompt(question)
        draft = self.drafts.get(answer_key(question.id))
        if question.question_type is QuestionType.CHOICE:
            self.choice_box.clear()
            self.choice_box.addItems(list(question.choices))
            if draft in question.choices:
                self.choice_box.setCurrentIndex(question.choices.index(draft))
            self.editors.setCurrentWidget(self.choice_page)
        elif question.question_type is QuestionType.CONFIRMATION:
            self.editors.setCurrentWidget(self.confirm_page)
        else:
            self.text_edit.setText(draft)
            self.text_send.setEnabled(bool(draft.strip()))
            self.editors.setCurrentWidget(self.text_page)

    def _show_prompt(self, question: Question) -> None:
        self.prompt.setText(f"{self.model.contract_name(question)} asks: {question.question}")

    def _keep_draft(self, text: str) -> None:
        if self._editing is not None:
            self.drafts.put(answer_key(self._editing.id), text)

    # --- answering -----------------------------------------------------------------------

    def _send_text(self) -> None:
        text = self.text_edit.text().strip()
        if text:
            self._send(text)

    def _send(self, answer: str) -> None:
        question = self.selected()
        if question is None or not answer:
            return
        sending = self.answer_actions.answer_question(question.id, question.contract_id, answer)
        self._sent.add(question.id)
        self.drafts.drop(answer_key(question.id))  # in the outbox now: the draft is done
        if isinstance(sending, asyncio.Future | concurrent.futures.Future):
            sending.add_done_callback(functools.partial(self._answer_settled, question, answer))
        row = self.model.row_of(question.id)
        self.model.set_questions([q for q in self.model.questions if q.id != question.id])
        self.answered.emit(question.id, answer)
        if self.model.rowCount() > 0:
            self.table.selectRow(min(row, self.model.rowCount() - 1))
        self._after_change()
        self.table.setFocus()

    def _answer_settled(self, question: Question, answer: str, done: Any) -> None:
        """If writing the answer failed (the error presenter has said why), show the
        question again, with the answer as its draft, so it can be sent again."""
        if not shiboken6.isValid(self) or done.cancelled() or done.exception() is None:
            return
        self._sent.discard(question.id)
        self.drafts.put(answer_key(question.id), answer)
        listed = [*self.model.questions, question]
        self.model.set_questions(listed)
        self._after_change()
        self.refresh()

    def _open_row(self, row: int) -> None:
        question = self.model.question_at(row)
        if question is not None:
            self.openContractRequested.emit(question.contract_id)

    # --- following the bridge ------------------------------------------------------------

    def follow(self, feed: QuestionFeed) -> None:
        """Refresh from `feed.pending_questions()` now and whenever questions change."""
        self._feed = feed
        feed.questionsChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        feed = self._feed
        if feed is None:
            return
        if self._refreshing:
            self._dirty = True  # one more read once the running one is done
            return
        self._refreshing, self._dirty = True, False
        task = feed.runner.spawn(feed.pending_questions())
        task.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Future[list[Question]]) -> None:
        if not shiboken6.isValid(self):
            return
        self._refreshing = False
        if not task.cancelled() and task.exception() is None and self._feed is not None:
            contracts = self._feed.contracts
            names = {cid: contracts[cid].name for cid in contracts}
            self.set_questions(task.result(), names)
        if self._dirty:
            self.refresh()

    def stop_following(self) -> None:
        if self._feed is not None:
            with contextlib.suppress(RuntimeError, TypeError):  # the bridge may be gone
                self._feed.questionsChanged.disconnect(self.refresh)
            self._feed = None


def _same_editor(question: Question, shown: Question | None) -> bool:
    """The editor already shows this question as it is (same kind, same choices)."""
    return (
        shown is not None
        and shown.id == question.id
        and shown.question_type is question.question_type
        and shown.choices == question.choices
    )
