"""The decision pane (`decisionPane`): the selected inbox item, decided in place.

Beside the inbox list, never a modal. What it shows depends on the item's kind:

- a phase confirmation: current → next phase, each deliverable with its state (and, when the
  supervisor attached them, its summary rendered as Markdown and its link, which opens in
  the browser or file manager), the tasks, what is missing, the history since the request,
  a comment box and a feedback box;
- a question: the question, its choices (or Yes / No, or a text field), and the contract's
  recent history;
- anything else (a completion confirmation, a phase-ready notice, a stale contract): what
  it is, who blocks, the recent history, and "open the contract".

Everything is read from the replica (`SyncBridge.snapshot`), so it works offline, and read
again when the contract changes. A reload touches only what it shows, never what the
reviewer types: the text boxes belong to the item (their drafts are kept per contract or
question in `desktop.drafts`) and keep their text, cursor and focus through every refresh.

The pane decides nothing itself: it emits `confirmRequested`, `changesRequested`,
`answerRequested` with what the reviewer saw; the inbox page turns them into operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.clock import utc
from core.events import LoggedEvent
from core.gates import check_phase_readiness
from core.inbox import InboxItem, InboxKind
from core.model import Contract, Question, QuestionType, Task
from desktop.bridge import ContractSnapshot
from desktop.drafts import Drafts, answer_key, comment_key, feedback_key
from desktop.evidence_text import evidence_markdown, open_link
from desktop.models.detail import HistoryModel, TasksModel
from desktop.models.inbox import kind_text
from desktop.times import age_and_local
from desktop.views.dashboard import make_table
from desktop.views.phase_dialog import FEEDBACK_REQUIRED

RECENT = 10  # events of a contract's recent history shown beside a question

ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the reviewer was shown when deciding: the decision binds to it."""

    item: InboxItem
    contract: Contract
    tasks: tuple[Task, ...]
    question: Question | None = None


def _label(name: str, accessible: str, *, rich: bool = False) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setAccessibleName(accessible)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAccessibleName(text.replace("&", "").split(" (")[0])
    button.setAutoDefault(False)
    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the focus where it was
    return button


def _text_box(name: str, placeholder: str) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setObjectName(name)
    box.setAccessibleName(placeholder)
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setMaximumHeight(64)
    return box


def phase_name(contract: Contract, phase: str | None) -> str:
    for p in contract.phase_config.phases:
        if p.id == phase:
            return p.name
    return phase or "—"


class DecisionPane(QWidget):
    confirmRequested = Signal(object, str)  # Seen, comment
    changesRequested = Signal(object, str)  # Seen, feedback
    answerRequested = Signal(object, str)  # Seen, answer
    openRequested = Signal(str)  # contract id
    backToList = Signal()  # Esc in a box: the list takes the keys again

    def __init__(self, drafts: Drafts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("decisionPane")
        self.setAccessibleName("Decision")
        self.drafts = drafts
        self.item: InboxItem | None = None
        self.snapshot: ContractSnapshot | None = None
        self._markdown = ""
        self._editing: Question | None = None
        self.heading = _label("decisionHeading", "Item", rich=True)
        self.summary = _label("decisionSummary", "Details")
        self.stack = QStackedWidget()
        self.stack.setObjectName("decisionStack")
        self.empty_page = _label("decisionEmpty", "Nothing selected")
        self.empty_page.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_page.setText("Nothing waits on you.")
        self._build_confirmation()
        self._build_question()
        self.info_page = QWidget()
        self.open_button = _button("&Open the contract (o)", "decisionOpen")
        self.open_button.clicked.connect(self._open)
        info = QVBoxLayout(self.info_page)
        info.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        info.addStretch(1)
        for page in (self.empty_page, self.confirm_page, self.question_page, self.info_page):
            self.stack.addWidget(page)
        self.history_title = _label("decisionHistoryTitle", "History")
        self.history_model = HistoryModel(self)
        self.history_view = make_table(self.history_model, "decisionHistory", "History")
        self.error = _label("decisionError", "Error")
        self.error.setStyleSheet("color: #b00020")
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.summary)
        layout.addWidget(self.stack, 3)
        layout.addWidget(self.error)
        layout.addWidget(self.history_title)
        layout.addWidget(self.history_view, 2)
        self.show_item(None, None)

    # --- building ------------------------------------------------------------------------

    def _build_confirmation(self) -> None:
        page = QWidget()
        self.confirm_page = page
        self.evidence = QTextBrowser()
        self.evidence.setObjectName("decisionEvidence")
        self.evidence.setAccessibleName("Deliverables and their evidence")
        self.evidence.setOpenLinks(False)  # a link opens outside, never inside the pane
        self.evidence.anchorClicked.connect(open_link)
        self.evidence.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.tasks_model = TasksModel(self)
        self.tasks_view = make_table(self.tasks_model, "decisionTasks", "Tasks")
        self.tasks_view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.missing = _label("decisionMissing", "What is missing")
        self.comment = _text_box("decisionComment", "Comment (optional) — Enter confirms")
        self.feedback = _text_box("decisionFeedback", "Feedback for the supervisor — Enter sends")
        self.confirm_button = _button("&Confirm (y)", "decisionConfirm")
        self.changes_button = _button("Request c&hanges (n)", "decisionChanges")
        self.confirm_button.clicked.connect(self.confirm)
        self.changes_button.clicked.connect(self.request_changes)
        for box in (self.comment, self.feedback):
            box.installEventFilter(self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm_button)
        buttons.addWidget(self.changes_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Deliverables:"))
        layout.addWidget(self.evidence, 2)
        layout.addWidget(QLabel("Tasks:"))
        layout.addWidget(self.tasks_view, 1)
        layout.addWidget(self.missing)
        layout.addWidget(self.comment)
        layout.addWidget(self.feedback)
        layout.addLayout(buttons)
        self.comment.textChanged.connect(lambda: self._keep(self.comment, comment_key))
        self.feedback.textChanged.connect(lambda: self._keep(self.feedback, feedback_key))

    def _build_question(self) -> None:
        page = QWidget()
        self.question_page = page
        self.question_text = _label("decisionQuestion", "Question")
        self.answer_text = QLineEdit()
        self.answer_text.setObjectName("decisionAnswerText")
        self.answer_text.setAccessibleName("Answer")
        self.answer_text.setPlaceholderText("Type the answer — Enter sends")
        self.answer_text.textEdited.connect(self._keep_answer)
        self.answer_choice = QComboBox()
        self.answer_choice.setObjectName("decisionAnswerChoice")
        self.answer_choice.setAccessibleName("Choice — Enter sends")
        self.answer_choice.activated.connect(lambda _: self._keep_answer(self._choice()))
        self.yes_button = _button("&Yes", "decisionYes")
        self.no_button = _button("N&o", "decisionNo")
        self.yes_button.clicked.connect(lambda: self._send_answer("yes"))
        self.no_button.clicked.connect(lambda: self._send_answer("no"))
        self.send_button = _button("&Send answer (Enter)", "decisionSend")
        self.send_button.clicked.connect(self.answer)
        for widget in (self.answer_text, self.answer_choice, self.yes_button, self.no_button):
            widget.installEventFilter(self)
        row = QHBoxLayout()
        for widget in (self.answer_text, self.answer_choice, self.yes_button, self.no_button):
            row.addWidget(widget)
        row.addWidget(self.send_button)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.question_text)
        layout.addLayout(row)
        layout.addStretch(1)

    # --- showing -------------------------------------------------------------------------

    def show_item(self, item: InboxItem | None, snapshot: ContractSnapshot | None) -> None:
        """Show `item` as `snapshot` has it (None: not read yet). The same item shown
        again (a live update) changes only what changed; the boxes are left alone."""
        same = item is not None and self.item is not None and item.id == self.item.id
        self.item, self.snapshot = item, snapshot
        if not same:
            self.error.setText("")
            self._fill_boxes(item)
        if item is None:
            self.heading.setText("")
            self.summary.setText("")
            self.stack.setCurrentWidget(self.empty_page)
            self.history_title.setText("")
            self.history_model.set_events([])
            return
        self.heading.setText(f"<b>{_html(kind_text(item.kind))}</b> — {_html(item.contract_name)}")
        self.summary.setText(self._summary(item))
        if snapshot is None or snapshot.contract.id != item.contract_id:
            self._show_history([], "History: reading…")
            self._page_for(item)
            return
        if item.kind is InboxKind.PHASE_CONFIRMATION:
            self._show_confirmation(snapshot)
        elif item.kind is InboxKind.QUESTION:
            self._show_question(item, snapshot)
        else:
            self.stack.setCurrentWidget(self.info_page)
            self._show_history(snapshot.history[-RECENT:], "Recent history:")

    def _page_for(self, item: InboxItem) -> None:
        pages = {
            InboxKind.PHASE_CONFIRMATION: self.confirm_page,
            InboxKind.QUESTION: self.question_page,
        }
        self.stack.setCurrentWidget(pages.get(item.kind, self.info_page))

    def _summary(self, item: InboxItem) -> str:
        parts = [f"Phase: {item.phase}", f"Since {age_and_local(item.since)}"]
        if item.blocked_by:
            parts.append(f"Blocked by: {item.blocked_by}")
        return " · ".join(parts)

    def _show_confirmation(self, snapshot: ContractSnapshot) -> None:
        contract = snapshot.contract
        pending = contract.pending_confirmation
        target = pending.next_phase if pending else None
        current, following = phase_name(contract, contract.phase), phase_name(contract, target)
        self.heading.setText(
            f"<b>Confirm phase</b> — {_html(contract.name)}: {_html(current)} → {_html(following)}"
        )
        self.stack.setCurrentWidget(self.confirm_page)
        markdown = evidence_markdown(contract)
        if markdown != self._markdown:  # unchanged evidence keeps its scroll position
            self._markdown = markdown
            self.evidence.setMarkdown(markdown)
        self.tasks_model.set_rows(list(snapshot.detail.tasks))
        missing = check_phase_readiness(contract, snapshot.detail.tasks).missing
        self.missing.setText("Missing: " + "; ".join(missing) if missing else "Nothing is missing.")
        decidable = pending is not None and contract.version > 0
        self.confirm_button.setEnabled(decidable)
        self.changes_button.setEnabled(decidable)
        since = utc(pending.requested_at) if pending else None
        events = [e for e in snapshot.history if since is None or utc(e.at) >= since]
        self._show_history(events, "History since the request:")

    def _show_question(self, item: InboxItem, snapshot: ContractSnapshot) -> None:
        self.stack.setCurrentWidget(self.question_page)
        question = next((q for q in snapshot.detail.questions if q.id == item.question_id), None)
        self._show_history(snapshot.history[-RECENT:], "Recent history:")
        if question is None:
            self.question_text.setText("The question is being read…")
            return
        self.question_text.setText(f"{item.contract_name} asks: {question.question}")
        if _same_editor(question, self._editing):
            self._editing = question
            return
        self._editing = question
        draft = self.drafts.get(answer_key(question.id))
        kind = question.question_type
        self.answer_text.setVisible(kind is QuestionType.FREE_TEXT)
        self.answer_choice.setVisible(kind is QuestionType.CHOICE)
        self.yes_button.setVisible(kind is QuestionType.CONFIRMATION)
        self.no_button.setVisible(kind is QuestionType.CONFIRMATION)
        self.send_button.setVisible(kind is not QuestionType.CONFIRMATION)
        if kind is QuestionType.CHOICE:
            self.answer_choice.clear()
            self.answer_choice.addItems(list(question.choices))
            if draft in question.choices:
                self.answer_choice.setCurrentIndex(question.choices.index(draft))
        elif kind is QuestionType.FREE_TEXT and self.answer_text.text() != draft:
            self.answer_text.setText(draft)

    def _show_history(self, events: Sequence[LoggedEvent], title: str) -> None:
        self.history_title.setText(title)
        self.history_model.set_events(list(events))

    def _fill_boxes(self, item: InboxItem | None) -> None:
        """Another item: its own drafts in the boxes (filling is not typing: no draft
        is written back)."""
        self._editing = None
        self._markdown = ""
        self.evidence.clear()
        self.tasks_model.set_rows([])
        self.answer_choice.clear()
        for box, key in ((self.comment, comment_key), (self.feedback, feedback_key)):
            text = self.drafts.get(key(item.contract_id)) if item is not None else ""
            box.blockSignals(True)
            box.setPlainText(text)
            box.moveCursor(QTextCursor.MoveOperation.End)
            box.blockSignals(False)
        answer = ""
        if item is not None and item.question_id is not None:
            answer = self.drafts.get(answer_key(item.question_id))
        self.answer_text.setText(answer)

    def _keep(self, box: QPlainTextEdit, key: object) -> None:
        if self.item is not None and callable(key):
            self.drafts.put(key(self.item.contract_id), box.toPlainText())

    def _keep_answer(self, text: str) -> None:
        if self.item is not None and self.item.question_id is not None:
            self.drafts.put(answer_key(self.item.question_id), text)

    def _choice(self) -> str:
        return self.answer_choice.currentText()

    # --- the reviewer's keys -------------------------------------------------------------

    def focus_answer(self) -> bool:
        """`a` / Enter: the cursor into the answer's editor (False: no question shown)."""
        if self.item is None or self.item.kind is not InboxKind.QUESTION:
            return False
        for widget in (self.answer_text, self.answer_choice, self.yes_button):
            if not widget.isHidden():
                widget.setFocus(Qt.FocusReason.ShortcutFocusReason)
                return True
        return False

    def focus_feedback(self) -> bool:
        """`n`: the cursor into the feedback box (False: no confirmation shown)."""
        if self.item is None or self.item.kind is not InboxKind.PHASE_CONFIRMATION:
            return False
        self.feedback.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.feedback.moveCursor(QTextCursor.MoveOperation.End)
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        key, shift = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if key == Qt.Key.Key_Escape:
            self.backToList.emit()
            return True
        if key not in ENTER_KEYS or shift:
            return super().eventFilter(watched, event)  # Shift+Enter: a new line
        if watched is self.feedback:
            self.request_changes()
            return True
        if watched is self.comment:
            self.confirm()
            return True
        if watched in (self.answer_text, self.answer_choice):
            # Handled here, not by returnPressed: a line edit passes Enter on to its
            # parents, where the inbox would take it as "answer the next item".
            self.answer()
            return True
        if watched in (self.yes_button, self.no_button):
            self._send_answer("yes" if watched is self.yes_button else "no")
            return True
        return super().eventFilter(watched, event)

    # --- deciding ------------------------------------------------------------------------

    def seen(self) -> Seen | None:
        """What the reviewer sees now, if it can be decided on."""
        item, snapshot = self.item, self.snapshot
        if item is None or snapshot is None or snapshot.contract.id != item.contract_id:
            return None
        question = None
        if item.question_id is not None:
            question = next(
                (q for q in snapshot.detail.questions if q.id == item.question_id), None
            )
        return Seen(item, snapshot.contract, tuple(snapshot.detail.tasks), question)

    def confirm(self) -> None:
        seen = self.seen()
        if seen is None or seen.item.kind is not InboxKind.PHASE_CONFIRMATION:
            return
        if seen.contract.pending_confirmation is None:
            self.error.setText("This phase change was decided elsewhere: nothing to confirm.")
            return
        self.confirmRequested.emit(seen, self.comment.toPlainText().strip())

    def request_changes(self) -> None:
        seen = self.seen()
        if seen is None or seen.item.kind is not InboxKind.PHASE_CONFIRMATION:
            return
        feedback = self.feedback.toPlainText().strip()
        if not feedback:
            self.error.setText(FEEDBACK_REQUIRED)
            self.focus_feedback()
            return
        self.changesRequested.emit(seen, feedback)

    def answer(self) -> None:
        """Send the answer in the editor shown (text or choice)."""
        if self._editing is None:
            return
        if self._editing.question_type is QuestionType.CHOICE:
            self._send_answer(self._choice())
        elif self._editing.question_type is QuestionType.FREE_TEXT:
            self._send_answer(self.answer_text.text().strip())

    def _send_answer(self, answer: str) -> None:
        seen = self.seen()
        if seen is None or seen.question is None:
            return
        if not answer:
            self.error.setText("Type an answer first.")
            return
        self.answerRequested.emit(seen, answer)

    def _open(self) -> None:
        if self.item is not None:
            self.openRequested.emit(self.item.contract_id)

    def decided(self, item: InboxItem) -> None:
        """The decision on `item` is in the outbox: its drafts are done with."""
        if item.question_id is not None:
            self.drafts.drop(answer_key(item.question_id))
        if item.kind is InboxKind.PHASE_CONFIRMATION:
            self.drafts.drop(comment_key(item.contract_id))
            self.drafts.drop(feedback_key(item.contract_id))


def _same_editor(question: Question, shown: Question | None) -> bool:
    return (
        shown is not None
        and shown.id == question.id
        and shown.question_type is question.question_type
        and shown.choices == question.choices
    )


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
