"""The outbox as a table: the reviewer's queued actions and what became of them."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QObject

from core.clock import iso
from desktop.models.rows import Column, RowsModel
from sync.outbox import ActionKind, OutboxEntry, OutboxState

_KIND_TEXT: Mapping[ActionKind, str] = {
    ActionKind.CONFIRM_PHASE: "Confirm phase {phase}",
    ActionKind.REJECT_PHASE: "Request changes to {phase}",
    ActionKind.ANSWER_QUESTION: "Answer: {answer}",
    ActionKind.CHANGE_STATUS: "Set status {target_status}",
    ActionKind.UPDATE_CONTRACT: "Update contract",
    ActionKind.SET_AUTO_COMPLETE: "Auto-complete {enabled}",
    ActionKind.BATCH: "Batch: {operation}",
    ActionKind.RESTART_SUPERVISOR: "Restart supervisor",
}

_OUTCOME: Mapping[OutboxState, str] = {
    OutboxState.QUEUED: "queued",
    OutboxState.SENDING: "sending…",
    OutboxState.APPLIED: "applied",
    OutboxState.REJECTED: "rejected",
    OutboxState.CONFLICT: "conflict — needs you",
    OutboxState.RECONFIRMED: "re-confirmed",
    OutboxState.DROPPED: "dropped",
}


def action_text(entry: OutboxEntry) -> str:
    template = _KIND_TEXT.get(entry.kind, entry.kind.value)
    try:
        return template.format(**entry.payload)
    except (KeyError, IndexError, ValueError):
        return entry.kind.value.replace("_", " ")


def outcome_text(entry: OutboxEntry) -> str:
    text = _OUTCOME.get(entry.state, entry.state.value)
    if entry.state is OutboxState.QUEUED and entry.attempts:
        return f"queued (tried {entry.attempts} times, will retry)"
    if entry.state is OutboxState.REJECTED and entry.error_message:
        return f"rejected: {entry.error_message}"
    return text


OUTBOX_COLUMNS: list[Column[OutboxEntry]] = [
    Column("#", lambda e: str(e.id), sort=lambda e: e.id),
    Column("Action", action_text, tooltip=action_text),
    Column("Contract", lambda e: e.contract_id or "(all)"),
    Column("Seen version", lambda e: "" if e.expected_version is None else str(e.expected_version)),
    Column("Outcome", outcome_text, tooltip=lambda e: e.error_message or outcome_text(e)),
    Column("Taken", lambda e: iso(e.created_at) or ""),
]


class OutboxModel(RowsModel[OutboxEntry]):
    """Entries in the order taken; `upsert` replaces or appends one entry."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(OUTBOX_COLUMNS, parent)

    def upsert(self, entry: OutboxEntry) -> None:
        for row, existing in enumerate(self.rows):
            if existing.id == entry.id:
                self.rows[row] = entry
                last = self.columnCount() - 1
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))
                return
        self.beginInsertRows(self.index(0, 0).parent(), len(self.rows), len(self.rows))
        self.rows.append(entry)
        self.endInsertRows()

    def needing_attention(self) -> list[OutboxEntry]:
        return [e for e in self.rows if e.state in (OutboxState.CONFLICT, OutboxState.REJECTED)]

    def pending_count(self) -> int:
        return sum(1 for e in self.rows if e.state.is_pending)
