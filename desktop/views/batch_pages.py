"""The pages of the batch-operation wizard (`desktop.views.batch_wizard.BatchWizard`).

Each page reads what it needs from its wizard (`owner`): the chosen operation, the parsed
request, the dry run's answer. Parameters are validated with `core.batch.BatchRequest.parse`;
the preview and the results ask the wizard to run the batch and fill a `BatchPreviewModel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.batch import (
    DEFAULT_ARCHIVE_AFTER_HOURS,
    DEFAULT_CLEANUP_AFTER_HOURS,
    BatchOperation,
    BatchRequest,
)
from core.errors import ValidationFailed
from desktop.models.batch_preview_model import BatchPreviewModel, rows_from_answer

if TYPE_CHECKING:
    from desktop.views.batch_wizard import BatchWizard

ADMIN_ONLY = (
    "Batch operations need an admin key. The key this desk uses is not an admin key, so "
    "archiving, pausing, resuming, cleaning up or restarting many contracts at once is not "
    "available here. Ask an administrator, or connect with an admin key in Settings."
)

OPERATIONS: Mapping[BatchOperation, tuple[str, str, str]] = {
    # operation: (label, what it does, verb for the confirmation)
    BatchOperation.ARCHIVE_OLD: (
        "&Archive old contracts",
        "Archive completed and failed contracts older than a threshold.",
        "archive",
    ),
    BatchOperation.PAUSE_ALL: (
        "&Pause all",
        "Pause every active or waiting contract.",
        "pause",
    ),
    BatchOperation.RESUME_ALL: ("&Resume all", "Resume every paused contract.", "resume"),
    BatchOperation.CLEANUP_ARCHIVED: (
        "&Clean up archived",
        "Delete archived contracts older than a threshold. This cannot be undone.",
        "delete",
    ),
    BatchOperation.RESTART_STALE: (
        "Restart &stale",
        "Ask the supervisors of stale contracts to restart.",
        "restart the supervisors of",
    ),
}


def _label(parent: QWidget, name: str, text: str = "") -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


class UnavailablePage(QWizardPage):
    """The only page a non-admin sees."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("batchUnavailablePage")
        self.setTitle("Batch operations are not available")
        self.reason = _label(self, "batchUnavailableReason", ADMIN_ONLY)
        self.reason.setAccessibleName("Why batch operations are unavailable")
        QVBoxLayout(self).addWidget(self.reason)
        self.setFinalPage(True)


class OperationPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("batchOperationPage")
        self.setTitle("Choose an operation")
        self.group = QButtonGroup(self)
        self.buttons: dict[BatchOperation, QRadioButton] = {}
        layout = QVBoxLayout(self)
        for operation, (label, what, _) in OPERATIONS.items():
            button = QRadioButton(label, self)
            button.setObjectName(f"batchOp_{operation.value}")
            button.setAccessibleName(label.replace("&", ""))
            button.setAccessibleDescription(what)
            button.setToolTip(what)
            self.group.addButton(button)
            self.buttons[operation] = button
            layout.addWidget(button)
            layout.addWidget(_label(self, f"batchOpHelp_{operation.value}", what))
        self.buttons[BatchOperation.ARCHIVE_OLD].setChecked(True)

    def operation(self) -> BatchOperation:
        for operation, button in self.buttons.items():
            if button.isChecked():
                return operation
        return BatchOperation.ARCHIVE_OLD

    def choose(self, operation: BatchOperation) -> None:
        self.buttons[operation].setChecked(True)


class ParametersPage(QWizardPage):
    def __init__(self, wizard: BatchWizard) -> None:
        super().__init__(wizard)
        self.owner = wizard
        self.setObjectName("batchParametersPage")
        self.setTitle("Parameters")
        self.older = self._spin("batchOlderThan", "Older than (hours)", " h", 1_000_000)
        self.completed = self._check("batchStatusCompleted", "&completed")
        self.failed = self._check("batchStatusFailed", "fa&iled")
        self.reason = QLineEdit(self)
        self.reason.setObjectName("batchReason")
        self.reason.setAccessibleName("Reason")
        self.reason.setPlaceholderText("batch pause")
        self.use_default = self._check("batchStaleDefault", "Use the server's stale &threshold")
        self.threshold = self._spin("batchStaleMinutes", "Stale for (minutes)", " min", 100_000)
        self.use_default.toggled.connect(lambda on: self.threshold.setEnabled(not on))
        self.nothing = _label(self, "batchNoParameters", "This operation takes no parameters.")
        self.error = _label(self, "batchParameterError")
        self.error.setStyleSheet("color: #b00020")
        self.form = QFormLayout()
        self.form.addRow("&Older than:", self.older)
        self.form.addRow("Statuses:", self.completed)
        self.form.addRow("", self.failed)
        self.form.addRow("R&eason:", self.reason)
        self.form.addRow("", self.use_default)
        self.form.addRow("Stale for &at least:", self.threshold)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.nothing)
        layout.addWidget(self.error)
        self.request: BatchRequest | None = None

    def _spin(self, name: str, accessible: str, suffix: str, top: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setObjectName(name)
        spin.setAccessibleName(accessible)
        spin.setRange(0, top)
        spin.setDecimals(1)
        spin.setSuffix(suffix)
        return spin

    def _check(self, name: str, text: str) -> QCheckBox:
        box = QCheckBox(text, self)
        box.setObjectName(name)
        box.setAccessibleName(text.replace("&", ""))
        return box

    def initializePage(self) -> None:
        operation = self.owner.operation_page.operation()
        self.setSubTitle(OPERATIONS[operation][1])
        self.error.setText("")
        uses = {
            self.older: operation in (BatchOperation.ARCHIVE_OLD, BatchOperation.CLEANUP_ARCHIVED),
            self.completed: operation is BatchOperation.ARCHIVE_OLD,
            self.failed: operation is BatchOperation.ARCHIVE_OLD,
            self.reason: operation is BatchOperation.PAUSE_ALL,
            self.use_default: operation is BatchOperation.RESTART_STALE,
            self.threshold: operation is BatchOperation.RESTART_STALE,
        }
        for widget, used in uses.items():
            self.form.setRowVisible(widget, used)
        self.nothing.setVisible(not any(uses.values()))
        default = DEFAULT_CLEANUP_AFTER_HOURS
        if operation is BatchOperation.ARCHIVE_OLD:
            default = DEFAULT_ARCHIVE_AFTER_HOURS
        self.older.setValue(default)
        self.completed.setChecked(True)
        self.failed.setChecked(True)
        self.use_default.setChecked(True)
        self.threshold.setValue(30)
        self.threshold.setEnabled(False)

    def raw(self) -> dict[str, Any]:
        """The body as the form says (before core's parser fills defaults)."""
        operation = self.owner.operation_page.operation()
        raw: dict[str, Any] = {"operation": operation.value}
        if operation in (BatchOperation.ARCHIVE_OLD, BatchOperation.CLEANUP_ARCHIVED):
            raw["older_than_hours"] = self.older.value()
        if operation is BatchOperation.ARCHIVE_OLD:
            chosen = [("completed", self.completed), ("failed", self.failed)]
            raw["status_filter"] = [name for name, box in chosen if box.isChecked()]
        if operation is BatchOperation.PAUSE_ALL:
            raw["reason"] = self.reason.text()
        if operation is BatchOperation.RESTART_STALE and not self.use_default.isChecked():
            raw["stale_threshold_minutes"] = self.threshold.value()
        return raw

    def validatePage(self) -> bool:
        raw = self.raw()
        if raw.get("status_filter") == []:
            # core reads an empty filter as "the default"; an unticked form means "none".
            self.error.setText("Choose at least one status to archive.")
            return False
        try:
            self.request = BatchRequest.parse(raw)
        except ValidationFailed as refused:
            self.error.setText(refused.message)
            return False
        return True


class PreviewPage(QWizardPage):
    """The dry run: what the operation would touch."""

    def __init__(self, wizard: BatchWizard) -> None:
        super().__init__(wizard)
        self.owner = wizard
        self.setObjectName("batchPreviewPage")
        self.setTitle("Preview")
        self.summary, self.model, self.table = _summary_and_table(
            self, "batchPreview", "Preview summary", "Contracts the operation would touch"
        )
        self.answer: dict[str, Any] | None = None

    def initializePage(self) -> None:
        self.answer = None
        self.model.clear()
        self.summary.setText("Asking the server for a dry run…")
        self.completeChanged.emit()
        self.owner.ask(True, self._answered, self._failed)

    def _answered(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.model.set_rows(rows_from_answer(answer, self.owner.contracts, self.owner.why()))
        count = int(answer.get("affected_count") or 0)
        skipped = len(answer.get("errors") or [])
        verb = OPERATIONS[self.owner.operation_page.operation()][2]
        text = f"{count} contract(s) would be affected ({verb})."
        if skipped:
            text += f" {skipped} would be skipped (see the list)."
        self.summary.setText(text if count else "Nothing to do: no contract matches.")
        self.completeChanged.emit()
        self.owner.previewReady.emit(answer)

    def _failed(self, message: str) -> None:
        text = message if message == ADMIN_ONLY else f"The dry run failed: {message}"
        self.summary.setText(text)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.answer is not None and int(self.answer.get("affected_count") or 0) > 0

    @property
    def count(self) -> int:
        return int((self.answer or {}).get("affected_count") or 0)


class ConfirmPage(QWizardPage):
    """The explicit yes: a tick, or typing the count for an operation that deletes."""

    def __init__(self, wizard: BatchWizard) -> None:
        super().__init__(wizard)
        self.owner = wizard
        self.setObjectName("batchConfirmPage")
        self.setTitle("Confirm")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Run")
        self.statement = _label(self, "batchConfirmStatement")
        self.agree = QCheckBox(self)
        self.agree.setObjectName("batchConfirmCheck")
        self.agree.setAccessibleName("Confirm the batch operation")
        self.typed = QLineEdit(self)
        self.typed.setObjectName("batchConfirmCount")
        self.typed.setAccessibleName("Type the number of contracts to delete")
        self.agree.toggled.connect(self.completeChanged)
        self.typed.textChanged.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(self.statement)
        layout.addWidget(self.agree)
        layout.addWidget(self.typed)

    @property
    def deletes(self) -> bool:
        return self.owner.operation_page.operation() is BatchOperation.CLEANUP_ARCHIVED

    def initializePage(self) -> None:
        count = self.owner.preview_page.count
        verb = OPERATIONS[self.owner.operation_page.operation()][2]
        self.agree.setChecked(False)
        self.typed.clear()
        self.agree.setVisible(not self.deletes)
        self.typed.setVisible(self.deletes)
        if self.deletes:
            self.statement.setText(
                f"This deletes {count} archived contract(s) and their history for good. "
                f"Type {count} to confirm."
            )
        else:
            self.statement.setText(f"You are about to {verb} {count} contract(s).")
            self.agree.setText(f"&Yes, {verb} these {count} contract(s)")

    def isComplete(self) -> bool:
        if self.deletes:
            return self.typed.text().strip() == str(self.owner.preview_page.count)
        return self.agree.isChecked()


class ResultsPage(QWizardPage):
    """The real run, with each contract's outcome or error."""

    def __init__(self, wizard: BatchWizard) -> None:
        super().__init__(wizard)
        self.owner = wizard
        self.setObjectName("batchResultsPage")
        self.setTitle("Results")
        self.summary, self.model, self.table = _summary_and_table(
            self, "batchResults", "Results summary", "Outcome per contract"
        )
        self.answer: dict[str, Any] | None = None
        self.failed = False

    def initializePage(self) -> None:
        self.summary.setText("Running…")
        self.owner.ask(False, self._answered, self._failed)

    def _answered(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.model.set_rows(rows_from_answer(answer, self.owner.contracts))
        errors = len(answer.get("errors") or [])
        done = int(answer.get("affected_count") or 0)
        self.summary.setText(f"Done: {done} contract(s) changed, {errors} error(s).")
        self.completeChanged.emit()
        self.owner.batchFinished.emit(answer)

    def _failed(self, message: str) -> None:
        self.failed = True
        self.summary.setText(f"The batch operation failed: {message}")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.answer is not None or self.failed


NAME_WIDTH_MAX = 320  # px: longer names are cut off (with a tooltip) instead of crowding out


def _fit_columns(table: QTableView) -> None:
    """Names and statuses as wide as they need (names up to NAME_WIDTH_MAX)."""
    table.resizeColumnToContents(0)
    table.setColumnWidth(0, min(table.columnWidth(0), NAME_WIDTH_MAX))
    table.resizeColumnToContents(1)


def _summary_and_table(
    page: QWizardPage, name: str, summary_name: str, table_name: str
) -> tuple[QLabel, BatchPreviewModel, QTableView]:
    """A summary line over a table of batch rows: the preview's and the results' layout."""
    summary = _label(page, f"{name}Summary")
    summary.setAccessibleName(summary_name)
    model = BatchPreviewModel(page)
    table = QTableView(page)
    table.setObjectName(f"{name}Table")
    table.setAccessibleName(table_name)
    table.setModel(model)
    table.setWordWrap(False)  # a cut-off name ends in "…"; its tooltip holds all of it
    table.horizontalHeader().setStretchLastSection(True)
    model.modelReset.connect(lambda: _fit_columns(table))
    layout = QVBoxLayout(page)
    layout.addWidget(summary)
    layout.addWidget(table, 1)
    return summary, model, table
