"""Typed dependencies for routes: the server context and the acting key's Actor.

A route declares `ctx: CtxDep` and `actor: ActorDep` (or `HumanDep` / `AdminDep` when only
some roles may call it); the role rules that core does not already enforce live here, so
every route that needs one names it in its signature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from core.actors import Actor, Role
from core.errors import Forbidden
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


async def human_actor(actor: ActorDep) -> Actor:
    """Reviewer or admin: reviewer actions (create, settings, pause, archive, delete...)."""
    if actor.role not in (Role.ADMIN, Role.REVIEWER):
        raise Forbidden("This action needs a reviewer or admin key; supervisor keys may not")
    return actor


async def admin_actor(actor: ActorDep) -> Actor:
    if actor.role is not Role.ADMIN:
        raise Forbidden("Batch operations need an admin key")
    return actor


HumanDep = Annotated[Actor, Depends(human_actor)]
AdminDep = Annotated[Actor, Depends(admin_actor)]
