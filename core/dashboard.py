"""The monitoring dashboard (spec §4.4, API.md `GET /contracts/dashboard`, camelCase keys).

Two entry points share the same pieces: the server counts in SQL and calls
`assemble_dashboard`; an offline replica holds the rows in memory and calls
`aggregate_dashboard`. Both build their stale and waiting rows with `stale_info` and
`waiting_info` and their resource figures with `ResourceUsage.derive`, so the two can
never disagree on what a row or a figure means.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.attention import waiting_on_reviewer
from core.clock import iso, utc
from core.config import ContractTimeoutConfig
from core.events import LoggedEvent
from core.model import Contract, Question, Task, TaskStatus
from core.status import ContractStatus
from core.timing import stale_duration


@dataclass(frozen=True, slots=True)
class StaleContractInfo:
    id: str
    name: str
    phase: str
    last_activity: datetime
    stale_duration_secs: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "phase": self.phase,
            "lastActivity": iso(self.last_activity),
            "staleDurationSecs": self.stale_duration_secs,
        }


@dataclass(frozen=True, slots=True)
class WaitingContractInfo:
    id: str
    name: str
    waiting_for: str
    waiting_since: datetime
    question: str | None
    phase: str = ""  # beyond the specification's fields: where the contract stands

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "waitingFor": self.waiting_for,
            "waitingSince": iso(self.waiting_since),
            "question": self.question,
            "phase": self.phase,
        }


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    active_supervisors: int
    running_tasks: int
    pending_tasks: int
    active_daemons: int
    total_worktrees: int

    @classmethod
    def derive(
        cls,
        active_supervisors: int,
        running_tasks: int,
        pending_tasks: int,
        live_daemons: Iterable[str | None] | None = None,
        live_worktrees: Iterable[Iterable[str]] | None = None,
    ) -> ResourceUsage:
        """The figures, measured.

        - activeSupervisors: supervisor tasks whose last heartbeat is within the timeout;
        - runningTasks / pendingTasks: non-supervisor tasks in that status, of open contracts;
        - activeDaemons: distinct `daemon_id`s of live supervisors' last heartbeats (one
          naming none is its own daemon);
        - totalWorktrees: distinct worktrees those heartbeats report.
        Without heartbeat data (an offline replica) both fall back to the old estimates:
        one daemon per live supervisor, one worktree per running task.
        """
        if live_daemons is None or live_worktrees is None:
            return cls(
                active_supervisors, running_tasks, pending_tasks, active_supervisors, running_tasks
            )
        return cls(
            active_supervisors,
            running_tasks,
            pending_tasks,
            count_daemons(live_daemons),
            len({w for trees in live_worktrees for w in trees}),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "activeSupervisors": self.active_supervisors,
            "runningTasks": self.running_tasks,
            "pendingTasks": self.pending_tasks,
            "activeDaemons": self.active_daemons,
            "totalWorktrees": self.total_worktrees,
        }


@dataclass(frozen=True, slots=True)
class Dashboard:
    status_counts: Mapping[ContractStatus, int]  # every status, zeros included
    phase_counts: Mapping[str, int]  # active contracts only (§4.4)
    stale_contracts: tuple[StaleContractInfo, ...]  # longest stale first
    waiting_for_input: tuple[WaitingContractInfo, ...]  # longest waiting first
    recent_events: tuple[LoggedEvent, ...]  # as given by the caller
    resource_usage: ResourceUsage

    def to_wire(self) -> dict[str, Any]:
        return {
            "statusCounts": {status.value: count for status, count in self.status_counts.items()},
            "phaseCounts": dict(self.phase_counts),
            "staleContracts": [info.to_wire() for info in self.stale_contracts],
            "waitingForInput": [info.to_wire() for info in self.waiting_for_input],
            "recentEvents": [event.to_wire() for event in self.recent_events],
            "resourceUsage": self.resource_usage.to_wire(),
        }


def stale_info(
    contract: Contract, now: datetime, cfg: ContractTimeoutConfig
) -> StaleContractInfo | None:
    """The dashboard row of a stale contract (None when it is not stale)."""
    idle = stale_duration(contract, now, cfg.stale_threshold)
    if idle is None:
        return None
    seconds = int(idle.total_seconds())
    return StaleContractInfo(
        contract.id, contract.name, contract.phase, contract.last_activity_at, seconds
    )


def waiting_info(contract: Contract, questions: Sequence[Question]) -> WaitingContractInfo | None:
    """The dashboard row of a contract waiting on the reviewer (None otherwise).

    Who waits is `core.attention.waiting_on_reviewer`'s answer: a question or a phase
    confirmation (`waiting_for_input`) or a completion confirmation (`completing`).
    `waitingSince` is `status_changed_at`, the moment it entered the status. `question` is
    the text of its oldest pending question, None when it waits only for a confirmation.
    `questions` may hold other contracts' questions; they are ignored.
    """
    waiting_for = waiting_on_reviewer(contract)
    if waiting_for is None:
        return None
    pending = [q for q in questions if q.contract_id == contract.id and q.is_pending]
    oldest = min(pending, key=lambda q: (utc(q.asked_at), q.id), default=None)
    return WaitingContractInfo(
        contract.id,
        contract.name,
        waiting_for.value,
        contract.status_changed_at,
        oldest.question if oldest else None,
        contract.phase,
    )


def assemble_dashboard(
    status_counts: Mapping[ContractStatus, int],
    phase_counts: Mapping[str, int],
    stale: Iterable[StaleContractInfo],
    waiting: Iterable[WaitingContractInfo],
    *,
    recent_events: Sequence[LoggedEvent],
    usage: ResourceUsage,
) -> Dashboard:
    """A dashboard from precomputed parts: fills every status, orders the lists.

    Status keys may be plain strings (as SQL returns them); keys that are not statuses are
    dropped. `recent_events` are kept in the order given: the caller picks and orders them.
    """
    return Dashboard(
        status_counts={status: int(status_counts.get(status, 0)) for status in ContractStatus},
        phase_counts=dict(phase_counts),
        stale_contracts=tuple(sorted(stale, key=lambda s: (-s.stale_duration_secs, s.name, s.id))),
        waiting_for_input=tuple(
            sorted(waiting, key=lambda w: (utc(w.waiting_since), w.name, w.id))
        ),
        recent_events=tuple(recent_events),
        resource_usage=usage,
    )


def aggregate_dashboard(
    contracts: Sequence[Contract],
    tasks: Sequence[Task],
    questions: Sequence[Question],
    recent_events: Sequence[LoggedEvent],
    *,
    alive_supervisor_task_ids: Collection[str],
    now: datetime,
    cfg: ContractTimeoutConfig,
    live_supervisors: Sequence[tuple[str | None, Sequence[str]]] | None = None,
) -> Dashboard:
    """The dashboard computed in memory from all rows (e.g. the local replica).

    `live_supervisors`: (daemon_id, worktrees) of each live supervisor's last heartbeat;
    None when unknown (a replica has no heartbeats): daemons and worktrees are estimated.
    """
    open_contracts = [c for c in contracts if c.status.is_open]
    return assemble_dashboard(
        status_counts=Counter(c.status for c in contracts),
        phase_counts=phase_counts(contracts),
        stale=filter(None, (stale_info(c, now, cfg) for c in contracts)),
        waiting=filter(None, (waiting_info(c, questions) for c in contracts)),
        recent_events=recent_events,
        usage=resource_usage(open_contracts, tasks, alive_supervisor_task_ids, live_supervisors),
    )


def count_daemons(daemon_ids: Iterable[str | None]) -> int:
    """Distinct daemons; a supervisor that names no daemon counts as one of its own."""
    named: set[str] = set()
    unnamed = 0
    for daemon in daemon_ids:
        if daemon is None:
            unnamed += 1
        else:
            named.add(daemon)
    return len(named) + unnamed


def phase_counts(contracts: Iterable[Contract]) -> dict[str, int]:
    """Active contracts per phase (§4.4: "count by phase, for active contracts")."""
    return dict(Counter(c.phase for c in contracts if c.status is ContractStatus.ACTIVE))


def resource_usage(
    open_contracts: Sequence[Contract],
    tasks: Sequence[Task],
    alive_supervisor_task_ids: Collection[str],
    live_supervisors: Sequence[tuple[str | None, Sequence[str]]] | None = None,
) -> ResourceUsage:
    """Counts for `ResourceUsage.derive` from in-memory rows.

    Supervisors count when alive, whatever their contract; worker tasks count only for the
    `open_contracts` given (a finished contract's leftover tasks hold nothing).
    """
    open_ids = {c.id for c in open_contracts}
    workers = [t for t in tasks if not t.is_supervisor and t.contract_id in open_ids]
    return ResourceUsage.derive(
        active_supervisors=sum(
            1 for t in tasks if t.is_supervisor and t.id in alive_supervisor_task_ids
        ),
        running_tasks=sum(1 for t in workers if t.status is TaskStatus.RUNNING),
        pending_tasks=sum(1 for t in workers if t.status is TaskStatus.PENDING),
        live_daemons=None if live_supervisors is None else [d for d, _ in live_supervisors],
        live_worktrees=None if live_supervisors is None else [w for _, w in live_supervisors],
    )
