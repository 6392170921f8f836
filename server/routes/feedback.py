"""Feedback that reaches the supervisor: it acknowledges a reviewer's change request.

`POST /contracts/{id}/feedback/{feedbackId}/ack` (supervisor and admin keys), or the next
heartbeat naming the ids in `acknowledged_feedback` (`acknowledge_from_heartbeat`, called by
both heartbeat entry points). The thread and the delivery state are `core.feedback`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from core.actors import Actor
from core.api.feedback import FeedbackPublic
from core.errors import FeedbackNotFound, ValidationFailed
from core.feedback import MAX_ACKNOWLEDGED, AckVia
from core.permissions import check_acknowledge_feedback
from core.store import feedback_log
from server.context import ServerContext
from server.deps import ActorDep, CtxDep
from server.responses import OrjsonResponse
from server.routes.publishing import publish

router = APIRouter(prefix="/api/v1", tags=["feedback"])

Json = dict[str, Any]
ACK_KEYS = ("acknowledged_feedback", "acknowledgedFeedback")


@router.post(
    "/contracts/{contract_id}/feedback/{feedback_id}/ack",
    response_class=OrjsonResponse,
    response_model=FeedbackPublic,
)
async def acknowledge_feedback(
    contract_id: str, feedback_id: str, ctx: CtxDep, actor: ActorDep
) -> OrjsonResponse:
    """The supervisor picked the feedback up; answers the thread entry (`delivery`:
    `delivered`). Acknowledging again answers the same entry and logs nothing."""
    check_acknowledge_feedback(actor)
    done = await feedback_log.acknowledge(
        ctx.store,
        contract_id,
        actor.owner,
        actor,
        [feedback_id],
        AckVia.ACK,
        ctx.clock.now(),
        strict=True,
    )
    publish(ctx, done.events)
    entry = next((e for e in done.thread if e.id == feedback_id), None)
    if entry is None:  # cannot happen after a strict acknowledgement; say so clearly
        raise FeedbackNotFound(contract_id, feedback_id)
    return OrjsonResponse(entry.to_wire())


def acknowledged_ids(raw: Any) -> list[str]:
    """The heartbeat's `acknowledged_feedback` ids ([] when absent); a bad value is 400
    naming the field."""
    if not isinstance(raw, Mapping):
        return []
    value = next((raw[k] for k in ACK_KEYS if k in raw), None)
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_ACKNOWLEDGED
        or not all(isinstance(v, str) and 0 < len(v) <= 36 for v in value)
    ):
        raise ValidationFailed(
            f"'acknowledged_feedback' must be a list of at most {MAX_ACKNOWLEDGED} feedback ids",
            details={"field": "acknowledged_feedback"},
        )
    return list(value)


async def acknowledge_from_heartbeat(
    ctx: ServerContext, actor: Actor, contract_id: str, ids: list[str]
) -> None:
    """Acknowledge the feedback a heartbeat names (ids the thread does not hold, or holds
    acknowledged, are skipped: a heartbeat never fails on them)."""
    if not ids:
        return
    check_acknowledge_feedback(actor)
    done = await feedback_log.acknowledge(
        ctx.store,
        contract_id,
        actor.owner,
        actor,
        ids,
        AckVia.HEARTBEAT,
        ctx.clock.now(),
        strict=False,
    )
    publish(ctx, done.events)
