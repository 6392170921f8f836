"""The dashboard in SQL: counts with GROUP BY, only the listed rows are loaded.

With 10k contracts the dashboard must not load every row: status and phase counts and the
resource figures are aggregates; only the stale and waiting lists (bounded by `list_limit`)
and the recent events are read as rows. The rows are turned into dashboard entries by the
same `core.dashboard` functions the offline replica uses, so both agree on every figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from core.config import ContractTimeoutConfig
from core.dashboard import (
    Dashboard,
    ResourceUsage,
    StaleContractInfo,
    WaitingContractInfo,
    assemble_dashboard,
    stale_info,
    waiting_info,
)
from core.model import Question, QuestionStatus, TaskStatus
from core.status import ContractStatus
from core.store import event_log, predicates
from core.store.engine import Store
from core.store.rows import contract_from_row, question_from_row
from core.store.schema import contracts, questions, supervisor_liveness, tasks
from core.store.unit_of_work import ReadUnitOfWork

_OPEN = [s.value for s in ContractStatus if s.is_open]


def _scoped(query: Any, owner: str | None) -> Any:
    return query if owner is None else query.where(contracts.c.owner == owner)


async def dashboard(
    store: Store,
    owner: str | None,
    *,
    now: datetime,
    config: ContractTimeoutConfig,
    recent_limit: int = 20,
    list_limit: int = 100,
) -> Dashboard:
    """`GET /contracts/dashboard` for `owner`, consistent as of one snapshot."""

    def work(uow: ReadUnitOfWork) -> Dashboard:
        conn = uow.conn
        return assemble_dashboard(
            status_counts(conn, owner),
            phase_counts(conn, owner),
            stale_list(conn, owner, now, config, list_limit),
            waiting_list(conn, owner, list_limit),
            recent_events=event_log.recent_events(conn, owner=owner, limit=recent_limit),
            usage=resource_usage(conn, owner, now, config),
        )

    return await store.run_read(work)


def status_counts(conn: Connection, owner: str | None) -> dict[ContractStatus, int]:
    query = _scoped(select(contracts.c.status, func.count()), owner).group_by(contracts.c.status)
    return {ContractStatus(status): count for status, count in conn.execute(query)}


def phase_counts(conn: Connection, owner: str | None) -> dict[str, int]:
    """Active contracts per phase (§4.4: "count by phase, for active contracts")."""
    query = select(contracts.c.phase, func.count()).where(
        contracts.c.status == ContractStatus.ACTIVE.value
    )
    query = _scoped(query, owner).group_by(contracts.c.phase)
    return {phase: count for phase, count in conn.execute(query)}


def stale_list(
    conn: Connection, owner: str | None, now: datetime, cfg: ContractTimeoutConfig, limit: int
) -> list[StaleContractInfo]:
    """The longest-quiet stale contracts (at most `limit`)."""
    query = select(contracts).where(predicates.stale(now, cfg.stale_threshold))
    query = _scoped(query, owner).order_by(contracts.c.last_activity_at).limit(limit)
    rows = (conn.execute(query)).mappings().all()
    infos = (stale_info(contract_from_row(r), now, cfg) for r in rows)
    return [info for info in infos if info is not None]


def waiting_list(conn: Connection, owner: str | None, limit: int) -> list[WaitingContractInfo]:
    """Contracts waiting on the reviewer, longest waiting first, with their pending questions."""
    query = select(contracts).where(predicates.waiting_on_reviewer())
    query = _scoped(query, owner).order_by(contracts.c.status_changed_at).limit(limit)
    waiting = [contract_from_row(r) for r in (conn.execute(query)).mappings().all()]
    pending = _pending_questions(conn, [c.id for c in waiting])
    infos = (waiting_info(c, pending) for c in waiting)
    return [info for info in infos if info is not None]


def _pending_questions(conn: Connection, contract_ids: Sequence[str]) -> list[Question]:
    if not contract_ids:
        return []
    query = select(questions).where(
        questions.c.contract_id.in_(contract_ids),
        questions.c.status == QuestionStatus.PENDING.value,
    )
    return [question_from_row(r) for r in (conn.execute(query)).mappings().all()]


def resource_usage(
    conn: Connection, owner: str | None, now: datetime, cfg: ContractTimeoutConfig
) -> ResourceUsage:
    """The figures of `ResourceUsage.derive`, counted in SQL."""
    live = _live_supervisors(conn, owner, now, cfg)
    return ResourceUsage.derive(
        active_supervisors=_alive_supervisors(conn, owner, now, cfg),
        running_tasks=_open_worker_tasks(conn, owner, TaskStatus.RUNNING),
        pending_tasks=_open_worker_tasks(conn, owner, TaskStatus.PENDING),
        live_daemons=[daemon for daemon, _ in live],
        live_worktrees=[trees or () for _, trees in live],
    )


def _live_supervisors(
    conn: Connection, owner: str | None, now: datetime, cfg: ContractTimeoutConfig
) -> list[tuple[str | None, list[str] | None]]:
    """(daemon_id, worktrees) of each live supervisor's last heartbeat (one row each)."""
    live = supervisor_liveness.c
    query = select(live.daemon_id, live.worktrees).where(
        live.last_heartbeat_at >= now - cfg.heartbeat_timeout
    )
    if owner is not None:
        query = query.where(live.owner == owner)
    return [(daemon, trees) for daemon, trees in conn.execute(query)]


def _alive_supervisors(
    conn: Connection, owner: str | None, now: datetime, cfg: ContractTimeoutConfig
) -> int:
    # Alive = last heartbeat at most the timeout old (core.supervisor.is_alive). Liveness rows
    # exist only for contracts (one each) and carry the owner: one index range, no joins.
    live = supervisor_liveness.c
    query = select(func.count()).where(live.last_heartbeat_at >= now - cfg.heartbeat_timeout)
    if owner is not None:
        query = query.where(live.owner == owner)
    return int(conn.scalar(query) or 0)


def _open_worker_tasks(conn: Connection, owner: str | None, status: TaskStatus) -> int:
    query = (
        select(func.count())
        .select_from(tasks)
        .join(contracts, contracts.c.id == tasks.c.contract_id)
        .where(
            tasks.c.is_supervisor.is_(False),
            tasks.c.status == status.value,
            contracts.c.status.in_(_OPEN),
        )
    )
    return int(conn.scalar(_scoped(query, owner)) or 0)
