"""The phase confirmation dialog: a guarded advance waits for the reviewer's yes or no.

It shows the current and the next phase, each deliverable of the current phase with its
state, the contract's tasks, and what is still missing — computed by
`core.gates.check_phase_readiness`, the same rule the server applies. Confirm (with an
optional comment) calls `confirm_phase`, Request changes (feedback required) calls
`request_changes`; both bind to the contract version the reviewer was shown, so a change
made meanwhile by someone else comes back as a conflict instead of being overwritten.

Tests drive it through its buttons and the `confirmed(comment)` / `changesRequested(feedback)`
signals; nothing here calls `exec()`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.gates import check_phase_readiness
from core.model import Contract, Task
from desktop.dialog_ports import PhaseActions
from desktop.drafts import Drafts, comment_key, feedback_key

FEEDBACK_REQUIRED = "Feedback is required to request changes."


def next_phase_of(contract: Contract) -> str | None:
    """The phase a confirmation would move to: the pending one, else the following one."""
    if contract.pending_confirmation is not None:
        return contract.pending_confirmation.next_phase
    return contract.phase_config.next_phase(contract.phase)


def _phase_name(contract: Contract, phase: str | None) -> str:
    for p in contract.phase_config.phases:
        if p.id == phase:
            return p.name
    return phase or "—"


class PhaseConfirmationDialog(QDialog):
    """Confirm or refuse the move of one contract to its next phase."""

    confirmed = Signal(str)  # the comment ("" when none)
    changesRequested = Signal(str)  # the feedback

    def __init__(
        self,
        contract: Contract,
        tasks: Sequence[Task],
        actions: PhaseActions,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("phaseConfirmationDialog")
        self.phase_actions = actions
        self.contract = contract
        self.version = contract.version
        self.target: str | None = None
        self._tasks: list[Task] = list(tasks)
        # Opened for a pending guarded advance: if that is resolved elsewhere meanwhile,
        # deciding again must not be possible (it would move the contract one phase further).
        self.for_pending = contract.pending_confirmation is not None
        self.resolved_elsewhere = False
        self._drafts: Drafts | None = None
        self.heading = self._label("phaseHeading", "Phase change")
        self.changed_note = self._label("phaseChangedNote", "Contract changed")
        self.changed_note.hide()
        self.deliverables = self._tree(
            "phaseDeliverables", "Deliverables", ["Deliverable", "State"]
        )
        self.tasks = self._tree("phaseTasks", "Tasks", ["Task", "Status"])
        self.missing = self._label("phaseMissing", "What is missing")
        self.comment = self._text("phaseComment", "Comment (optional)")
        self.feedback = self._text("phaseFeedback", "Feedback for the supervisor")
        self.error = self._label("phaseError", "Error")
        self.error.setStyleSheet("color: #b00020")
        self.buttons = QDialogButtonBox(self)
        self.confirm_button = self._button("&Confirm", "phaseConfirm", self.confirm)
        self.changes_button = self._button(
            "&Request changes", "phaseRequestChanges", self.reject_phase
        )
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setObjectName("phaseCancel")
        cancel.setAccessibleName("Cancel")
        cancel.clicked.connect(self.reject)
        self.cancel_button = cancel
        self._lay_out()
        self.show_contract(contract, tasks)

    # --- construction --------------------------------------------------------------------

    def _label(self, name: str, accessible: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setAccessibleName(accessible)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard)
        return label

    def _tree(self, name: str, accessible: str, headers: list[str]) -> QTreeWidget:
        tree = QTreeWidget(self)
        tree.setObjectName(name)
        tree.setAccessibleName(accessible)
        tree.setHeaderLabels(headers)
        tree.setRootIsDecorated(False)
        tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        tree.setMaximumHeight(120)
        return tree

    def _text(self, name: str, accessible: str) -> QPlainTextEdit:
        edit = QPlainTextEdit(self)
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        edit.setPlaceholderText(accessible)
        edit.setTabChangesFocus(True)  # Tab moves on, so the buttons stay keyboard-reachable
        edit.setMaximumHeight(70)
        return edit

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = self.buttons.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
        button.setObjectName(name)
        button.setAccessibleName(text.replace("&", ""))
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("Deliverables:", self.deliverables)
        form.addRow("Tasks:", self.tasks)
        form.addRow("Missing:", self.missing)
        form.addRow("C&omment:", self.comment)
        form.addRow("&Feedback:", self.feedback)
        for field in (self.comment, self.feedback):
            label = form.labelForField(field)
            if isinstance(label, QLabel):
                label.setBuddy(field)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.changed_note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    # --- content -------------------------------------------------------------------------

    def show_contract(self, contract: Contract, tasks: Sequence[Task]) -> None:
        """Show `contract` as it is now; from here on, actions bind to its version."""
        if contract.version != self.version:
            self.changed_note.setText(
                f"This contract changed while the dialog was open (version {self.version} → "
                f"{contract.version}); review it again before deciding."
            )
            self.changed_note.show()
        self.contract, self.version = contract, contract.version
        if self.for_pending and contract.pending_confirmation is None:
            self._resolved_elsewhere()
            return
        self.target = next_phase_of(contract)
        current, target = _phase_name(contract, contract.phase), _phase_name(contract, self.target)
        self.setWindowTitle(f"Confirm phase change — {contract.name}")
        self.heading.setText(f"<b>{contract.name}</b>: {current} → {target}")
        self._fill_deliverables(contract)
        self._fill_tasks(tasks)
        readiness = check_phase_readiness(contract, tasks)
        self.missing.setText(
            "\n".join(readiness.missing) if readiness.missing else "Nothing is missing."
        )
        self.confirm_button.setEnabled(self.target is not None)
        if self.target is None:
            self.confirm_button.setToolTip("The contract is in its last phase.")

    def _resolved_elsewhere(self) -> None:
        self.resolved_elsewhere = True
        self.changed_note.setText(
            "This phase change was decided elsewhere (by another reviewer or a timeout); "
            "there is nothing left to confirm."
        )
        self.changed_note.show()
        self.confirm_button.setEnabled(False)
        self.changes_button.setEnabled(False)

    def follow_updates(self, updates: SignalInstance) -> None:
        """Keep showing the contract as it changes: `updates` emits lists of Contracts (the
        bridge's `contractsUpdated`); tasks stay as given."""
        updates.connect(self._contracts_updated)

    def _contracts_updated(self, contracts: list[Contract]) -> None:
        for contract in contracts:
            if contract.id == self.contract.id and contract.version != self.version:
                self.show_contract(contract, self._tasks)

    def _fill_deliverables(self, contract: Contract) -> None:
        self.deliverables.clear()
        done = set(contract.completed_in(contract.phase))
        for d in contract.phase_config.deliverables_for(contract.phase):
            state = "done" if d.id in done else f"missing ({d.priority.value})"
            QTreeWidgetItem(self.deliverables, [d.name, state])
        if self.deliverables.topLevelItemCount() == 0:
            QTreeWidgetItem(self.deliverables, ["(this phase has no deliverables)", ""])

    def _fill_tasks(self, tasks: Sequence[Task]) -> None:
        self._tasks = list(tasks)
        self.tasks.clear()
        for task in tasks:
            name = f"{task.name} (supervisor)" if task.is_supervisor else task.name
            QTreeWidgetItem(self.tasks, [name, task.status.value])

    def keep_drafts(self, drafts: Drafts) -> None:
        """Start from the comment and feedback left unsent for this contract, and keep
        what is typed (a closed dialog, a refresh or a restart loses nothing)."""
        self._drafts = drafts
        for box, key in self._draft_boxes():
            box.setPlainText(drafts.get(key))
            box.moveCursor(QTextCursor.MoveOperation.End)  # go on typing where it stopped
            box.textChanged.connect(lambda b=box, k=key: drafts.put(k, b.toPlainText()))

    def _draft_boxes(self) -> list[tuple[QPlainTextEdit, str]]:
        cid = self.contract.id
        return [(self.comment, comment_key(cid)), (self.feedback, feedback_key(cid))]

    def _drop_drafts(self) -> None:
        """Sent (to the outbox): what was typed for this decision is done with."""
        if self._drafts is not None:
            for _, key in self._draft_boxes():
                self._drafts.drop(key)

    def focus_feedback(self) -> None:
        """Put the cursor in the feedback box (opened as "Request changes")."""
        self.feedback.setFocus()

    # --- actions -------------------------------------------------------------------------

    def confirm(self) -> None:
        if self.target is None or self.resolved_elsewhere:
            return
        comment = self.comment.toPlainText().strip()
        self.phase_actions.confirm_phase(
            self.contract.id, self.target, self.version, comment or None
        )
        self._drop_drafts()
        self.confirmed.emit(comment)
        self.accept()

    def reject_phase(self) -> None:
        if self.resolved_elsewhere:
            return
        feedback = self.feedback.toPlainText().strip()
        if not feedback:
            self.error.setText(FEEDBACK_REQUIRED)
            self.feedback.setFocus()
            return
        target = self.target or self.contract.phase
        self.phase_actions.request_changes(self.contract.id, target, self.version, feedback)
        self._drop_drafts()
        self.changesRequested.emit(feedback)
        self.accept()
