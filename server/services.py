"""The background services: every time rule, run on a timer, its events published.

Stale detection, input timeout, completion grace, archive retention and the heartbeat and
idempotency purges are one `ContractRepository.sweep(now)`; this module only runs it every
`stale_detection_interval` and hands the events it committed to the hub (and, through
`ctx.publish`, to other server processes). Time comes from `ctx.clock`, so a test drives
`run_once` with a `ManualClock` and never sleeps.

On several server processes every one sweeps; that is safe because each rule re-checks the
freshly locked row (a second detector finds nothing due), so an episode is reported once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.events import EventType
from core.status import ContractStatus
from core.store.sweep import SweepReport
from server.context import ServerContext

log = logging.getLogger(__name__)


class BackgroundServices:
    """Runs the sweep every `config.stale_detection_interval`; a failing sweep is retried."""

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        self.failures = 0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run_once(self, now: datetime | None = None) -> SweepReport:
        """Apply every time rule as of `now` (default: the clock) and publish its events."""
        report = await self._ctx.repo.sweep(now or self._ctx.clock.now())
        self.runs += 1
        self._ctx.publish(report.events)
        detected = sum(1 for e in report.events if _entered_completing(e.type, e.payload))
        if detected:
            self._ctx.metrics.inc("completion_detections_total", detected)
        for contract_id, why in report.errors.items():
            log.info("sweep skipped contract %s: %s", contract_id, why)
        if report.escalated or report.claims_expired:
            log.info(
                "sweep escalated %d contract(s), released %d lapsed claim(s)",
                len(report.escalated),
                len(report.claims_expired),
            )
        return report

    async def _loop(self) -> None:
        interval = self._ctx.config.stale_detection_interval.total_seconds()
        while True:
            try:
                await self.run_once()
            except Exception:  # the database may be briefly away: log, try next tick
                self.failures += 1
                log.exception("background sweep failed; retrying in %.3g s", interval)
            await asyncio.sleep(interval)


def _entered_completing(event_type: EventType, payload: Mapping[str, Any]) -> bool:
    return (
        event_type is EventType.STATUS_CHANGED
        and payload.get("new_status") == ContractStatus.COMPLETING.value
    )
