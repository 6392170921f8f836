"""Worktrees reported by daemons, and the reviewer's cleanup request (`core.worktrees`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.api.worktrees import (
    CleanupRequestedPublic,
    WorktreeCleanupBody,
    WorktreeListPublic,
)
from core.outcome import CleanupRequested
from core.store import worktrees
from server.deps import ActorDep, CtxDep
from server.responses import OrjsonResponse
from server.routes.publishing import committed

router = APIRouter(prefix="/api/v1", tags=["worktrees"])


@router.get("/worktrees", response_class=OrjsonResponse, response_model=WorktreeListPublic)
async def list_worktrees(
    ctx: CtxDep, actor: ActorDep, cleanable: Annotated[bool, Query()] = False
) -> OrjsonResponse:
    """The worktrees daemons reported for the key owner's contracts; `cleanable=true`: only
    those of completed, failed or archived contracts."""
    found = await worktrees.list_reported(ctx.store, actor.owner, cleanable_only=cleanable)
    return OrjsonResponse({"worktrees": [w.to_wire() for w in found]})


@router.post(
    "/contracts/{contract_id}/worktrees/cleanup",
    status_code=202,
    response_class=OrjsonResponse,
    response_model=CleanupRequestedPublic,
)
async def request_cleanup(
    contract_id: str, body: WorktreeCleanupBody, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    """Ask the daemon to remove worktrees: one `worktree_cleanup_requested` event each."""
    applied = await ctx.repo.request_worktree_cleanup(contract_id, actor, body.paths)
    committed(ctx, applied)
    decision = applied.decision
    requested = list(decision.paths) if isinstance(decision, CleanupRequested) else []
    answer = {"requested": requested, "events": [e.to_wire() for e in applied.events]}
    return OrjsonResponse(answer, status_code=202)
