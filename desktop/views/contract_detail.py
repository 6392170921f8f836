"""One contract in full: phase stepper with deliverables, tasks, supervisor, pending
questions (read-only), the history timeline, and export to JSON.

Everything shown comes from one `ContractSnapshot` read from the replica, so the detail is
readable offline. `show_contract(id)` loads it; the view reloads by itself when the bridge
says the contract changed. The buttons emit requests (`confirmRequested`, …); the main
window turns them into dialogs and operations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.actions import ReviewerAction, available
from core.clock import iso
from core.model import Contract
from core.status import WaitingFor
from desktop.bridge import ContractSnapshot, SyncBridge
from desktop.models.contracts import status_label
from desktop.models.detail import HistoryModel, QuestionsModel, TasksModel
from desktop.models.outbox import PAUSE, RESUME, phase_decision, queued_line, queued_refusal
from desktop.times import age_and_local
from desktop.views.dashboard import make_table
from desktop.views.phase_dialog import next_phase_of

DONE, CURRENT, TODO = "#27ae60", "#2e86de", "#bdc3c7"


class PhaseStepper(QWidget):
    """The phases in order as connected circles: done, current, still to come."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("phaseStepper")
        self.setAccessibleName("Phases")
        self.phases: list[tuple[str, str]] = []  # (name, "done" | "current" | "todo")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_contract(self, contract: Contract | None) -> None:
        self.phases = []
        if contract is not None:
            config = contract.phase_config
            at = config.index_of(contract.phase) if config.has_phase(contract.phase) else -1
            finished = contract.status.is_done
            for number, phase in enumerate(config.phases):
                state = "done" if number < at or finished else "todo"
                state = "current" if number == at and not finished else state
                self.phases.append((phase.name, state))
        text = ", ".join(f"{name} ({state})" for name, state in self.phases)
        self.setAccessibleDescription(text)
        self.setToolTip(text)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(400, 64)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        if not self.phases:
            return
        step = self.width() / len(self.phases)
        radius, y = 10.0, 18.0
        metrics = QFontMetrics(self.font())
        text_colour = self.palette().windowText().color()
        for number, (name, state) in enumerate(self.phases):
            x = step * number + step / 2
            colour = QColor({"done": DONE, "current": CURRENT}.get(state, TODO))
            if number:
                painter.setPen(QPen(QColor(TODO), 2))
                painter.drawLine(int(x - step + radius), int(y), int(x - radius), int(y))
            painter.setPen(QPen(colour, 2))
            painter.setBrush(colour if state != "todo" else Qt.GlobalColor.transparent)
            painter.drawEllipse(QRectF(x - radius, y - radius, radius * 2, radius * 2))
            painter.setPen(text_colour)
            label = ("✓ " if state == "done" else "") + name
            width = metrics.horizontalAdvance(label)
            painter.drawText(int(x - width / 2), int(y + radius + 4 + metrics.ascent()), label)


def deliverable_lines(contract: Contract) -> list[tuple[str, bool]]:
    """Every deliverable of every phase: (text, delivered)."""
    lines = []
    config = contract.phase_config
    for phase in config.phases:
        done = set(contract.completed_in(phase.id))
        for item in config.deliverables_for(phase.id):
            lines.append((f"{phase.name}: {item.name} ({item.priority.value})", item.id in done))
    return lines


def export_document(snapshot: ContractSnapshot) -> dict[str, Any]:
    """The contract as `GET /contracts/{id}/export` shapes it, from the replica."""
    sup = snapshot.supervisor
    return {
        "contract": snapshot.contract.to_wire(),
        "tasks": [t.to_wire() for t in snapshot.detail.tasks],
        "questions": [q.to_wire() for q in snapshot.detail.questions],
        "events": [e.to_wire() for e in snapshot.history],
        "supervisor": sup.to_wire() if sup is not None else None,
        "heartbeats": [
            {
                "timestamp": iso(b.timestamp),
                "state": b.state.value,
                "activity": b.current_activity,
                "progress": b.progress,
                "phase": b.phase,
            }
            for b in snapshot.heartbeats
        ],
    }


class ContractDetail(QWidget):
    confirmRequested = Signal(object)  # Contract
    changesRequested = Signal(object)  # Contract
    pauseRequested = Signal(object)  # Contract
    resumeRequested = Signal(object)  # Contract
    exportRequested = Signal(object)  # ContractSnapshot
    loaded = Signal(str)  # contract id, after a snapshot is shown

    def __init__(self, bridge: SyncBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contractDetail")
        self.setAccessibleName("Contract detail")
        self.bridge = bridge
        self.contract_id: str | None = None
        self.snapshot: ContractSnapshot | None = None
        self._loading = False
        self._again = False
        self.title = QLabel("Select a contract")
        self.title.setObjectName("detailTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.summary = QLabel("")
        self.summary.setObjectName("detailSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.queued_note = QLabel("")
        self.queued_note.setObjectName("queuedNote")
        self.queued_note.setAccessibleName("Queued actions")
        self.queued_note.setWordWrap(True)
        self.queued_note.hide()
        self.stepper = PhaseStepper()
        self.deliverables = QListWidget()
        self.deliverables.setObjectName("deliverables")
        self.deliverables.setAccessibleName("Deliverables")
        self.tasks_model = TasksModel(self)
        self.questions_model = QuestionsModel(self)
        self.history_model = HistoryModel(self)
        self.tasks_view = make_table(self.tasks_model, "tasksTable", "Tasks")
        self.questions_view = make_table(self.questions_model, "pendingQuestions", "Questions")
        self.history_view = make_table(self.history_model, "historyTimeline", "History")
        self.supervisor = QWidget()
        self.supervisor.setObjectName("supervisorPanel")
        self.supervisor_fields: dict[str, QLabel] = {}
        self.tabs = QTabWidget()
        self.tabs.setObjectName("detailTabs")
        self.buttons = self._make_buttons()
        self._layout()
        bridge.contractsChanged.connect(self._changed)
        bridge.outboxEntry.connect(self._outbox_changed)
        self._enable(None)

    # --- building ------------------------------------------------------------------------

    def _make_buttons(self) -> dict[str, QPushButton]:
        specs = [
            ("confirm", "&Confirm phase…", "Confirm the requested phase change"),
            ("changes", "Request c&hanges…", "Refuse the phase change with feedback"),
            ("pause", "&Pause", "Pause the contract"),
            ("resume", "Res&ume", "Resume the contract"),
            ("export", "E&xport JSON…", "Export the contract and its history to JSON"),
        ]
        buttons = {}
        for key, text, accessible in specs:
            button = QPushButton(text)
            button.setObjectName(f"{key}Button")
            button.setAccessibleName(accessible)
            buttons[key] = button
        buttons["confirm"].clicked.connect(lambda: self._request(self.confirmRequested))
        buttons["changes"].clicked.connect(lambda: self._request(self.changesRequested))
        buttons["pause"].clicked.connect(lambda: self._request(self.pauseRequested))
        buttons["resume"].clicked.connect(lambda: self._request(self.resumeRequested))
        buttons["export"].clicked.connect(self._export)
        return buttons

    def _layout(self) -> None:
        form = QFormLayout(self.supervisor)
        for key, label in [
            ("state", "State"),
            ("activity", "Current activity"),
            ("progress", "Progress"),
            ("heartbeat", "Last heartbeat"),
            ("alive", "Alive"),
        ]:
            value = QLabel("—")
            value.setObjectName(f"supervisor_{key}")
            value.setAccessibleName(label)
            form.addRow(label + ":", value)
            self.supervisor_fields[key] = value
        self.tabs.addTab(self.history_view, "&History")
        self.tabs.addTab(self.tasks_view, "&Tasks")
        self.tabs.addTab(self.questions_view, "&Questions")
        self.tabs.addTab(self.supervisor, "Supervis&or")
        # Two rows (the decision, then the rest): in one row the buttons alone would make
        # the detail wider than a 1024-pixel window leaves it beside the table.
        row = QVBoxLayout()
        for keys in (("confirm", "changes"), ("pause", "resume", "export")):
            line = QHBoxLayout()
            for key in keys:
                line.addWidget(self.buttons[key])
            line.addStretch(1)
            row.addLayout(line)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.queued_note)
        layout.addWidget(self.stepper)
        layout.addWidget(self.deliverables, 1)
        layout.addLayout(row)
        layout.addWidget(self.tabs, 3)

    # --- loading -------------------------------------------------------------------------

    def show_contract(self, contract_id: str | None) -> None:
        if contract_id != self.contract_id:
            self.snapshot = None
        self.contract_id = contract_id
        if contract_id is None:
            self.show_snapshot(None)
            return
        self.reload()

    def reload(self) -> None:
        if self.contract_id is None:
            return
        if self._loading:
            self._again = True
            return
        self._loading = True
        self.bridge.runner.spawn(self._load(self.contract_id), self._failed)

    async def _load(self, contract_id: str) -> None:
        try:
            snapshot = await self.bridge.snapshot(contract_id)
        finally:
            self._loading = False
        if contract_id == self.contract_id:
            self.show_snapshot(snapshot)
        if self._again:
            self._again = False
            self.reload()

    def _failed(self, error: BaseException) -> None:
        self._loading = False
        self.title.setText(f"Cannot show the contract: {error}")

    def _changed(self, ids: list[str]) -> None:
        if self.contract_id is not None and self.contract_id in ids:
            self.reload()

    def _outbox_changed(self, entry: Any) -> None:
        """An action on this contract was queued, sent or refused: its buttons follow."""
        if self.contract_id is not None and entry.contract_id == self.contract_id:
            self.reload()

    # --- showing -------------------------------------------------------------------------

    def show_snapshot(self, snapshot: ContractSnapshot | None) -> None:
        self.snapshot = snapshot
        contract = snapshot.contract if snapshot else None
        self.stepper.set_contract(contract)
        self._enable(contract)
        self._show_queued(snapshot)
        if snapshot is None or contract is None:
            self.title.setText("Select a contract")
            self.summary.setText("")
            self.deliverables.clear()
            self.tasks_model.set_rows([])
            self.questions_model.set_rows([])
            self.history_model.set_events([])
            self._show_supervisor(None)
            return
        self.title.setText(f"<b>{_escape(contract.name)}</b>")
        self.summary.setText(_summary(contract))
        self.deliverables.clear()
        for text, done in deliverable_lines(contract):
            item = QListWidgetItem(("☑ " if done else "☐ ") + text)
            item.setData(
                Qt.ItemDataRole.AccessibleTextRole, f"{text}: {'done' if done else 'missing'}"
            )
            self.deliverables.addItem(item)
        self.tasks_model.set_rows(list(snapshot.detail.tasks))
        self.questions_model.set_rows(list(snapshot.detail.pending_questions))
        self.history_model.set_events(list(snapshot.history))
        self._show_supervisor(snapshot)
        self.loaded.emit(contract.id)

    def _show_supervisor(self, snapshot: ContractSnapshot | None) -> None:
        status = snapshot.supervisor if snapshot else None
        f = self.supervisor_fields
        if status is None:
            for label in f.values():
                label.setText("—")
            f["state"].setText("no supervisor" if snapshot else "—")
            return
        f["state"].setText(status.state.value if status.state else "no heartbeat yet")
        f["activity"].setText(status.current_activity or "—")
        f["progress"].setText(f"{status.progress}%")
        f["heartbeat"].setText(age_and_local(status.last_heartbeat) or "never")
        f["alive"].setText("yes" if status.alive else "no — silent past the heartbeat timeout")

    def _enable(self, contract: Contract | None) -> None:
        # Version 0 is the replica's placeholder until the server's copy arrives: acting on
        # it could only conflict.
        known = contract is not None and contract.version > 0
        waiting = (
            known and contract is not None and contract.waiting_for is WaitingFor.PHASE_CONFIRMATION
        )
        offered = available(contract) if known and contract is not None else frozenset()
        self.buttons["confirm"].setEnabled(waiting)
        self.buttons["changes"].setEnabled(waiting)
        self.buttons["pause"].setEnabled(ReviewerAction.PAUSE in offered)
        self.buttons["resume"].setEnabled(ReviewerAction.RESUME in offered)
        self.buttons["export"].setEnabled(contract is not None)

    def _show_queued(self, snapshot: ContractSnapshot | None) -> None:
        """Actions of this contract still on their way: one line, and the buttons that would
        queue the same decision again are off, with the reason as their tooltip."""
        entries = list(snapshot.outbox) if snapshot is not None else []
        line = queued_line(entries)
        self.queued_note.setText(line)
        self.queued_note.setVisible(bool(line))
        if snapshot is None:
            return
        contract = snapshot.contract
        decisions = {
            "confirm": phase_decision(next_phase_of(contract)),
            "changes": phase_decision(next_phase_of(contract)),
            "pause": PAUSE,
            "resume": RESUME,
        }
        for key, decision in decisions.items():
            refusal = queued_refusal(entries, contract.id, decision)
            button = self.buttons[key]
            button.setToolTip(refusal or "")
            if refusal is not None:
                button.setEnabled(False)

    def _request(self, signal: Any) -> None:
        if self.snapshot is not None:
            signal.emit(self.snapshot.contract)

    def _export(self) -> None:
        if self.snapshot is not None:
            self.exportRequested.emit(self.snapshot)


def write_export(snapshot: ContractSnapshot, path: str | Path) -> Path:
    target = Path(path)
    target.write_text(json.dumps(export_document(snapshot), indent=2, ensure_ascii=False))
    return target


def _summary(contract: Contract) -> str:
    parts = [
        f"Status: {status_label(contract.status)}",
        f"Phase: {contract.phase}",
        f"Version {contract.version}",
        f"Type: {contract.contract_type.value}",
        f"Last activity: {age_and_local(contract.last_activity_at)}",
    ]
    if contract.waiting_for is not None:
        parts.append(f"Waiting for: {contract.waiting_for.value.replace('_', ' ')}")
    if contract.pending_confirmation is not None:
        parts.append(f"Asks to move to: {contract.pending_confirmation.next_phase}")
    if contract.blocked_reason:
        parts.append(f"Blocked: {contract.blocked_reason}")
    if contract.failure_reason:
        parts.append(f"Failed: {contract.failure_reason}")
    text = " · ".join(parts)
    return text + (f"\n{contract.description}" if contract.description else "")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
