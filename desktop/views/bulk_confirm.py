"""Confirm several phase changes at once (`bulkConfirmDialog`): a preview, then a result
per item.

The preview lists each selected confirmation with its phase change and whether its evidence
is complete (`core.evidence`: nothing missing); complete ones are ticked, the rest are not
(tick them to confirm anyway). "Confirm" queues one confirmation per ticked row, each bound
to *its own* evidence as the preview showed it — so one that changed meanwhile comes back
as an EVIDENCE_CHANGED conflict while the others apply. The Result column follows each
entry through the outbox: queued, applied, conflict (the evidence changed), refused.

Opened with `open()`; the decisions go through the callback the inbox page gives
(`decide(item, contract) -> future of the OutboxEntry`), so they are the page's decisions
(they leave the list, Ctrl+Z takes the last one back).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ErrorCode
from core.evidence import PhaseEvidence, evidence_of
from core.inbox import InboxItem, InboxKind
from core.model import Contract
from sync.outbox import OutboxEntry, OutboxState

HEADERS = ("Confirm", "Contract", "Phase change", "Evidence", "Result")
TICK, NAME, CHANGE, EVIDENCE, RESULT = range(len(HEADERS))

Decide = Callable[[InboxItem, Contract], "asyncio.Future[OutboxEntry]"]


@dataclass
class BulkRow:
    item: InboxItem
    contract: Contract | None  # as previewed (None: not in the replica)
    evidence: PhaseEvidence | None
    entry_id: int | None = None

    @property
    def confirmable(self) -> bool:
        return self.item.kind is InboxKind.PHASE_CONFIRMATION and self.evidence is not None

    @property
    def complete(self) -> bool:
        return self.evidence is not None and not self.evidence.missing


def result_text(entry: OutboxEntry) -> str:
    if entry.state is OutboxState.CONFLICT and entry.error_code == ErrorCode.EVIDENCE_CHANGED:
        return "conflict: the evidence changed — decide again in the outbox"
    if entry.state is OutboxState.CONFLICT:
        return "conflict — decide again in the outbox"
    if entry.state is OutboxState.REJECTED:
        return f"refused: {entry.error_message or entry.error_code}"
    return {
        OutboxState.QUEUED: "queued",
        OutboxState.SENDING: "sending…",
        OutboxState.APPLIED: "applied",
        OutboxState.DROPPED: "dropped",
        OutboxState.RECONFIRMED: "confirmed again",
    }.get(entry.state, entry.state.value)


class BulkConfirmDialog(QDialog):
    def __init__(
        self,
        chosen: Sequence[tuple[InboxItem, Contract | None]],
        decide: Decide,
        outbox: SignalInstance,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("bulkConfirmDialog")
        self.setWindowTitle("Confirm several phase changes")
        self.setAccessibleName("Confirm several phase changes")
        self.decide = decide
        self.rows = [
            BulkRow(item, contract, evidence_of(contract) if contract is not None else None)
            for item, contract in chosen
        ]
        self.intro = QLabel()
        self.intro.setObjectName("bulkIntro")
        self.intro.setWordWrap(True)
        self.table = self._table()
        buttons = QDialogButtonBox()
        self.confirm_button = QPushButton()
        self.confirm_button.setObjectName("bulkConfirmButton")
        self.confirm_button.clicked.connect(self.confirm)
        self.close_button = QPushButton("C&lose")
        self.close_button.setObjectName("bulkCloseButton")
        self.close_button.clicked.connect(self.accept)
        buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.table.itemChanged.connect(lambda _: self._count())
        self._count()
        self.confirm_button.setDefault(True)
        outbox.connect(self._entry_changed)
        self._outbox = outbox
        self.resize(760, 380)

    def _table(self) -> QTableWidget:
        table = QTableWidget(len(self.rows), len(HEADERS))
        table.setObjectName("bulkPreview")
        table.setAccessibleName("Confirmations to confirm")
        table.setHorizontalHeaderLabels(HEADERS)
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setTabKeyNavigation(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        for r, row in enumerate(self.rows):
            tick = QTableWidgetItem()
            if row.confirmable:
                tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                ticked = Qt.CheckState.Checked if row.complete else Qt.CheckState.Unchecked
                tick.setCheckState(ticked)
            else:
                tick.setFlags(Qt.ItemFlag.NoItemFlags)
            table.setItem(r, TICK, tick)
            for column, text in (
                (NAME, row.item.contract_name),
                (CHANGE, _change(row)),
                (EVIDENCE, _evidence(row)),
                (RESULT, ""),
            ):
                table.setItem(r, column, QTableWidgetItem(text))
        return table

    def ticked(self) -> list[BulkRow]:
        """The rows to confirm (ticked, not yet sent)."""
        found = []
        for r, row in enumerate(self.rows):
            tick = self.table.item(r, TICK)
            checked = tick is not None and tick.checkState() == Qt.CheckState.Checked
            if row.entry_id is None and checked and row.confirmable:
                found.append(row)
        return found

    def set_ticked(self, row: int, on: bool) -> None:
        tick = self.table.item(row, TICK)
        if tick is not None and self.rows[row].confirmable:
            tick.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _count(self) -> None:
        count = len(self.ticked())
        confirmable = sum(1 for r in self.rows if r.confirmable)
        self.confirm_button.setText(f"&Confirm {count}")
        self.confirm_button.setEnabled(count > 0)
        self.intro.setText(
            f"{confirmable} phase change(s) selected; the ticked ones are confirmed, each "
            "bound to the evidence shown here. One whose evidence changes meanwhile comes "
            "back as a conflict; the others apply."
        )

    def confirm(self) -> None:
        for row in self.ticked():
            if row.contract is None:
                continue
            future = self.decide(row.item, row.contract)
            row.entry_id = -1  # on its way to the outbox
            self._show(row, "writing…")
            future.add_done_callback(functools.partial(self._written, row))
        self._count()

    def _written(self, row: BulkRow, done: asyncio.Future[OutboxEntry]) -> None:
        if not shiboken6.isValid(self):
            return
        if done.cancelled() or done.exception() is not None:
            why = "cancelled" if done.cancelled() else str(done.exception())
            self._show(row, f"not queued: {why}")
            return
        entry = done.result()
        if row.entry_id == -1:  # a faster outbox update may have told us already
            row.entry_id = entry.id
            self._show(row, result_text(entry))

    def _entry_changed(self, entry: OutboxEntry) -> None:
        if not shiboken6.isValid(self):
            return
        for row in self.rows:
            if row.entry_id == entry.id or (
                row.entry_id == -1
                and entry.contract_id == row.item.contract_id
                and entry.kind.value == "confirm_phase"
            ):
                row.entry_id = entry.id
                self._show(row, result_text(entry))

    def _show(self, row: BulkRow, text: str) -> None:
        cell = self.table.item(self.rows.index(row), RESULT)
        if cell is not None:
            cell.setText(text)

    def result_of(self, contract_id: str) -> str:
        for r, row in enumerate(self.rows):
            if row.item.contract_id == contract_id:
                cell = self.table.item(r, RESULT)
                return cell.text() if cell is not None else ""
        return ""

    def done(self, result: int) -> None:
        with contextlib.suppress(RuntimeError, TypeError):  # the bridge may be gone already
            self._outbox.disconnect(self._entry_changed)
        super().done(result)


def _change(row: BulkRow) -> str:
    if row.item.kind is not InboxKind.PHASE_CONFIRMATION:
        return "(not a phase change: left out)"
    if row.evidence is None:
        return "(no longer waiting: left out)"
    return f"{row.evidence.phase} → {row.evidence.next_phase}"


def _evidence(row: BulkRow) -> str:
    if row.evidence is None:
        return ""
    if not row.evidence.missing:
        done = sum(1 for d in row.evidence.deliverables if d.state.value == "done")
        return f"complete ({done} deliverable(s))"
    return "missing: " + "; ".join(row.evidence.missing)
