"""The FastAPI application: context, lifespan (hub, heartbeat writer, services, PG bridge),
routers, error mapping and the request middlewares.

`create_app(ctx)` serves an existing context (tests, embedding); `create_app(
context_factory=...)` builds it in the lifespan and closes its store on shutdown, which is
what `app_from_env()` (the `uvicorn --factory` entry used by `--workers`) and `serve` do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select

from core.clock import Clock, SystemClock
from core.config import (
    ContractTimeoutConfig,
    FeatureFlags,
    ServerSettings,
    check_tables,
    load_config,
    load_feature_flags,
    load_server_settings,
)
from core.events import LoggedEvent
from core.store import queries
from core.store.engine import Store, open_store
from core.store.repository import ContractRepository
from core.store.schema import contracts
from core.store.unit_of_work import ReadUnitOfWork
from server import connection_guard, monitor
from server.auth import KeyRing
from server.context import ServerContext
from server.errors import ERROR_RESPONSES, install_error_handlers
from server.heartbeat_intake import HeartbeatFastPath
from server.heartbeats import HeartbeatWriter
from server.hub import EventHub
from server.idempotency import IdempotencyMiddleware
from server.metrics import Metrics
from server.notify import PgEventBridge
from server.request_guard import RequestGuard
from server.routes import (
    batch,
    feedback,
    history,
    inbox,
    operations,
    questions,
    supervisors,
    worktrees,
)
from server.routes import contracts as contract_routes
from server.services import BackgroundServices

log = logging.getLogger(__name__)

ENV_DB_URL = "CONTRACTS_DB_URL"
ENV_CONFIG = "CONTRACTS_CONFIG"

ContextFactory = Callable[[], Awaitable[ServerContext]]


async def build_context(
    db_url: str,
    config: ContractTimeoutConfig,
    clock: Clock | None = None,
    settings: ServerSettings | None = None,
    flags: FeatureFlags | None = None,
) -> ServerContext:
    """Open (and migrate) the database and assemble what every route and service shares."""
    store = await open_store(db_url, migrate=True)
    clock = clock or SystemClock()
    flags = flags or FeatureFlags()

    async def fetch_after(after: int, limit: int) -> tuple[LoggedEvent, ...]:
        page = await queries.events_after(store, None, after=after, limit=limit)
        return page.events

    return ServerContext(
        store=store,
        repo=ContractRepository(store, clock, config, flags),
        hub=EventHub(fetch_after, buffer_size=config.monitor_ws_buffer_size),
        keys=KeyRing(store.engine, max_cached=(settings or ServerSettings()).key_cache_entries),
        metrics=Metrics(),
        clock=clock,
        config=config,
        settings=settings or ServerSettings(),
        flags=flags,
    )


async def _statuses(store: Store) -> dict[str, str]:
    query = select(contracts.c.id, contracts.c.status)

    def work(uow: ReadUnitOfWork) -> dict[str, str]:
        return {row[0]: row[1] for row in uow.conn.execute(query)}

    return await store.run_read(work)


async def _run_services(app: FastAPI, ctx: ServerContext, stack: AsyncExitStack) -> None:
    ctx.hub.start_at(await queries.head_seq(ctx.store), await _statuses(ctx.store))
    stack.push_async_callback(ctx.hub.close)
    writer = HeartbeatWriter(ctx)
    await writer.start()
    stack.push_async_callback(writer.stop)
    app.state.heartbeat_writer = writer
    services = BackgroundServices(ctx)
    await services.start()
    stack.push_async_callback(services.stop)
    app.state.services = services
    await ctx.sweep_revocations()  # learn the keys revoked before we started
    stack.callback(ctx.keys.close)
    if ctx.store.dialect == "postgresql":
        bridge = PgEventBridge(ctx)  # sweeps when `keys revoke` announces a revocation
        await bridge.start()
        stack.push_async_callback(bridge.stop)
    else:
        watcher = asyncio.get_running_loop().create_task(_watch_revocations(ctx))
        stack.push_async_callback(_cancel, watcher)


async def _watch_revocations(ctx: ServerContext) -> None:
    """SQLite has no notifications: look for revoked keys every `revocation_poll_seconds`
    (one count on a private connection) to close their monitor sockets promptly; requests
    need no such help, they read the key itself."""
    while True:
        await asyncio.sleep(ctx.settings.revocation_poll_seconds)
        try:
            await ctx.sweep_revocations()
        except Exception:  # a locked or vanished file: the next round retries
            log.exception("revocation check failed")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _lifespan(
    factory: ContextFactory | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.closing.clear()
        async with AsyncExitStack() as stack:
            stack.callback(app.state.closing.set)
            if factory is not None:
                app.state.ctx = await factory()
                stack.push_async_callback(app.state.ctx.store.close)
            await _run_services(app, app.state.ctx, stack)
            yield

    return lifespan


def create_app(
    ctx: ServerContext | None = None, *, context_factory: ContextFactory | None = None
) -> FastAPI:
    """The API of API.md on `ctx` (or on the context `context_factory` builds at startup)."""
    if (ctx is None) == (context_factory is None):
        raise ValueError("give exactly one of ctx and context_factory")
    app = FastAPI(
        title="Contract Desk server",
        version="1",
        lifespan=_lifespan(context_factory),
        responses=ERROR_RESPONSES,
    )
    if ctx is not None:
        app.state.ctx = ctx
    app.state.closing = asyncio.Event()  # set when shutdown begins: long polls answer
    # Routes with fixed segments (dashboard, batch) before `/contracts/{id}`.
    for module in (
        history,
        batch,
        contract_routes,
        questions,
        supervisors,
        operations,
        worktrees,
        inbox,
        feedback,
    ):
        app.include_router(module.router)
    app.include_router(monitor.router)
    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(HeartbeatFastPath)  # inside the guard: size, NUL and counting are its
    app.add_middleware(RequestGuard)
    return app


def config_from_env(path: str | None = None) -> ContractTimeoutConfig:
    """The `[contracts]` settings: `path` (or CONTRACTS_CONFIG), then CONTRACTS_* variables."""
    return load_config(path or os.environ.get(ENV_CONFIG) or None, env=os.environ)


def settings_from_env(path: str | None = None) -> ServerSettings:
    """The `[server]` settings: `path` (or CONTRACTS_CONFIG), then CONTRACTS_SERVER_* variables."""
    return load_server_settings(path or os.environ.get(ENV_CONFIG) or None, env=os.environ)


def flags_from_env(path: str | None = None) -> FeatureFlags:
    """The `[feature_flags]`: `path` (or CONTRACTS_CONFIG), then CONTRACTS_FEATURE_* variables.

    Also refuses a file with a table the server does not read, so a misspelt
    `[feature_flag]` stops the start instead of leaving every flag on unnoticed."""
    path = path or os.environ.get(ENV_CONFIG) or None
    if path is not None:
        check_tables(path)
    return load_feature_flags(path, env=os.environ)


def app_from_env() -> FastAPI:
    """`uvicorn --factory server.app:app_from_env`: reads CONTRACTS_DB_URL / CONTRACTS_CONFIG.

    Runs in every `--workers` process, so it also sets that process's connection limits."""
    url = os.environ.get(ENV_DB_URL)
    if not url:
        raise RuntimeError(f"{ENV_DB_URL} is not set")
    config, settings, flags = config_from_env(), settings_from_env(), flags_from_env()
    connection_guard.configure(settings)
    return create_app(
        context_factory=lambda: build_context(url, config, settings=settings, flags=flags)
    )
