"""An outbox entry that needs the reviewer: a conflict, or a refusal.

A conflict: the contract changed after the reviewer acted on it. The dialog (objectName
`conflictDialog`) shows the action, the version the reviewer saw and the contract as it is
now, field by field, with what happened since (from the local history). The reviewer
re-confirms against the new version (`reconfirmRequested(entry_id)`) or drops the action
(`dropRequested(entry_id)`); "Decide later" leaves the entry waiting in the outbox.

An evidence conflict (EVIDENCE_CHANGED): the reviewer confirmed a phase change, and the
evidence of that request (its deliverables' states, links, summaries, what is missing)
changed before the confirmation arrived. The dialog shows exactly what changed (`evidenceChanges`:
what, as you saw it, as it is now) and the two evidences side by side, rendered
(`evidenceSeen`, `evidenceNow`); "Confirm the new evidence" sends the confirmation again
bound to the evidence now, "Drop" gives it up.

A refusal (REJECTED): the same dialog says what the server answered and offers to send the
action again (against the contract's version now) or to discard it. Opened with `open()`,
never `exec()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.events import LoggedEvent
from core.model import Contract
from desktop.evidence_text import change_rows, open_link, wire_markdown
from desktop.models.detail import event_actor, event_summary
from desktop.models.outbox import action_text
from sync.outbox import OutboxEntry, OutboxState
from sync.outbox_entry import EvidenceConflict

FIELDS = (
    ("version", "Version"),
    ("status", "Status"),
    ("phase", "Phase"),
    ("waitingFor", "Waiting for"),
    ("pendingPhase", "Asks to move to"),
    ("updatedAt", "Updated"),
)


def changed_fields(
    seen: Mapping[str, Any] | None, now: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """(field, as seen, as now) for the fields the reviewer cares about."""
    rows = []
    for key, label in FIELDS:
        before = "" if seen is None else _text(seen.get(key))
        after = "" if now is None else _text(now.get(key))
        rows.append((label, before, after))
    return rows


def _text(value: Any) -> str:
    return "—" if value is None else str(value).replace("_", " ")


class ConflictDialog(QDialog):
    reconfirmRequested = Signal(int)
    dropRequested = Signal(int)

    def __init__(
        self,
        entry: OutboxEntry,
        seen: Contract | None,
        since: Sequence[LoggedEvent] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("conflictDialog")
        self.setWindowTitle("The contract changed — your action was not applied")
        self.setAccessibleName("Conflict")
        self.entry = entry
        now = entry.conflict_contract
        version = (
            now.get("version")
            if now
            else (entry.result or {}).get("details", {}).get("actual_version")
        )
        self.new_version = version if isinstance(version, int) else None
        self.refused = entry.state is OutboxState.REJECTED
        self.evidence = entry.evidence_conflict
        intro = QLabel(self._intro(entry))
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.fields = self._table(
            "conflictFields",
            "What changed",
            ["Field", "You saw", "Now"],
            changed_fields(seen.to_wire() if seen else {"version": entry.expected_version}, now),
        )
        self.events = self._table(
            "conflictEvents",
            "What happened since",
            ["When", "Who", "What"],
            [(e.at.strftime("%H:%M:%S"), event_actor(e), event_summary(e)) for e in since],
        )
        buttons = QDialogButtonBox()
        again = "&Retry" if self.refused else f"&Re-confirm on version {self.new_version or '?'}"
        if self.evidence is not None:
            again = "&Confirm the new evidence"
        self.reconfirm_button = QPushButton(again)
        self.reconfirm_button.setObjectName("reconfirmButton")
        self.drop_button = QPushButton(
            "&Discard" if self.refused else "&Drop" if self.evidence else "&Drop my action"
        )
        self.drop_button.setObjectName("dropButton")
        self.later_button = QPushButton("Decide &later")
        self.later_button.setObjectName("laterButton")
        buttons.addButton(self.reconfirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.drop_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(self.later_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.reconfirm_button.clicked.connect(self._reconfirm)
        self.drop_button.clicked.connect(self._drop)
        self.later_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        if self.evidence is not None:
            self.fields.hide()
            self._evidence_view(layout, self.evidence)
        elif not self.refused:
            layout.addWidget(QLabel("What changed:"))
            layout.addWidget(self.fields)
        layout.addWidget(QLabel("What happened since you acted:"))
        layout.addWidget(self.events)
        if self.refused:
            self.setWindowTitle("The server refused your action")
            self.fields.hide()
        layout.addWidget(buttons)
        self.reconfirm_button.setDefault(True)
        self.resize(640, 420)

    def _evidence_view(self, layout: QVBoxLayout, conflict: EvidenceConflict) -> None:
        """What changed in the evidence, then the evidence seen and now side by side."""
        rows = change_rows(conflict.changes, conflict.seen, conflict.now)
        self.evidence_changes = self._table(
            "evidenceChanges", "What changed in the evidence", ["What", "You saw", "Now"], rows
        )
        layout.addWidget(QLabel("What changed in the evidence:"))
        layout.addWidget(self.evidence_changes)
        sides = QHBoxLayout()
        self.evidence_seen = _browser("evidenceSeen", "The evidence you confirmed", conflict.seen)
        self.evidence_now = _browser("evidenceNow", "The evidence now", conflict.now)
        for title, browser in (("You confirmed:", self.evidence_seen), ("Now:", self.evidence_now)):
            column = QVBoxLayout()
            column.addWidget(QLabel(title))
            column.addWidget(browser)
            sides.addLayout(column)
        layout.addLayout(sides)
        self.resize(860, 620)

    def _intro(self, entry: OutboxEntry) -> str:
        if entry.evidence_conflict is not None:
            return (
                f"You confirmed “{action_text(entry)}”, but the evidence of that request "
                "changed before your confirmation arrived, so it was not applied. Read what "
                "changed, then confirm the new evidence or drop your confirmation."
            )
        if entry.state is OutboxState.REJECTED:
            why = entry.error_message or entry.error_code or "no reason given"
            return (
                f"The server refused “{action_text(entry)}”: {why}. "
                "Retry sends it again against the contract as it is now; Discard gives it up."
            )
        return (
            f"You asked to “{action_text(entry)}” on version {entry.expected_version}, "
            f"but the contract is now at version {self.new_version or '?'}. "
            "Check what changed, then re-confirm against the new version or drop the action."
        )

    def _table(
        self, name: str, accessible: str, headers: list[str], rows: Sequence[Sequence[str]]
    ) -> QTableWidget:
        table = QTableWidget(len(rows), len(headers))
        table.setObjectName(name)
        table.setAccessibleName(accessible)
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setTabKeyNavigation(False)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                table.setItem(r, c, QTableWidgetItem(value))
        return table

    def _reconfirm(self) -> None:
        self.reconfirmRequested.emit(self.entry.id)
        self.accept()

    def _drop(self) -> None:
        self.dropRequested.emit(self.entry.id)
        self.accept()


def _browser(name: str, accessible: str, evidence: Mapping[str, Any] | None) -> QTextBrowser:
    browser = QTextBrowser()
    browser.setObjectName(name)
    browser.setAccessibleName(accessible)
    browser.setOpenLinks(False)  # links open outside the desk
    browser.anchorClicked.connect(open_link)
    browser.setMarkdown(wire_markdown(evidence))
    return browser
