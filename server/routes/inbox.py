"""The reviewer's inbox on the wire: `GET /inbox`, the items waiting on the caller's owner.

The items are `core.inbox`'s rule applied to what the store loads for the owner, so the CLI,
every device and the desktop (which runs the same rule on its replica) list the same items
with the same ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from core.actors import Actor
from core.api.inbox import InboxItemPublic, InboxPublic, SnoozeBody
from core.errors import InboxItemNotFound
from core.events import LoggedEvent, NewEvent
from core.inbox import (
    InboxItem,
    InboxMark,
    claim_mark,
    claimed_event,
    inbox_items,
    snooze_mark,
    snoozed_event,
    unclaimed,
    unclaimed_event,
    unsnoozed,
    unsnoozed_event,
    with_mark,
    with_marks,
)
from core.store import event_log, inbox_marks, queries
from core.store.unit_of_work import WriteUnitOfWork
from server.context import ServerContext
from server.deps import ActorDep, ClaimerDep, CtxDep, SnoozerDep
from server.routes.publishing import publish

router = APIRouter(prefix="/api/v1", tags=["inbox"])


@router.get("/inbox", response_model=InboxPublic)
async def get_inbox(
    ctx: CtxDep,
    actor: ActorDep,
    include_snoozed: Annotated[bool, Query(alias="includeSnoozed")] = False,
) -> InboxPublic:
    """Every item waiting on the caller's owner, oldest first, with its snooze and claim.

    Snoozed items are left out unless `includeSnoozed=true`.
    """
    now = ctx.clock.now()
    items = await _derived_items(ctx, actor.owner, now)
    marks = await ctx.store.run_read(lambda uow: inbox_marks.marks_of(uow.conn, actor.owner))
    shown = with_marks(items, marks, now, ctx.config.claim_expiry, include_snoozed=include_snoozed)
    return InboxPublic(items=[InboxItemPublic.of(item) for item in shown])


@router.post(
    "/inbox/{item_id}/snooze", response_model=InboxItemPublic, response_model_by_alias=True
)
async def snooze_item(
    item_id: str, body: SnoozeBody, ctx: CtxDep, actor: SnoozerDep
) -> InboxItemPublic:
    """Hide the item until `until`, or until it changes (reviewer and admin keys)."""

    def change(mark: InboxMark | None, item: InboxItem, now: datetime) -> _Change:
        new = snooze_mark(mark, item, actor.owner, until=body.until, by=actor.name, now=now)
        return new, snoozed_event(item, body.until)

    return await _mark_item(ctx, actor, item_id, change)


@router.delete(
    "/inbox/{item_id}/snooze", response_model=InboxItemPublic, response_model_by_alias=True
)
async def unsnooze_item(item_id: str, ctx: CtxDep, actor: SnoozerDep) -> InboxItemPublic:
    """Bring a snoozed item back now (nothing to do and no event when it is not snoozed)."""

    def change(mark: InboxMark | None, item: InboxItem, now: datetime) -> _Change:
        if mark is None or mark.snoozed_until is None:
            return None
        return unsnoozed(mark), unsnoozed_event(item)

    return await _mark_item(ctx, actor, item_id, change)


@router.post("/inbox/{item_id}/claim", response_model=InboxItemPublic)
async def claim_item(item_id: str, ctx: CtxDep, actor: ClaimerDep) -> InboxItemPublic:
    """ "I'm on it": the caller's name and the time show on the item for every reviewer of the
    owner until released or lapsed (`claim_expiry_hours`); claiming again restarts it."""

    def change(mark: InboxMark | None, item: InboxItem, now: datetime) -> _Change:
        return claim_mark(mark, item, actor.owner, actor.name, now), claimed_event(item, actor.name)

    return await _mark_item(ctx, actor, item_id, change)


@router.delete(
    "/inbox/{item_id}/claim", response_model=InboxItemPublic, response_model_by_alias=True
)
async def unclaim_item(item_id: str, ctx: CtxDep, actor: ClaimerDep) -> InboxItemPublic:
    """Release the claim (whoever holds it; nothing to do and no event when unclaimed)."""

    def change(mark: InboxMark | None, item: InboxItem, now: datetime) -> _Change:
        if mark is None or mark.claimed_at is None:
            return None
        return unclaimed(mark), unclaimed_event(item, mark.claimed_by)

    return await _mark_item(ctx, actor, item_id, change)


# A mark's change: the new mark and its event, or None when there is nothing to change.
_Change = tuple[InboxMark, NewEvent] | None


async def _derived_items(ctx: ServerContext, owner: str, now: datetime) -> list[InboxItem]:
    config = ctx.config
    sources = await queries.inbox_sources(
        ctx.store,
        owner,
        now=now,
        stale_threshold=config.stale_threshold,
        ready_phases=not config.auto_advance_phases,
    )
    return inbox_items(
        sources.contracts,
        now,
        config.stale_threshold,
        questions=sources.questions,
        tasks=sources.tasks,
        config=config,
    )


async def _mark_item(
    ctx: ServerContext,
    actor: Actor,
    item_id: str,
    change: Callable[[InboxMark | None, InboxItem, datetime], _Change],
) -> InboxItemPublic:
    """Apply `change` to the mark of the owner's item `item_id`, log its event, answer the
    item as every reviewer now sees it (404 INBOX_ITEM_NOT_FOUND: nothing of that id waits)."""
    now = ctx.clock.now()
    found = [i for i in await _derived_items(ctx, actor.owner, now) if i.id == item_id]
    if not found:
        raise InboxItemNotFound(item_id)
    item = found[0]

    def work(uow: WriteUnitOfWork) -> tuple[InboxMark | None, list[LoggedEvent]]:
        mark = inbox_marks.mark_of(uow.conn, actor.owner, item_id)
        changed = change(mark, item, now)
        if changed is None:
            return mark, []
        new, event = changed
        inbox_marks.put_mark(uow.conn, uow.dialect, new)
        logged = event_log.append(
            uow.conn, uow.dialect, [event], owner=actor.owner, actor=actor, at=now
        )
        return new, logged

    mark, logged = await ctx.store.run_write(work)
    publish(ctx, logged)
    return InboxItemPublic.of(with_mark(item, mark, now, ctx.config.claim_expiry))
