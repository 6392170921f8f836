"""Worktrees a supervisor's daemon reported, and a reviewer's request to clean them up
(§5.2 `contracts cleanup --worktrees`).

A heartbeat may carry `worktrees` (paths): the daemon's whole list for that contract, which
replaces the one stored. Cleanup is a request, not an action: the server cannot reach the
daemon's disk, so it logs one `worktree_cleanup_requested` event per worktree; the daemon
removes the worktree and its next heartbeat no longer lists it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.actors import Actor
from core.clock import iso
from core.contract_change import ContractChange
from core.errors import Forbidden, ValidationFailed
from core.events import EventType
from core.model import Contract
from core.outcome import CleanupRequested, Outcome
from core.status import ContractStatus

# Worktrees of these contracts are left-overs: the work they held is over.
CLEANABLE_STATUSES = frozenset(
    {ContractStatus.COMPLETED, ContractStatus.FAILED, ContractStatus.ARCHIVED}
)


def is_cleanable(status: ContractStatus) -> bool:
    """Whether a contract in `status` may have its worktrees cleaned up."""
    return status in CLEANABLE_STATUSES


@dataclass(frozen=True, slots=True)
class ReportedWorktree:
    """One worktree as the last heartbeat that listed it reported it."""

    contract_id: str
    contract_name: str
    contract_status: ContractStatus
    path: str
    reported_at: datetime

    @property
    def cleanable(self) -> bool:
        return is_cleanable(self.contract_status)

    def to_wire(self) -> dict[str, Any]:
        return {
            "contractId": self.contract_id,
            "contractName": self.contract_name,
            "contractStatus": self.contract_status.value,
            "path": self.path,
            "reportedAt": iso(self.reported_at),
            "cleanable": self.cleanable,
        }


def request_cleanup(
    contract: Contract,
    reported: Sequence[str],
    paths: Sequence[str] | None,
    now: datetime,
    actor: Actor,
) -> Outcome:
    """Ask the daemon to remove `paths` (None: every reported worktree) of a finished or
    archived contract: one event per worktree; the contract itself is unchanged.

    Refused: a supervisor key (a person decides what is thrown away), an open contract
    (its supervisor may still be using them), a path the daemon never reported.
    """
    if not actor.is_human:
        raise Forbidden("Only a reviewer or an admin may clean up worktrees")
    if not is_cleanable(contract.status):
        raise ValidationFailed(
            "Worktrees are cleaned up only for completed, failed or archived contracts; "
            f"this one is '{contract.status.value}'",
            details={"status": contract.status.value},
        )
    wanted = list(reported) if paths is None else list(dict.fromkeys(paths))
    unknown = [p for p in wanted if p not in reported]
    if unknown:
        raise ValidationFailed(
            f"No worktree {unknown[0]!r} was reported for this contract",
            details={"field": "paths", "unknown": unknown},
        )
    change = ContractChange(contract)
    for path in wanted:
        change.emit(
            EventType.WORKTREE_CLEANUP_REQUESTED,
            path=path,
            supervisor_task_id=contract.supervisor_task_id,
        )
    return change.outcome(now, decision=CleanupRequested(tuple(wanted)))
