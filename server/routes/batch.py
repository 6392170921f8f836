"""`POST /contracts/batch` (admin keys only): plan in core, apply item by item.

Each item is its own transaction through the ordinary use case, so every move still goes
through the status table and logs its event; one item's failure is reported and the others
go on. `cleanup_archived` deletions are logged with the contract ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import APIRouter

from core.actions import ReviewerAction, statuses_allowing
from core.actors import Actor
from core.api.batch import BatchBody, BatchResult
from core.batch import (
    ARCHIVABLE,
    BatchAction,
    BatchItem,
    BatchOperation,
    BatchRequest,
    plan_batch,
)
from core.errors import DomainError
from core.model import Contract
from core.status import ContractStatus
from core.store import queries
from core.store.queries import MAX_LIMIT, ContractFilter
from core.store.unit_of_work import Applied
from server.context import ServerContext
from server.deps import AdminDep, CtxDep
from server.responses import OrjsonResponse
from server.routes.publishing import committed

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/contracts", tags=["batch"])

_S = ContractStatus
_CANDIDATES: dict[BatchOperation, tuple[ContractStatus, ...]] = {
    BatchOperation.ARCHIVE_OLD: ARCHIVABLE,
    BatchOperation.PAUSE_ALL: tuple(statuses_allowing(ReviewerAction.PAUSE)),
    BatchOperation.RESUME_ALL: tuple(statuses_allowing(ReviewerAction.RESUME)),
    BatchOperation.CLEANUP_ARCHIVED: (_S.ARCHIVED,),
    BatchOperation.RESTART_STALE: (_S.ACTIVE,),
}


async def _candidates(ctx: ServerContext, owner: str, op: BatchOperation) -> list[Contract]:
    """Every contract of `owner` in a status the operation may touch (the planner narrows)."""
    found: list[Contract] = []
    now = ctx.clock.now()
    while True:
        where = ContractFilter(statuses=_CANDIDATES[op], limit=MAX_LIMIT, offset=len(found))
        page = await queries.list_contracts(ctx.store, owner, where, now=now)
        found.extend(page.contracts)
        if len(page.contracts) < MAX_LIMIT:
            return found


async def _apply_item(
    ctx: ServerContext, actor: Actor, item: BatchItem, request: BatchRequest
) -> Applied:
    repo, cid = ctx.repo, item.contract_id
    reason = f"batch {request.operation.value}"
    if item.action is BatchAction.ARCHIVE:
        return await repo.change_status(cid, actor, _S.ARCHIVED, reason=reason)
    if item.action is BatchAction.PAUSE:
        return await repo.change_status(cid, actor, _S.PAUSED, reason=request.reason or reason)
    if item.action is BatchAction.RESUME:
        return await repo.change_status(cid, actor, _S.ACTIVE, reason=reason)
    if item.action is BatchAction.DELETE:
        applied = await repo.delete_contract(cid, actor)
        log.info("batch cleanup_archived deleted contract %s (owner %s)", cid, actor.owner)
        return applied
    applied = await repo.request_supervisor_restart(cid, actor)
    ctx.metrics.inc("supervisor_restarts_total")
    return applied


async def _run(
    ctx: ServerContext, actor: Actor, items: Sequence[BatchItem], request: BatchRequest
) -> tuple[dict[str, str], dict[str, str]]:
    """Apply each item: the status each changed contract ended in, and the errors met."""
    done: dict[str, str] = {}
    errors: dict[str, str] = {}
    for item in items:
        try:
            applied = await _apply_item(ctx, actor, item, request)
        except DomainError as error:
            errors[item.contract_id] = error.message
            continue
        committed(ctx, applied)
        done[item.contract_id] = "deleted" if applied.deleted else applied.contract.status.value
    return done, errors


@router.post("/batch", response_model=BatchResult)
async def batch(body: BatchBody, ctx: CtxDep, actor: AdminDep) -> OrjsonResponse:
    request = BatchRequest.parse(body.model_dump(exclude_none=True))
    contracts = await _candidates(ctx, actor.owner, request.operation)
    plan = plan_batch(request, contracts, ctx.clock.now(), ctx.config)
    if request.dry_run:
        return OrjsonResponse(BatchResult.of(plan, True).model_dump(mode="json"))
    ctx.metrics.inc("batch_operations_total", operation=request.operation.value)
    done, errors = await _run(ctx, actor, plan.items, request)
    result = BatchResult.of(plan, False, list(done), errors, done)
    return OrjsonResponse(result.model_dump(mode="json"))
