"""The dashboard's lists: contracts waiting for input, stale contracts, recent events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QObject

from core.clock import utc
from core.dashboard import StaleContractInfo, WaitingContractInfo
from core.events import LoggedEvent
from core.store.queries import SupervisorStatus
from desktop.models.detail import event_actor, event_summary
from desktop.models.rows import Column, RowsModel
from desktop.times import age_text, duration_text, local_text


def since_text(then: datetime, now: datetime) -> str:
    """'3 min', '2 h 5 min', '4 d' — how long ago, for humans."""
    return duration_text(int((now - utc(then)).total_seconds()))


@dataclass(frozen=True, slots=True)
class WaitingRow:
    info: WaitingContractInfo
    now: datetime


def _waiting_since(row: WaitingRow) -> str:
    """How long it has waited, as an age; the full local time is the cell's tooltip."""
    return age_text(row.info.waiting_since, row.now)


WAITING_COLUMNS: list[Column[WaitingRow]] = [
    Column("Contract", lambda r: r.info.name, tooltip=lambda r: r.info.name),
    Column("Waits for", lambda r: r.info.waiting_for.replace("_", " ")),
    Column(
        "Since",
        _waiting_since,
        sort=lambda r: utc(r.info.waiting_since).timestamp(),
        tooltip=lambda r: local_text(r.info.waiting_since),
    ),
    Column("Question", lambda r: r.info.question or "", tooltip=lambda r: r.info.question or ""),
]


class WaitingModel(RowsModel[WaitingRow]):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(WAITING_COLUMNS, parent)


@dataclass(frozen=True, slots=True)
class StaleRow:
    """A contract nobody moves: how long, and who holds it up."""

    contract_id: str
    name: str
    phase: str
    quiet_secs: int
    blocker: str  # always the automation: see stale_rows
    why: str


STALE_COLUMNS: list[Column[StaleRow]] = [
    Column("Contract", lambda r: r.name),
    Column("Phase", lambda r: r.phase),
    Column(
        "Quiet for",
        lambda r: duration_text(r.quiet_secs),
        sort=lambda r: r.quiet_secs,
    ),
    Column("Blocked by", lambda r: r.blocker),
    Column("Why", lambda r: r.why, tooltip=lambda r: r.why),
]


class StaleModel(RowsModel[StaleRow]):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(STALE_COLUMNS, parent)


@dataclass(frozen=True, slots=True)
class EventRow:
    event: LoggedEvent
    contract_name: str


EVENT_COLUMNS: list[Column[EventRow]] = [
    Column(
        "When",
        lambda r: age_text(r.event.at),
        sort=lambda r: r.event.seq or 0,
        tooltip=lambda r: local_text(r.event.at),
    ),
    Column("Contract", lambda r: r.contract_name or r.event.contract_id[:8]),
    Column("Who", lambda r: event_actor(r.event)),
    Column("What", lambda r: event_summary(r.event), tooltip=lambda r: event_summary(r.event)),
]


class RecentEventsModel(RowsModel[EventRow]):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(EVENT_COLUMNS, parent)


def stale_rows(
    stale: Sequence[StaleContractInfo],
    liveness: Mapping[str, SupervisorStatus | None],
    *,
    now: datetime,
) -> list[StaleRow]:
    """Who holds each stale contract up, longest quiet first.

    Stale is core's rule (`core.timing.stale_duration`: active and quiet past the
    threshold); an active contract waits on nobody but its supervisor, so every row is
    the automation's: its supervisor is dead (no heartbeat within the timeout), missing,
    or alive but making no progress. Contracts waiting on the reviewer are the other list
    (`core.attention.waiting_on_reviewer`), never this one.
    """
    rows = [_automation_row(info, liveness.get(info.id), now) for info in stale]
    return sorted(rows, key=lambda r: (-r.quiet_secs, r.name))


AUTOMATION = "automation (supervisor)"


def _automation_row(
    info: StaleContractInfo, supervisor: SupervisorStatus | None, now: datetime
) -> StaleRow:
    if supervisor is None or supervisor.last_heartbeat is None:
        why = "no supervisor heartbeat ever received"
    elif not supervisor.alive:
        why = f"supervisor silent for {since_text(supervisor.last_heartbeat, now)} (dead)"
    else:
        activity = supervisor.current_activity or "no activity reported"
        why = f"supervisor alive but not progressing: {activity} ({supervisor.progress}%)"
    return StaleRow(info.id, info.name, info.phase, info.stale_duration_secs, AUTOMATION, why)
