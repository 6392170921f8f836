"""The contracts a batch operation touches: the dry run's preview and the run's results.

Rows come from the server's answer `{affected_ids, errors: [{contract_id, error}],
statuses}`; a run's statuses are the server's (after the run), names and the preview's
statuses come from the desktop's copy of the contracts; the "why" of each row from
`core.batch.plan_batch` run locally on the same contracts (the server decides what is
affected — the local plan only explains it). A new answer replaces all rows at once (one
reset per answer; there is no stream of events here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from core.model import Contract

HEADERS = ("Contract", "Status", "Outcome")
ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the BatchRow itself

_Index = QModelIndex | QPersistentModelIndex


class RowKind(StrEnum):
    PLANNED = "planned"  # the dry run would act on it
    DONE = "done"  # the run acted on it
    SKIPPED = "skipped"  # the dry run or the run could not act on it


@dataclass(frozen=True, slots=True)
class BatchRow:
    contract_id: str
    name: str
    status: str
    kind: RowKind
    detail: str  # why it is touched, or the error


def rows_from_answer(
    answer: Mapping[str, Any],
    contracts: Mapping[str, Contract],
    why: Mapping[str, str] | None = None,
) -> list[BatchRow]:
    """The rows for a batch answer: affected contracts first, then the errors.

    A real run's rows show each contract's status AFTER the run, as the server reported it
    (`statuses`); the desk's own copy still holds the status from before until the run's
    events arrive, so it is only the fallback (an older server, a skipped contract).
    """
    dry = bool(answer.get("dry_run"))
    kind = RowKind.PLANNED if dry else RowKind.DONE
    after = _statuses(answer)
    found = [
        _row(str(cid), contracts, kind, (why or {}).get(str(cid), ""), after.get(str(cid)))
        for cid in _ids(answer)
    ]
    for error in answer.get("errors") or []:
        cid = str(error.get("contract_id", ""))
        found.append(_row(cid, contracts, RowKind.SKIPPED, str(error.get("error", ""))))
    return found


def _statuses(answer: Mapping[str, Any]) -> dict[str, str]:
    found = answer.get("statuses") or {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


def _ids(answer: Mapping[str, Any]) -> Sequence[Any]:
    ids = answer.get("affected_ids") or []
    return ids if isinstance(ids, list) else []


def _row(
    cid: str,
    contracts: Mapping[str, Contract],
    kind: RowKind,
    detail: str,
    status_after: str | None = None,
) -> BatchRow:
    contract = contracts.get(cid)
    name = contract.name if contract else cid
    status = status_after or (contract.status.value if contract else "unknown")
    return BatchRow(cid, name, status.replace("_", " "), kind, detail or kind.value)


class BatchPreviewModel(QAbstractTableModel):
    """Rows of one batch answer."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[BatchRow] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation is Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(HEADERS):
            return HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == ROW_ROLE:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (row.name, row.status, row.detail)[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and row.kind is RowKind.SKIPPED:
            return QColor("#b00020")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{row.name}, {row.status}: {row.detail}"
        return None

    @property
    def rows(self) -> tuple[BatchRow, ...]:
        return tuple(self._rows)

    def set_rows(self, rows: Sequence[BatchRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])
