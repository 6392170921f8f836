"""Supervisors: heartbeats (group-committed by the HeartbeatWriter), status, state, restore."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from core.clock import iso
from core.errors import ContractNotFound, SupervisorDead
from core.store import queries
from core.store.supervision import HeartbeatBatch
from core.supervisor import Heartbeat, SupervisorPersistentState
from server.context import ServerContext
from server.deps import ActorDep, CtxDep, RestarterDep
from server.heartbeat_intake import parse_batch
from server.routes.publishing import committed
from server.schemas import HeartbeatBatchBody

router = APIRouter(prefix="/api/v1", tags=["supervisors"])

Json = dict[str, Any]
RawBody = Annotated[dict[str, Any], Body()]


class HeartbeatSink(Protocol):
    """What the heartbeat routes need of `server.heartbeats.HeartbeatWriter`."""

    async def submit(self, heartbeats: Sequence[Heartbeat], owner: str) -> HeartbeatBatch: ...


async def get_writer(request: Request) -> HeartbeatSink:
    writer: HeartbeatSink = request.app.state.heartbeat_writer
    return writer


WriterDep = Annotated[HeartbeatSink, Depends(get_writer)]


@router.post("/contracts/{contract_id}/supervisor/heartbeat", status_code=202)
async def heartbeat(
    contract_id: str, body: RawBody, ctx: CtxDep, actor: ActorDep, writer: WriterDep
) -> Json:
    beat = Heartbeat.parse(body, contract_id, ctx.clock.now())
    batch = await writer.submit([beat], actor.owner)
    batch.check_tasks([beat], numbered=False)
    if not batch.accepted:
        raise ContractNotFound(contract_id)
    return {"accepted": 1}


@router.post("/supervisor/heartbeats", status_code=202)
async def heartbeats(
    body: HeartbeatBatchBody, ctx: CtxDep, actor: ActorDep, writer: WriterDep
) -> Json:
    beats = parse_batch(body.heartbeats, ctx.clock.now())
    batch = await writer.submit(beats, actor.owner)
    batch.check_tasks(beats)
    return {"accepted": len(batch.accepted)}


async def _status(ctx: ServerContext, contract_id: str, owner: str) -> queries.SupervisorStatus:
    return await queries.supervisor_status(
        ctx.store,
        contract_id,
        owner,
        now=ctx.clock.now(),
        heartbeat_timeout=ctx.config.heartbeat_timeout,
    )


@router.get("/contracts/{contract_id}/supervisor/status")
async def supervisor_status(contract_id: str, ctx: CtxDep, actor: ActorDep) -> Json:
    return (await _status(ctx, contract_id, actor.owner)).to_wire()


@router.get("/contracts/{contract_id}/supervisor/heartbeats")
async def heartbeat_history(
    contract_id: str,
    ctx: CtxDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> Json:
    found = await queries.heartbeat_history(ctx.store, contract_id, actor.owner, limit=limit)
    return {"heartbeats": [hb.to_history_wire() for hb in found]}


@router.put("/contracts/{contract_id}/supervisor/state")
async def save_state(contract_id: str, body: RawBody, ctx: CtxDep, actor: ActorDep) -> Json:
    state = SupervisorPersistentState.parse(body)
    applied = await ctx.repo.save_supervisor_state(contract_id, actor, state)
    committed(ctx, applied)
    return state.to_wire()


@router.get("/contracts/{contract_id}/supervisor/restore")
async def restore(contract_id: str, ctx: CtxDep, actor: ActorDep) -> Json:
    plan, redelivered = await ctx.repo.restore_and_redeliver(contract_id, actor)
    ctx.publish(redelivered)
    return plan.to_wire()


@router.post("/contracts/{contract_id}/supervisor/sync")
async def sync(contract_id: str, ctx: CtxDep, actor: ActorDep) -> Json:
    """The supervisor's state as of its last heartbeat; 503 SUPERVISOR_DEAD when silent."""
    status = await _status(ctx, contract_id, actor.owner)
    if not status.alive or status.state is None:
        raise SupervisorDead(contract_id, iso(status.last_heartbeat))
    applied = await ctx.repo.sync_supervisor_state(contract_id, actor, status.state)
    committed(ctx, applied)
    return {"synced": True, "state": status.state.value}


@router.post("/contracts/{contract_id}/supervisor/restart", status_code=202)
async def restart(contract_id: str, ctx: CtxDep, actor: RestarterDep) -> JSONResponse:
    applied = await ctx.repo.request_supervisor_restart(contract_id, actor)
    committed(ctx, applied)
    ctx.metrics.inc("supervisor_restarts_total")
    event = applied.events[0].to_wire() if applied.events else None
    return JSONResponse({"requested": True, "event": event}, status_code=202)
