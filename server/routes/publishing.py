"""After a use case commits: hand its events to subscribers and count what the metrics count.

Every route that changed something calls `committed(ctx, applied)` before answering, so a
2xx answer always means "committed and published".
"""

from __future__ import annotations

from collections.abc import Sequence

from core.events import EventType, LoggedEvent
from core.status import ContractStatus
from core.store.unit_of_work import Applied
from server.context import ServerContext

AUTO_COMPLETION_REASON = "terminal phase complete"


def committed(ctx: ServerContext, applied: Applied) -> None:
    publish(ctx, applied.events)


def publish(ctx: ServerContext, events: Sequence[LoggedEvent]) -> None:
    count_events(ctx, events)
    ctx.publish(events)


def count_events(ctx: ServerContext, events: Sequence[LoggedEvent]) -> None:
    """phase_transitions_total{from,to}; completion_detections_total (automatic only)."""
    for event in events:
        payload = event.payload
        if event.type is EventType.PHASE_CHANGED:
            labels = {"from": str(payload.get("old_phase")), "to": str(payload.get("new_phase"))}
            ctx.metrics.inc("phase_transitions_total", 1, **labels)
        elif (
            event.type is EventType.STATUS_CHANGED
            and payload.get("new_status") == ContractStatus.COMPLETING.value
            and payload.get("reason") == AUTO_COMPLETION_REASON
        ):
            ctx.metrics.inc("completion_detections_total")
