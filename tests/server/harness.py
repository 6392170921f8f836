"""Shared pieces of the in-process server tests: a context, a live uvicorn, databases, keys.

Fixtures defined here are imported by the test modules that use them (`from
tests.server.harness import pg_url`), so this file does not compete with `conftest.py`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import orjson
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from sqlalchemy import select

from core.actors import Actor, Role
from core.clock import Clock, SystemClock
from core.config import ContractTimeoutConfig
from core.store.queries import head_seq
from core.store.schema import contracts
from server import auth
from server.app import build_context as app_context
from server.context import ServerContext
from tests.pg import fresh_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test (dropped afterwards)."""
    with fresh_database("cd_server_test") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'server.db'}"


async def build_context(
    url: str,
    *,
    clock: Clock | None = None,
    config: ContractTimeoutConfig | None = None,
) -> ServerContext:
    """The server's own context on `url`, its hub started at the log's head (as the app's
    lifespan does; tests that serve without a lifespan need it done here)."""
    ctx = await app_context(url, config or ContractTimeoutConfig(), clock or SystemClock())
    statuses = await ctx.store.run_read(
        lambda uow: {
            r.id: r.status for r in uow.conn.execute(select(contracts.c.id, contracts.c.status))
        }
    )
    ctx.hub.start_at(await head_seq(ctx.store), statuses)
    return ctx


async def close_context(ctx: ServerContext) -> None:
    await ctx.hub.close()
    ctx.keys.close()
    await ctx.store.close()


@asynccontextmanager
async def context_on(url: str, **kwargs: Any) -> AsyncIterator[ServerContext]:
    ctx = await build_context(url, **kwargs)
    try:
        yield ctx
    finally:
        await close_context(ctx)


async def make_key(ctx: ServerContext, owner: str, role: str = "admin") -> str:
    async with ctx.store.write() as uow:
        return await auth.create_key(uow.conn, owner, Role(role), ctx.clock.now())


def admin(owner: str = "alice") -> Actor:
    return Actor(owner, Role.ADMIN)


def supervisor(owner: str = "alice") -> Actor:
    return Actor(owner, Role.SUPERVISOR)


async def new_contract(
    ctx: ServerContext, owner: str = "alice", contract_type: str = "simple", **kwargs: Any
) -> str:
    applied = await ctx.repo.create_contract(admin(owner), "work", contract_type, **kwargs)
    ctx.publish(applied.events)
    return applied.contract.id if applied.contract is not None else ""


async def active_contract(ctx: ServerContext, owner: str = "alice", **kwargs: Any) -> str:
    """A contract with a supervisor task, moved to `active`, its events published."""
    cid = await new_contract(ctx, owner, **kwargs)
    applied = await ctx.repo.create_task(cid, supervisor(owner), "supervisor", is_supervisor=True)
    ctx.publish(applied.events)
    applied = await ctx.repo.change_status(cid, supervisor(owner), "active")
    ctx.publish(applied.events)
    return cid


def monitor_app(ctx: ServerContext) -> FastAPI:
    from server.monitor import router

    app = FastAPI()
    app.include_router(router)
    app.state.ctx = ctx
    return app


class LiveServer:
    """uvicorn serving `app` on a free port, as a task of the test's loop."""

    def __init__(self, app: Any, *, lifespan: Literal["auto", "on", "off"] = "off") -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan=lifespan,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/contracts/monitor"

    async def __aenter__(self) -> LiveServer:
        self._task = asyncio.get_running_loop().create_task(self.server.serve())
        for _ in range(500):
            if self.server.started:
                return self
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise RuntimeError("uvicorn did not start")

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task


@asynccontextmanager
async def live_monitor(ctx: ServerContext) -> AsyncIterator[LiveServer]:
    async with LiveServer(monitor_app(ctx)) as server:
        yield server


async def subscribe(
    url: str, key: str, subscription: dict[str, Any], **connect: Any
) -> tuple[Any, int]:
    """Connect, subscribe, and return the socket and the `last_seq` it was told."""
    ws = await websockets.connect(f"{url}?api_key={key}", **connect)
    await ws.send(orjson.dumps(subscription).decode())
    first = orjson.loads(await ws.recv())
    assert first["type"] == "subscribed", first
    return ws, int(first["last_seq"])


async def receive_until(
    ws: Any, done: Any, *, within: float = 5.0, skip_pings: bool = True
) -> list[dict[str, Any]]:
    """Frames until `done(frames)` is true (pings skipped); fails after `within` seconds."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while not done(frames):
            frame = orjson.loads(await ws.recv())
            if skip_pings and frame.get("type") == "ping":
                continue
            frames.append(frame)
    return frames


async def quiet(ws: Any, seconds: float = 0.2) -> list[dict[str, Any]]:
    """Whatever arrives within `seconds` (to prove nothing more comes)."""
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                frames.append(orjson.loads(await ws.recv()))
    except TimeoutError:
        pass
    return frames


async def eventually(predicate: Any, within: float = 5.0, step: float = 0.01) -> None:
    """Wait until `predicate()` is true; fail after `within` seconds."""
    for _ in range(max(1, int(within / step))):
        if predicate():
            return
        await asyncio.sleep(step)
    assert predicate(), "condition not met in time"
