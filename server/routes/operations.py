"""`/health` and `/metrics` (no `/api/v1` prefix, no key: for load balancers and Prometheus).

`[server] metrics_require_key = true` makes `/metrics` ask for a key like any route (its
counts are aggregates over every owner; see SECURITY.md). `/health` never does: it says only
whether the database answers.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from core.status import ContractStatus
from core.store import predicates
from core.store.aggregates import status_counts
from core.store.unit_of_work import ReadUnitOfWork
from server.context import ServerContext
from server.deps import CtxDep, presented_key

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/health")
async def health(ctx: CtxDep) -> JSONResponse:
    try:
        await ctx.store.run_read(lambda uow: uow.conn.execute(text("SELECT 1")).scalar())
    except Exception as error:  # any failure to reach the database is "unhealthy"
        log.warning("health check: database unreachable: %s", type(error).__name__)
        return JSONResponse({"status": "unhealthy", "db": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "db": "ok"})


async def _gauges(ctx: ServerContext) -> tuple[dict[str, int], int]:
    now = ctx.clock.now()
    stale = select(func.count()).where(predicates.stale(now, ctx.config.stale_threshold))

    def work(uow: ReadUnitOfWork) -> tuple[dict[str, int], int]:
        conn = uow.conn
        counts = {s.value: 0 for s in ContractStatus}
        counts.update({s.value: n for s, n in status_counts(conn, None).items()})
        return counts, int(conn.scalar(stale) or 0)

    return await ctx.store.run_read(work)


@router.get("/metrics")
async def metrics(request: Request, ctx: CtxDep) -> PlainTextResponse:
    if ctx.settings.metrics_require_key:
        await ctx.keys.authenticate(presented_key(request))  # 401 UNAUTHORIZED without one
    counts, stale = await _gauges(ctx)
    gauges = {
        "api_key_cache_entries": ("API key lookups cached (bounded)", ctx.keys.cached),
        "monitor_subscribers": ("Open monitor WebSocket subscriptions", ctx.hub.subscriber_count),
    }
    text_out = ctx.metrics.render(counts, stale, gauges)
    return PlainTextResponse(text_out, media_type=PROMETHEUS_TYPE)
