"""The outbox as a table: the reviewer's queued actions and what became of them.

Also what a contract's queued actions mean for it: the badge its table row wears, the line
its detail pane shows, and the reason a button is off (`queued_refusal`), all from the
outbox's own one-decision-at-a-time rule (`sync.outbox.queued_duplicate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import QObject

from core.clock import iso
from desktop.models.rows import Column, RowsModel
from sync.outbox import ActionKind, OutboxEntry, OutboxState, action_noun, queued_duplicate

Decision = tuple[ActionKind, Mapping[str, Any]]
PAUSE: Decision = (ActionKind.CHANGE_STATUS, {"target_status": "paused"})
RESUME: Decision = (ActionKind.CHANGE_STATUS, {"target_status": "active"})


def phase_decision(phase: str | None) -> Decision:
    """Confirming or refusing the advance to `phase` (one decision, either way)."""
    return (ActionKind.CONFIRM_PHASE, {"phase": phase})


def queued_refusal(
    entries: Iterable[OutboxEntry], contract_id: str, decision: Decision
) -> str | None:
    """Why the decision cannot be taken now (the same one is queued), or None."""
    found = queued_duplicate(entries, contract_id, *decision)
    if found is None:
        return None
    what = action_noun(found.kind, found.payload)
    return f"Your {what} is already queued: it is sent when the desk is online."


def queued_line(entries: Iterable[OutboxEntry]) -> str:
    """The detail pane's line: "Queued: confirmation of 'execute', pause …"."""
    nouns = [action_noun(e.kind, e.payload) for e in entries if e.state.is_pending]
    if not nouns:
        return ""
    return f"Queued: {', '.join(nouns)} (sent when the desk is online)"


def queued_badges(entries: Iterable[OutboxEntry]) -> dict[str, str]:
    """contract id → the table row's badge ("[confirmation queued]", "[2 queued]")."""
    by_contract: dict[str, list[OutboxEntry]] = {}
    for entry in entries:
        if entry.state.is_pending and entry.contract_id is not None:
            by_contract.setdefault(entry.contract_id, []).append(entry)
    badges = {}
    for contract_id, mine in by_contract.items():
        if len(mine) == 1:
            word = action_noun(mine[0].kind, mine[0].payload).split(" ")[0]
            badges[contract_id] = f"[{word} queued]"
        else:
            badges[contract_id] = f"[{len(mine)} queued]"
    return badges


_KIND_TEXT: Mapping[ActionKind, str] = {
    ActionKind.CONFIRM_PHASE: "Confirm phase {phase}",
    ActionKind.REJECT_PHASE: "Request changes to {phase}",
    ActionKind.ANSWER_QUESTION: "Answer: {answer}",
    ActionKind.UPDATE_CONTRACT: "Update contract",
    ActionKind.SET_AUTO_COMPLETE: "Auto-complete {enabled}",
    ActionKind.BATCH: "Batch: {operation}",
    ActionKind.RESTART_SUPERVISOR: "Restart supervisor",
    ActionKind.SNOOZE_ITEM: "Snooze {item_id} until {until}",
    ActionKind.UNSNOOZE_ITEM: "Unsnooze {item_id}",
    ActionKind.CLAIM_ITEM: "Claim {item_id}",
    ActionKind.UNCLAIM_ITEM: "Release {item_id}",
}

_OUTCOME: Mapping[OutboxState, str] = {
    OutboxState.QUEUED: "queued",
    OutboxState.SENDING: "sending…",
    OutboxState.APPLIED: "applied",
    OutboxState.REJECTED: "rejected — needs you",
    OutboxState.CONFLICT: "conflict — needs you",
    OutboxState.RECONFIRMED: "re-confirmed",
    OutboxState.DROPPED: "dropped",
}


def action_text(entry: OutboxEntry) -> str:
    if entry.kind is ActionKind.CHANGE_STATUS:  # "Pause: why", "Resume", "Status change to …"
        noun = action_noun(entry.kind, entry.payload)
        reason = entry.payload.get("reason")
        return noun[0].upper() + noun[1:] + (f": {reason}" if reason else "")
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
        return f"rejected — needs you: {entry.error_message}"
    return text


def outbox_columns(contract_name: Callable[[OutboxEntry], str]) -> list[Column[OutboxEntry]]:
    return [
        Column("#", lambda e: str(e.id), sort=lambda e: e.id),
        Column("Action", action_text, tooltip=action_text),
        Column("Contract", contract_name, tooltip=lambda e: e.contract_id or "every contract"),
        Column(
            "Seen version", lambda e: "" if e.expected_version is None else str(e.expected_version)
        ),
        Column("Outcome", outcome_text, tooltip=lambda e: e.error_message or outcome_text(e)),
        Column("Taken", lambda e: iso(e.created_at) or ""),
    ]


CONTRACT_COLUMN = 2
NEEDS_YOU = (OutboxState.CONFLICT, OutboxState.REJECTED)


class OutboxModel(RowsModel[OutboxEntry]):
    """Entries in the order taken; `upsert` replaces or appends one entry. `names` turns a
    contract id into the contract's name (the reviewer knows contracts by name)."""

    def __init__(
        self,
        parent: QObject | None = None,
        names: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(outbox_columns(self._contract_name), parent)
        self.names = names or (lambda _: None)

    def _contract_name(self, entry: OutboxEntry) -> str:
        if entry.contract_id is None:
            return "(all contracts)"
        return self.names(entry.contract_id) or f"{entry.contract_id[:8]}…"

    def names_changed(self) -> None:
        """Contract names became known (or changed): redraw the Contract column."""
        if self.rows:
            last = len(self.rows) - 1
            self.dataChanged.emit(self.index(0, CONTRACT_COLUMN), self.index(last, CONTRACT_COLUMN))

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
        """Entries the server refused or found in conflict: the reviewer decides."""
        return [e for e in self.rows if e.state in NEEDS_YOU]

    def pending_count(self) -> int:
        return sum(1 for e in self.rows if e.state.is_pending)
