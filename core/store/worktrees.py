"""Storage of the worktrees daemons report (heartbeat `worktrees`), see `core.worktrees`.

Kept apart from the heartbeat writer's hot path: only heartbeats that carry the list cost a
statement here, and a daemon sends it when it changes or now and then, not necessarily with
every beat.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from core.status import ContractStatus
from core.store.engine import Store
from core.store.schema import contract_worktrees, contracts
from core.store.unit_of_work import ReadUnitOfWork
from core.supervisor import Heartbeat
from core.worktrees import CLEANABLE_STATUSES, ReportedWorktree

_T = contract_worktrees.c


def replace_reported(conn: Connection, latest: Sequence[Heartbeat]) -> None:
    """Each contract's worktrees become those its newest heartbeat listed (if it listed any:
    a heartbeat without `worktrees` leaves them as they are)."""
    reporting = [hb for hb in latest if hb.worktrees is not None]
    if not reporting:
        return
    conn.execute(
        delete(contract_worktrees).where(_T.contract_id.in_([hb.contract_id for hb in reporting]))
    )
    rows = [
        {"contract_id": hb.contract_id, "path": path, "reported_at": hb.timestamp}
        for hb in reporting
        for path in hb.worktrees or ()
    ]
    if rows:
        conn.execute(insert(contract_worktrees), rows)


def reported_paths(conn: Connection, contract_id: str) -> list[str]:
    """The contract's reported worktrees, by path."""
    query = select(_T.path).where(_T.contract_id == contract_id).order_by(_T.path)
    return list(conn.scalars(query))


async def list_reported(
    store: Store, owner: str | None, *, cleanable_only: bool = False
) -> list[ReportedWorktree]:
    """The worktrees reported for `owner`'s contracts (None: all), by contract then path;
    `cleanable_only`: those of finished or archived contracts (`core.worktrees`)."""
    c = contracts.c
    query = (
        select(_T.contract_id, c.name, c.status, _T.path, _T.reported_at)
        .join(contracts, c.id == _T.contract_id)
        .order_by(c.name, _T.contract_id, _T.path)
    )
    if owner is not None:
        query = query.where(c.owner == owner)
    if cleanable_only:
        query = query.where(c.status.in_([s.value for s in CLEANABLE_STATUSES]))

    def work(uow: ReadUnitOfWork) -> list[ReportedWorktree]:
        return [
            ReportedWorktree(cid, name, ContractStatus(status), path, at)
            for cid, name, status, path, at in uow.conn.execute(query)
        ]

    return await store.run_read(work)
