"""The Inbox page (`inboxPage`): everything that waits on this reviewer, decided in seconds.

Left, the list (`inboxList`), oldest first: what, which contract and phase, since when, and
for a stale contract who blocks it. Right, the decision pane (`decisionPane`) of the
selected item. Below, the keys:

    j / k or ↓ / ↑   move            y       confirm (with the comment typed, if any)
    n                request changes (the cursor goes to the feedback; Enter sends)
    a or Enter       answer (the cursor goes to the answer; Enter sends)
    o                open the contract (Contracts tab)      /   filter   Esc   back to the list
    Shift+j / k      select several confirmations; y then confirms them all (with a preview)
    Ctrl+Z           undo the last decision while it is still queued in the outbox

Letter keys act only while the list (or the pane outside a text box) has the focus: typed
into a box, a letter is text. After a decision the next item is selected and the list has
the focus again.

Live updates never touch what the reviewer is doing: the model changes row by row (never a
reset), so the selection stays on its item; the pane keeps its boxes; nothing takes the
focus. A decided item leaves the list at once and stays out of it while its decision is on
its way; it comes back if the decision is undone, refused or in conflict.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.inbox import InboxItem, InboxKind
from core.model import Contract
from desktop.bridge import ContractSnapshot, SyncBridge
from desktop.drafts import Drafts, answer_key, comment_key, feedback_key
from desktop.inbox import InboxFeed
from desktop.models.inbox import BLOCKED, CONTRACT, PHASE, SINCE, WHAT, InboxFilter, InboxModel
from desktop.operations import Operations
from desktop.views.decision_pane import ENTER_KEYS, DecisionPane, Seen
from sync.outbox import OutboxEntry, OutboxState

log = logging.getLogger(__name__)

KEYS = (
    ("j / k, ↓ / ↑", "move"),
    ("y", "confirm"),
    ("n", "request changes"),
    ("a, Enter", "answer"),
    ("o", "open the contract"),
    ("/", "filter"),
    ("Shift+j / k", "select several"),
    ("Ctrl+Z", "undo the last decision"),
    ("Esc", "back to the list"),
)
FOOTER = "   ".join(f"{keys}: {what}" for keys, what in KEYS)
SELECT = QItemSelectionModel.SelectionFlag
COMES_BACK = (OutboxState.CONFLICT, OutboxState.REJECTED, OutboxState.DROPPED)


@dataclass
class Decision:
    """A decision taken here: what it was on, and what was typed (restored on undo)."""

    item: InboxItem
    draft_key: str | None
    text: str
    entry_id: int | None = None
    undone: bool = False


class InboxList(QTableView):
    """The list: the page's keys first, the table's own (arrows, Home, End…) after."""

    def __init__(self, page: InboxPage) -> None:
        super().__init__(page)
        self._page = page

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._page.triage(event):
            return
        super().keyPressEvent(event)


class InboxPage(QWidget):
    countChanged = Signal(int)
    itemsShown = Signal(list)  # list[InboxItem] in the list now (for the tray)
    openContractRequested = Signal(str)
    message = Signal(str)  # for the status bar
    decided = Signal(str)  # item id, once its decision is in the outbox
    bulkRequested = Signal(list)  # list[Seen]: confirmations to confirm at once

    def __init__(
        self,
        bridge: SyncBridge,
        operations: Operations,
        drafts: Drafts,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("inboxPage")
        self.setAccessibleName("Inbox")
        self.bridge = bridge
        self.operations = operations
        self.drafts = drafts
        self.decisions: list[Decision] = []
        self._by_entry: dict[int, Decision] = {}
        self._snapshots: dict[str, ContractSnapshot] = {}  # contract id → last read
        self._loading: set[str] = set()
        self._again: set[str] = set()
        self._count = -1
        self._stopped = False
        self.feed = InboxFeed(bridge, self)
        self.model = InboxModel(self)
        self.model.now = bridge.now
        self.proxy = InboxFilter(self)
        self.proxy.setSourceModel(self.model)
        self.title = QLabel()
        self.title.setObjectName("inboxTitle")
        self.filter_box = QLineEdit()
        self.filter_box.setObjectName("inboxFilter")
        self.filter_box.setAccessibleName("Filter the inbox")
        self.filter_box.setPlaceholderText("Filter: kind, contract or phase (Esc clears)")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self.proxy.set_text)
        self.filter_box.installEventFilter(self)
        self.filter_box.hide()
        self.list = self._make_list()
        self.pane = DecisionPane(drafts)
        self.footer = QLabel(FOOTER)
        self.footer.setObjectName("inboxFooter")
        self.footer.setAccessibleName("Inbox keys")
        self.footer.setWordWrap(True)
        self._lay_out()
        self._connect()
        self._update_count()

    # --- building ------------------------------------------------------------------------

    def _make_list(self) -> InboxList:
        view = InboxList(self)
        view.setObjectName("inboxList")
        view.setAccessibleName("Waiting on you")
        view.setModel(self.proxy)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setTabKeyNavigation(False)
        view.setWordWrap(False)
        view.setAlternatingRowColors(True)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(24)
        header = view.horizontalHeader()
        for column in (WHAT, PHASE, SINCE, BLOCKED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(CONTRACT, QHeaderView.ResizeMode.Stretch)
        return view

    def _lay_out(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.title)
        column.addWidget(self.filter_box)
        column.addWidget(self.list, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("inboxSplit")
        split.addWidget(left)
        split.addWidget(self.pane)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split, 1)
        layout.addWidget(self.footer)

    def _connect(self) -> None:
        self.feed.itemsChanged.connect(self._items_changed)
        self.list.selectionModel().currentRowChanged.connect(self._current_changed)
        self.list.selectionModel().selectionChanged.connect(self._selection_changed)
        self.bridge.contractsChanged.connect(self._contracts_changed)
        self.bridge.questionsChanged.connect(self._questions_changed)
        self.bridge.outboxEntry.connect(self._outbox_entry)
        self.bridge.staleScanned.connect(self.model.redraw_ages)
        self.pane.confirmRequested.connect(self._confirm)
        self.pane.changesRequested.connect(self._request_changes)
        self.pane.answerRequested.connect(self._answer)
        self.pane.openRequested.connect(self.openContractRequested)
        self.pane.backToList.connect(self.focus_list)

    # --- the items -----------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self.model.rowCount()

    def _items_changed(self, items: list[InboxItem]) -> None:
        self.model.set_items(items)
        self._update_count()
        if not self.list.selectionModel().hasSelection() and self.proxy.rowCount() > 0:
            self.select_row(0)  # the first paint, or everything before was decided
        if self.current_item() != self.pane.item:  # unchanged: the pane has nothing to do
            self._show_current()

    def _update_count(self) -> None:
        count = self.model.rowCount()
        self.title.setText(f"Waiting on you ({count})" if count else "Nothing waits on you")
        if count != self._count:
            self._count = count
            self.countChanged.emit(count)
        self.itemsShown.emit(self.model.items())

    def current_item(self) -> InboxItem | None:
        index = self.list.currentIndex()
        return self.proxy.item_at(index.row()) if index.isValid() else None

    def selected_items(self) -> list[InboxItem]:
        rows = sorted(i.row() for i in self.list.selectionModel().selectedRows())
        return [item for item in (self.proxy.item_at(r) for r in rows) if item is not None]

    def select_item(self, item_id: str) -> bool:
        row = self.proxy.row_of(item_id)
        if row is not None:
            self.select_row(row)
        return row is not None

    def select_row(self, row: int, *, extend: bool = False) -> None:
        count = self.proxy.rowCount()
        if count == 0:
            return
        index = self.proxy.index(max(0, min(row, count - 1)), 0)
        flags = (SELECT.Select if extend else SELECT.ClearAndSelect) | SELECT.Rows
        self.list.selectionModel().setCurrentIndex(index, flags)
        self.list.scrollTo(index)

    def _current_changed(self, _now: QModelIndex, _before: QModelIndex) -> None:
        self._show_current()

    def _selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        if not self.list.currentIndex().isValid():
            self._show_current()

    def _show_current(self) -> None:
        """The pane shows the current item; the same item again changes only what changed."""
        item = self.current_item()
        snapshot = self._snapshots.get(item.contract_id) if item is not None else None
        self.pane.show_item(item, snapshot)
        if item is not None and snapshot is None:
            self._load(item.contract_id)

    # --- reading the selected contract ---------------------------------------------------

    def _load(self, contract_id: str) -> None:
        if self._stopped:
            return
        if contract_id in self._loading:
            self._again.add(contract_id)
            return
        self._loading.add(contract_id)
        task = self.bridge.runner.spawn(self.bridge.snapshot(contract_id))
        task.add_done_callback(lambda done: self._loaded(contract_id, done))

    def _loaded(self, contract_id: str, done: asyncio.Future[ContractSnapshot]) -> None:
        if not shiboken6.isValid(self):
            return
        self._loading.discard(contract_id)
        if done.cancelled() or done.exception() is not None:
            if not done.cancelled():
                log.info("inbox: %s could not be read: %s", contract_id, done.exception())
        else:
            self._snapshots = {contract_id: done.result()}  # only the one shown is kept
            current = self.current_item()
            if current is not None and current.contract_id == contract_id:
                self.pane.show_item(current, done.result())
        if contract_id in self._again:
            self._again.discard(contract_id)
            self._load(contract_id)

    def _contracts_changed(self, ids: list[str]) -> None:
        current = self.current_item()
        if current is not None and current.contract_id in ids:
            self._load(current.contract_id)

    def _questions_changed(self) -> None:
        current = self.current_item()
        if current is not None and current.kind is InboxKind.QUESTION:
            self._load(current.contract_id)

    # --- keys ----------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Keys the pane's buttons and read-only parts leave unused come here."""
        if not self.triage(event):
            super().keyPressEvent(event)

    def triage(self, event: QKeyEvent) -> bool:
        """The inbox's keys; True when the key was one of them."""
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods & ~Qt.KeyboardModifier.ShiftModifier:
            return False  # Ctrl/Alt combinations belong to the window's actions
        text, key = event.text(), event.key()
        acts = {
            "j": lambda: self.step(1),
            "k": lambda: self.step(-1),
            "J": lambda: self.step(1, extend=True),
            "K": lambda: self.step(-1, extend=True),
            "y": self.confirm,
            "n": self.request_changes,
            "a": self.answer,
            "o": self.open_current,
            "/": self.start_filter,
        }
        act = acts.get(text)
        if act is None and key in ENTER_KEYS and not mods:
            act = self.answer
        if act is None:
            return False
        act()
        return True

    def step(self, by: int, *, extend: bool = False) -> None:
        index = self.list.currentIndex()
        row = index.row() + by if index.isValid() else 0
        self.select_row(row, extend=extend)

    def focus_list(self) -> None:
        self.list.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def start_filter(self) -> None:
        self.filter_box.show()
        self.filter_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_box.selectAll()

    def eventFilter(self, watched: Any, event: Any) -> bool:
        pressed = isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress
        if watched is self.filter_box and pressed:
            return self._filter_key(event)
        return super().eventFilter(watched, event)

    def _filter_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.filter_box.clear()
            self.filter_box.hide()
            self.focus_list()
            return True
        if key in (*ENTER_KEYS, Qt.Key.Key_Down):
            if not self.list.currentIndex().isValid():
                self.select_row(0)
            self.focus_list()
            return True
        return False

    def open_current(self) -> None:
        item = self.current_item()
        if item is not None:
            self.openContractRequested.emit(item.contract_id)

    # --- deciding ------------------------------------------------------------------------

    def confirm(self) -> None:
        """`y`: several confirmations selected go to the bulk preview; one is confirmed."""
        chosen = self.selected_items()
        if len(chosen) > 1:
            self.bulkRequested.emit(chosen)
            return
        item = self.current_item()
        if item is None or item.kind is not InboxKind.PHASE_CONFIRMATION:
            self.message.emit("y confirms a phase change: select one first")
            return
        self.pane.confirm()

    def request_changes(self) -> None:
        if not self.pane.focus_feedback():
            self.message.emit("n requests changes to a phase change: select one first")

    def answer(self) -> None:
        if not self.pane.focus_answer():
            self.message.emit("a answers a question: select one first")

    def _confirm(self, seen: Seen, comment: str) -> None:
        pending = seen.contract.pending_confirmation
        if pending is None:
            return
        task = self.operations.confirm_evidence(seen.contract, comment or None)
        self._record(seen.item, task, comment_key(seen.contract.id), comment)

    def _request_changes(self, seen: Seen, feedback: str) -> None:
        pending = seen.contract.pending_confirmation
        if pending is None:
            return
        task = self.operations.request_changes(
            seen.contract.id, pending.next_phase, seen.contract.version, feedback
        )
        self._record(seen.item, task, feedback_key(seen.contract.id), feedback)

    def _answer(self, seen: Seen, answer: str) -> None:
        if seen.question is None:
            return
        task = self.operations.answer_question(seen.question.id, seen.contract.id, answer)
        self._record(seen.item, task, answer_key(seen.question.id), answer)

    def decide_confirmation(
        self, item: InboxItem, contract: Contract
    ) -> asyncio.Future[OutboxEntry]:
        """Confirm `item` as `contract` shows it (the bulk dialog's decisions)."""
        task = self.operations.confirm_evidence(contract)
        self._record(item, task, None, "", focus=False)
        return task

    def _record(
        self,
        item: InboxItem,
        task: asyncio.Future[OutboxEntry],
        key: str | None,
        text: str,
        *,
        focus: bool = True,
    ) -> None:
        """The decision is on its way: the item leaves the list, the next one is selected,
        the list has the focus again, and Ctrl+Z can take the decision back."""
        decision = Decision(item, key, text)
        self.decisions.append(decision)
        row = self.list.currentIndex().row()
        self.pane.decided(item)
        self.model.hide(item.id)
        self._update_count()
        if not self.list.selectionModel().hasSelection() or self.current_item() is None:
            self.select_row(row)
        if self.proxy.rowCount() == 0:
            self._show_current()
        if focus:
            self.focus_list()
        task.add_done_callback(lambda done: self._written(decision, done))

    def _written(self, decision: Decision, done: asyncio.Future[OutboxEntry]) -> None:
        if not shiboken6.isValid(self):
            return
        if done.cancelled() or done.exception() is not None:
            self._bring_back(decision)  # not in the outbox: the error presenter said why
            return
        decision.entry_id = done.result().id
        self._by_entry[decision.entry_id] = decision
        self.decided.emit(decision.item.id)

    def _outbox_entry(self, entry: OutboxEntry) -> None:
        decision = self._by_entry.get(entry.id)
        if decision is not None and entry.state in COMES_BACK:
            self._bring_back(decision)

    def _bring_back(self, decision: Decision) -> None:
        if decision.draft_key and decision.text:  # what was typed is there to revise
            self.drafts.put(decision.draft_key, decision.text)
        self.model.unhide(decision.item.id)
        self._update_count()
        if not self.list.selectionModel().hasSelection():
            self.select_item(decision.item.id)

    # --- undo ----------------------------------------------------------------------------

    def undo(self) -> None:
        """Ctrl+Z: the last decision taken here, while it is still queued in the outbox."""
        while self.decisions and self.decisions[-1].undone:
            self.decisions.pop()
        if not self.decisions:
            self.message.emit("Nothing to undo")
            return
        last = self.decisions[-1]
        if last.entry_id is None:
            self.message.emit("The decision is still being written: try again")
            return
        last.undone = True
        self.decisions.pop()
        task = self.operations.undo(last.entry_id)
        task.add_done_callback(lambda done: self._undone(last, done))

    def _undone(self, decision: Decision, done: asyncio.Future[OutboxEntry]) -> None:
        if not shiboken6.isValid(self) or done.cancelled():
            return
        if done.exception() is not None:
            decision.undone = False
            return  # too late (sent already): the error presenter said so
        self._bring_back(decision)
        self.select_item(decision.item.id)
        self.focus_list()
        self.message.emit("Undone: the decision was taken out of the outbox")

    def stop(self) -> None:
        """The window is closing: no more reads."""
        self._stopped = True
        self.feed.stop()
