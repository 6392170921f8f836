"""Worktrees reported by daemons, and the reviewer's cleanup request (`core.worktrees`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field

from core.store import worktrees
from core.supervisor import MAX_PATH, MAX_WORKTREES
from server.deps import ActorDep, CtxDep
from server.routes.publishing import committed
from server.schemas import Body

router = APIRouter(prefix="/api/v1", tags=["worktrees"])

Json = dict[str, Any]


class WorktreeCleanup(Body):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is refused, not ignored

    # None: every worktree reported for the contract.
    paths: list[Annotated[str, Field(min_length=1, max_length=MAX_PATH)]] | None = Field(
        default=None, min_length=1, max_length=MAX_WORKTREES
    )


@router.get("/worktrees")
async def list_worktrees(
    ctx: CtxDep, actor: ActorDep, cleanable: Annotated[bool, Query()] = False
) -> Json:
    """The worktrees daemons reported for the key owner's contracts; `cleanable=true`: only
    those of completed, failed or archived contracts."""
    found = await worktrees.list_reported(ctx.store, actor.owner, cleanable_only=cleanable)
    return {"worktrees": [w.to_wire() for w in found]}


@router.post("/contracts/{contract_id}/worktrees/cleanup", status_code=202)
async def request_cleanup(
    contract_id: str, body: WorktreeCleanup, ctx: CtxDep, actor: ActorDep
) -> Json:
    """Ask the daemon to remove worktrees: one `worktree_cleanup_requested` event each."""
    applied = await ctx.repo.request_worktree_cleanup(contract_id, actor, body.paths)
    committed(ctx, applied)
    return {
        "requested": list((applied.response or {}).get("requested", [])),
        "events": [e.to_wire() for e in applied.events],
    }
