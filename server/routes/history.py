"""Reads across contracts: the event log, the dashboard, a contract's export, and the timing
rules (`GET /config`) the dashboard and the stale detector apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.api.events import DashboardPublic, EventPagePublic, ServerConfigPublic
from core.api.supervisors import ExportPublic
from core.config import config_to_wire
from core.store import aggregates, queries
from server.deps import ActorDep, CtxDep, feature
from server.responses import OrjsonResponse

router = APIRouter(prefix="/api/v1", tags=["history"])

Limit = Annotated[int, Query(ge=1, le=1000)]
After = Annotated[int, Query(ge=0, le=2**62)]


@router.get("/events", response_class=OrjsonResponse, response_model=EventPagePublic)
async def events(
    ctx: CtxDep,
    actor: ActorDep,
    after: After = 0,
    limit: Limit = 100,
    contract_id: Annotated[str | None, Query(alias="contractId", max_length=200)] = None,
) -> OrjsonResponse:
    page = await queries.events_after_wire(
        ctx.store, actor.owner, after=after, contract_id=contract_id, limit=limit
    )
    return OrjsonResponse(page)


@router.get(
    "/contracts/dashboard",
    response_class=OrjsonResponse,
    response_model=DashboardPublic,
    dependencies=[feature("monitoring_dashboard", "The monitoring dashboard")],
)
async def dashboard(ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    board = await aggregates.dashboard(
        ctx.store, actor.owner, now=ctx.clock.now(), config=ctx.config
    )
    return OrjsonResponse(board.to_wire())


@router.get("/config", response_class=OrjsonResponse, response_model=ServerConfigPublic)
async def config(ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    """The timing rules this server applies (stale threshold, timeouts), for any key: clients
    show staleness by the server's threshold instead of a copy of their own."""
    del actor
    return OrjsonResponse(config_to_wire(ctx.config, ctx.flags))


@router.get(
    "/contracts/{contract_id}/events", response_class=OrjsonResponse, response_model=EventPagePublic
)
async def contract_events(
    contract_id: str, ctx: CtxDep, actor: ActorDep, after: After = 0, limit: Limit = 100
) -> OrjsonResponse:
    """The contract's events; a deleted contract's history stays readable."""
    page = await queries.events_after_wire(
        ctx.store, actor.owner, after=after, contract_id=contract_id, limit=limit
    )
    if not page["events"] and after == 0:
        await queries.get_contract(ctx.store, contract_id, actor.owner)  # 404 when unknown
    return OrjsonResponse(page)


@router.get(
    "/contracts/{contract_id}/export", response_class=OrjsonResponse, response_model=ExportPublic
)
async def export(contract_id: str, ctx: CtxDep, actor: ActorDep) -> OrjsonResponse:
    return OrjsonResponse(await queries.export_contract(ctx.store, contract_id, actor.owner))
