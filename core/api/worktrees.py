"""Worktrees reported by daemons and the reviewer's cleanup request (`core.worktrees`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from core.api.base import Body, CamelModel, WireTime
from core.api.events import EventPublic
from core.status import ContractStatus
from core.supervisor import MAX_PATH, MAX_WORKTREES
from core.worktrees import ReportedWorktree


class WorktreeCleanupBody(Body):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not ignored

    # None: every worktree reported for the contract.
    paths: list[Annotated[str, Field(min_length=1, max_length=MAX_PATH)]] | None = Field(
        default=None, min_length=1, max_length=MAX_WORKTREES
    )


class WorktreePublic(CamelModel):
    contract_id: str
    contract_name: str
    contract_status: ContractStatus
    path: str
    reported_at: WireTime
    cleanable: bool

    def to_domain(self) -> ReportedWorktree:
        return ReportedWorktree(
            contract_id=self.contract_id,
            contract_name=self.contract_name,
            contract_status=self.contract_status,
            path=self.path,
            reported_at=self.reported_at,
        )


class WorktreeListPublic(CamelModel):
    worktrees: list[WorktreePublic]


class CleanupRequestedPublic(CamelModel):
    requested: list[str]
    events: list[EventPublic]
