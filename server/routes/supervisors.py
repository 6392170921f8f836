"""Supervisors: heartbeats (group-committed by the HeartbeatWriter), status, state, restore."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from core.api.contracts import SupervisorStatusPublic
from core.api.supervisors import (
    HeartbeatBatchBody,
    HeartbeatBody,
    HeartbeatHistoryPublic,
    HeartbeatsAccepted,
    RestartRequested,
    RestorePublic,
    SupervisorStatePublic,
    SupervisorSyncPublic,
)
from core.clock import iso
from core.errors import ContractNotFound, SupervisorDead
from core.store import queries
from core.store.supervision import HeartbeatBatch
from core.supervisor import Heartbeat, SupervisorPersistentState
from server.context import ServerContext
from server.deps import ActorDep, CtxDep, RestarterDep, feature
from server.heartbeat_intake import parse_batch
from server.responses import OrjsonResponse
from server.routes.feedback import acknowledge_from_heartbeat, acknowledged_ids
from server.routes.publishing import committed

router = APIRouter(prefix="/api/v1", tags=["supervisors"])
HEARTBEATS = feature("supervisor_heartbeat", "Supervisor heartbeats")

RawBody = Annotated[dict[str, Any], Body()]


class HeartbeatSink(Protocol):
    """What the heartbeat routes need of `server.heartbeats.HeartbeatWriter`."""

    async def submit(self, heartbeats: Sequence[Heartbeat], owner: str) -> HeartbeatBatch: ...


async def get_writer(request: Request) -> HeartbeatSink:
    writer: HeartbeatSink = request.app.state.heartbeat_writer
    return writer


WriterDep = Annotated[HeartbeatSink, Depends(get_writer)]


# Heartbeats are parsed by hand (`Heartbeat.parse`, the hot path); the schema is documented.
_HEARTBEAT_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": HeartbeatBody.model_json_schema()}},
    }
}


@router.post(
    "/contracts/{contract_id}/supervisor/heartbeat",
    status_code=202,
    response_model=HeartbeatsAccepted,
    openapi_extra=_HEARTBEAT_DOC,
    dependencies=[HEARTBEATS],
)
async def heartbeat(
    contract_id: str, body: RawBody, ctx: CtxDep, actor: ActorDep, writer: WriterDep
) -> OrjsonResponse:
    beat = Heartbeat.parse(body, contract_id, ctx.clock.now())
    acknowledged = acknowledged_ids(body)
    batch = await writer.submit([beat], actor.owner)
    batch.check_tasks([beat], numbered=False)
    if not batch.accepted:
        raise ContractNotFound(contract_id)
    await acknowledge_from_heartbeat(ctx, actor, contract_id, acknowledged)
    return OrjsonResponse({"accepted": 1}, status_code=202)


@router.post(
    "/supervisor/heartbeats",
    status_code=202,
    response_model=HeartbeatsAccepted,
    dependencies=[HEARTBEATS],
)
async def heartbeats(
    body: HeartbeatBatchBody, ctx: CtxDep, actor: ActorDep, writer: WriterDep
) -> OrjsonResponse:
    beats = parse_batch(body.heartbeats, ctx.clock.now())
    batch = await writer.submit(beats, actor.owner)
    batch.check_tasks(beats)
    return OrjsonResponse({"accepted": len(batch.accepted)}, status_code=202)


async def _status(ctx: ServerContext, contract_id: str, owner: str) -> queries.SupervisorStatus:
    return await queries.supervisor_status(
        ctx.store,
        contract_id,
        owner,
        now=ctx.clock.now(),
        heartbeat_timeout=ctx.config.heartbeat_timeout,
    )


@router.get("/contracts/{contract_id}/supervisor/status", response_model=SupervisorStatusPublic)
async def supervisor_status(contract_id: str, ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    return OrjsonResponse((await _status(ctx, contract_id, actor.owner)).to_wire())


@router.get(
    "/contracts/{contract_id}/supervisor/heartbeats",
    response_model=HeartbeatHistoryPublic,
    dependencies=[HEARTBEATS],
)
async def heartbeat_history(
    contract_id: str,
    ctx: CtxDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> OrjsonResponse:
    found = await queries.heartbeat_history(ctx.store, contract_id, actor.owner, limit=limit)
    return OrjsonResponse({"heartbeats": [hb.to_history_wire() for hb in found]})


@router.put("/contracts/{contract_id}/supervisor/state", response_model=SupervisorStatePublic)
async def save_state(
    contract_id: str, body: RawBody, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    state = SupervisorPersistentState.parse(body)
    applied = await ctx.repo.save_supervisor_state(contract_id, actor, state)
    committed(ctx, applied)
    return OrjsonResponse(state.to_wire())


@router.get("/contracts/{contract_id}/supervisor/restore", response_model=RestorePublic)
async def restore(contract_id: str, ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    """How the supervisor resumes, and how often it is to send heartbeats
    (`[contracts] heartbeat_interval_seconds`, so one setting paces every supervisor).
    Pending questions are asked again of the reviewer (`question_redelivered`)."""
    plan, redelivered = await ctx.repo.restore_and_redeliver(contract_id, actor)
    ctx.publish(redelivered)
    wire = plan.to_wire() | {"heartbeat_interval_seconds": ctx.config.heartbeat_interval_seconds}
    return OrjsonResponse(wire)


@router.post("/contracts/{contract_id}/supervisor/sync", response_model=SupervisorSyncPublic)
async def sync(contract_id: str, ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    """The supervisor's state as of its last heartbeat; 503 SUPERVISOR_DEAD when silent."""
    status = await _status(ctx, contract_id, actor.owner)
    if not status.alive or status.state is None:
        raise SupervisorDead(contract_id, iso(status.last_heartbeat))
    applied = await ctx.repo.sync_supervisor_state(contract_id, actor, status.state)
    committed(ctx, applied)
    return OrjsonResponse({"synced": True, "state": status.state.value if status.state else None})


@router.post(
    "/contracts/{contract_id}/supervisor/restart",
    status_code=202,
    response_model=RestartRequested,
)
async def restart(contract_id: str, ctx: CtxDep, actor: RestarterDep) -> JSONResponse:
    applied = await ctx.repo.request_supervisor_restart(contract_id, actor)
    committed(ctx, applied)
    ctx.metrics.inc("supervisor_restarts_total")
    event = applied.events[0].to_wire() if applied.events else None
    return JSONResponse({"requested": True, "event": event}, status_code=202)
