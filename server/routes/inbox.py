"""The reviewer's inbox on the wire: `GET /inbox`, the items waiting on the caller's owner.

The items are `core.inbox`'s rule applied to what the store loads for the owner, so the CLI,
every device and the desktop (which runs the same rule on its replica) list the same items
with the same ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from core.clock import iso
from core.inbox import InboxItem, InboxKind, inbox_items
from core.store import queries
from server.deps import ActorDep, CtxDep

router = APIRouter(prefix="/api/v1", tags=["inbox"])

# Times as every other answer writes them: ISO 8601, UTC, milliseconds, `Z`.
WireTime = Annotated[datetime, PlainSerializer(iso, return_type=str)]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class InboxItemOut(_Wire):
    """One item; the optional fields are null where they do not apply."""

    id: str
    kind: InboxKind
    contract_id: str
    contract_name: str
    phase: str
    since: WireTime
    question_id: str | None = None
    transition_id: str | None = None
    snoozed_until: WireTime | None = None
    claimed_by: str | None = None
    claimed_at: WireTime | None = None
    deadline: WireTime | None = None
    blocked_by: str | None = None

    @classmethod
    def of(cls, item: InboxItem) -> InboxItemOut:
        return cls(
            id=item.id,
            kind=item.kind,
            contract_id=item.contract_id,
            contract_name=item.contract_name,
            phase=item.phase,
            since=item.since,
            question_id=item.question_id,
            transition_id=item.transition_id,
            snoozed_until=item.snoozed_until,
            claimed_by=item.claimed_by,
            claimed_at=item.claimed_at,
            deadline=item.deadline,
            blocked_by=item.blocked_by,
        )


class InboxOut(_Wire):
    items: list[InboxItemOut]


@router.get("/inbox", response_model=InboxOut, response_model_by_alias=True)
async def get_inbox(
    ctx: CtxDep,
    actor: ActorDep,
    include_snoozed: Annotated[bool, Query(alias="includeSnoozed")] = False,
) -> InboxOut:
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
    return InboxOut(items=[InboxItemOut.of(item) for item in items])
