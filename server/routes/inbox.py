"""The reviewer's inbox on the wire: `GET /inbox`, the items waiting on the caller's owner.

The items are `core.inbox`'s rule applied to what the store loads for the owner, so the CLI,
every device and the desktop (which runs the same rule on its replica) list the same items
with the same ids.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.api.inbox import InboxPublic
from core.inbox import inbox_items
from core.store import queries
from server.deps import ActorDep, CtxDep
from server.responses import OrjsonResponse

router = APIRouter(prefix="/api/v1", tags=["inbox"])


@router.get("/inbox", response_class=OrjsonResponse, response_model=InboxPublic)
async def get_inbox(
    ctx: CtxDep,
    actor: ActorDep,
    include_snoozed: Annotated[bool, Query(alias="includeSnoozed")] = False,
) -> OrjsonResponse:
    """Every item waiting on the caller's owner, oldest first.

    `includeSnoozed=true` also lists snoozed items; nothing is snoozed yet (the snooze
    endpoints come with the next issue), so both answers are the same today.
    """
    del include_snoozed
    now = ctx.clock.now()
    config = ctx.config
    sources = await queries.inbox_sources(
        ctx.store,
        actor.owner,
        now=now,
        stale_threshold=config.stale_threshold,
        ready_phases=not config.auto_advance_phases,
    )
    items = inbox_items(
        sources.contracts,
        now,
        config.stale_threshold,
        questions=sources.questions,
        tasks=sources.tasks,
        config=config,
    )
    return OrjsonResponse({"items": [item.to_wire() for item in items]})
