"""Typed dependencies for routes: the server context and the acting key's Actor.

A route declares `ctx: CtxDep` and `actor: ActorDep` (or `AdminDep`, or the dependency of
its row in core's reviewer-only table, `core.permissions`), so every route that needs a role
rule names it in its signature and the rule itself is core's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from core.actors import Actor, Role
from core.errors import Forbidden
from core.permissions import ReviewerOnly, check_reviewer_action
from server.auth import KEY_HEADER, key_from_headers
from server.context import ServerContext


async def get_ctx(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[ServerContext, Depends(get_ctx)]


def presented_key(request: Request) -> str | None:
    return key_from_headers(request.headers.get("authorization"), request.headers.get(KEY_HEADER))


async def current_actor(request: Request, ctx: CtxDep) -> Actor:
    """The key's owner and role; missing or unknown key: 401 UNAUTHORIZED."""
    cached = getattr(request.state, "actor", None)
    if isinstance(cached, Actor):
        return cached
    actor = await ctx.keys.authenticate(presented_key(request))
    request.state.actor = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def feature(flag: str, what: str) -> Any:
    """A route dependency: `404 FEATURE_DISABLED` when `[feature_flags] flag` is off.

    Checked before the key, so the answer is the same for every caller: the feature is not
    there, as on an older server."""

    async def enabled(ctx: CtxDep) -> None:
        ctx.flags.require(flag, what)

    return Depends(enabled)


def reviewer_for(action: ReviewerOnly) -> Callable[[Actor], Awaitable[Actor]]:
    """A dependency: the actor, if core's reviewer-only table lets it take `action`."""

    async def reviewer(actor: ActorDep) -> Actor:
        check_reviewer_action(actor, action)
        return actor

    return reviewer


def _reviewer(action: ReviewerOnly) -> Any:
    return Annotated[Actor, Depends(reviewer_for(action))]


async def admin_actor(actor: ActorDep) -> Actor:
    if actor.role is not Role.ADMIN:
        raise Forbidden("Batch operations need an admin key")
    return actor


AdminDep = Annotated[Actor, Depends(admin_actor)]
CreatorDep = _reviewer(ReviewerOnly.CREATE_CONTRACT)
EditorDep = _reviewer(ReviewerOnly.UPDATE_CONTRACT)
DeleterDep = _reviewer(ReviewerOnly.DELETE_CONTRACT)
AutoCompleteDep = _reviewer(ReviewerOnly.SET_AUTO_COMPLETE)
RestarterDep = _reviewer(ReviewerOnly.RESTART_SUPERVISOR)
SnoozerDep = _reviewer(ReviewerOnly.SNOOZE_ITEM)
ClaimerDep = _reviewer(ReviewerOnly.CLAIM_ITEM)
