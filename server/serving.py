"""`contract-server serve`: one uvicorn process (optionally with the demo simulator) or
N worker processes on PostgreSQL through `app_from_env`.

Every log line, the uvicorn access log included, goes through `core.redaction` (see
`server.logs`): a monitor URL may carry `?api_key=`, and a key must never reach a log.
Connections are guarded by `server.connection_guard` (deadlines, a cap, the file limit).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import logging.config
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from core.actors import Role
from core.clock import SystemClock
from core.config import ContractTimeoutConfig, FeatureFlags, ServerSettings, settings_document
from core.errors import DomainError
from core.store.engine import Store, async_url
from server import connection_guard
from server.app import (
    ENV_CONFIG,
    ENV_DB_URL,
    build_context,
    config_from_env,
    create_app,
    flags_from_env,
    settings_from_env,
)
from server.auth import KeyRing, create_key
from server.cli import APP_NAME, CliError, check_url, safe_url, with_store
from server.logs import log_config
from server.parent_watch import die_with_parent, exit_with_parent

DEMO_KEYS_FILE = "demo-keys.json"
GRACEFUL_SHUTDOWN_SECONDS = 5
# A `--workers` child must answer uvicorn's health ping within this; its default (5 s) kills
# children still importing on a busy machine, again and again, so none ever serves.
WORKER_HEALTHCHECK_SECONDS = 30


Settings = tuple[ContractTimeoutConfig, ServerSettings, FeatureFlags]


def _config(path: str | None) -> Settings:
    """Every table of the configuration, checked: a bad one stops the start (exit 2)."""
    try:
        return config_from_env(path), settings_from_env(path), flags_from_env(path)
    except DomainError as exc:
        raise CliError(exc.message, 2) from None


def print_config(args: argparse.Namespace, settings: Settings) -> int:
    """`serve --print-config`: the effective settings as TOML on stdout, then exit.

    The database URL is shown as a comment with its password hidden; nothing else a
    configuration holds is secret (keys live in the database, never in the file)."""
    source = args.config or os.environ.get(ENV_CONFIG) or "none (defaults)"
    print(f"# contract-server effective configuration; file: {source}")
    print(f"# database: {safe_url(args.db)}")
    print(settings_document(*settings), end="")
    return 0


def _saved_demo_keys(path: Path, url: str) -> tuple[str, str] | None:
    try:
        saved = json.loads(path.read_text())
        if saved.get("db") == url:
            return str(saved["reviewer"]), str(saved["supervisor"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


async def _demo_keys(url: str) -> tuple[str, str]:
    """A reviewer and a supervisor key of the local owner, reused across runs (file 0600)."""
    path = Path(user_data_dir(APP_NAME)) / DEMO_KEYS_FILE

    async def work(store: Store) -> tuple[str, str]:
        saved = _saved_demo_keys(path, url)
        if saved is not None:
            ring = KeyRing(store.engine, cache_seconds=0)
            try:
                for key in saved:
                    await ring.authenticate(key)
                return saved
            except DomainError:
                pass  # revoked: make new ones
            finally:
                ring.close()
        owner = getpass.getuser() or "local"
        now = SystemClock().now()
        async with store.write() as uow:
            reviewer = await create_key(uow.conn, owner, Role.REVIEWER, now)
            supervisor = await create_key(uow.conn, owner, Role.SUPERVISOR, now)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps({"db": url, "reviewer": reviewer, "supervisor": supervisor}))
        return reviewer, supervisor

    return await with_store(url, work)


def _uvicorn_config(app: Any, args: argparse.Namespace, settings: ServerSettings) -> Any:
    import uvicorn

    # A long poll may wait 60 s: shutdown does not wait for it beyond the grace period.
    return uvicorn.Config(
        app, **_uvicorn_options(args, settings), timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS
    )


def _uvicorn_options(args: argparse.Namespace, settings: ServerSettings) -> dict[str, Any]:
    """What `serve` and `--workers` give uvicorn alike: address, redacting logs, guard, and
    a listen backlog as deep as the connection cap, so a burst of connects is queued, not
    dropped (the kernel still caps it at net.core.somaxconn)."""
    return {
        "backlog": max(2048, settings.max_connections + settings.health_reserve),
        "host": args.host,
        "port": args.port,
        "log_config": log_config(args.log_level),
        "log_level": args.log_level,
        "access_log": True,
        "http": GUARDED_PROTOCOL,
    }


GUARDED_PROTOCOL = "server.connection_guard:GuardedHttpProtocol"


async def _serve_one(
    args: argparse.Namespace,
    config: ContractTimeoutConfig,
    settings: ServerSettings,
    flags: FeatureFlags,
) -> int:
    import uvicorn

    url = args.db
    demo_keys = await _demo_keys(url) if args.demo else None
    app = create_app(
        context_factory=lambda: build_context(url, config, settings=settings, flags=flags)
    )
    server = uvicorn.Server(_uvicorn_config(app, args, settings))
    serving = asyncio.ensure_future(server.serve())
    watcher = asyncio.ensure_future(_signal_closing(server, app))
    parent = None
    if args.parent_pid is not None:
        parent = asyncio.ensure_future(exit_with_parent(args.parent_pid, server))
    demo: asyncio.Task[None] | None = None
    if demo_keys is not None:
        demo = asyncio.ensure_future(_run_demo(server, serving, args, demo_keys))
    try:
        await serving
    finally:
        watcher.cancel()
        if parent is not None:
            parent.cancel()
        if demo is not None:
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await demo
    if not server.started:
        raise CliError(f"The server could not start on {args.host}:{args.port}")
    return 0


async def _signal_closing(server: Any, app: Any) -> None:
    """Tell long polls the server is shutting down, so they answer now instead of holding
    the shutdown (uvicorn offers `should_exit` only as a flag, hence the polling)."""
    while not server.should_exit:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    closing = getattr(app.state, "closing", None)
    if closing is not None:
        closing.set()


async def _run_demo(
    server: Any, serving: asyncio.Future[Any], args: argparse.Namespace, keys: tuple[str, str]
) -> None:
    from server.simulator import simulate

    while not server.started:
        if serving.done():
            return
        await asyncio.sleep(0.05)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    logging.getLogger(__name__).info("demo: simulating %d supervisors", args.demo)
    stop = asyncio.Event()
    running = asyncio.ensure_future(
        simulate(
            f"http://{host}:{args.port}", keys[0], args.demo, stop=stop, supervisor_key=keys[1]
        )
    )
    # Stop the simulated supervisors as soon as shutdown starts, so their long polls do not
    # hold the server open. uvicorn offers `should_exit` only as a flag, hence the polling.
    while not (server.should_exit or running.done()):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    stop.set()
    await running


def _serve_workers(args: argparse.Namespace, settings: ServerSettings) -> int:
    import uvicorn

    if async_url(args.db)[1] != "postgresql":
        raise CliError("--workers > 1 needs PostgreSQL (SQLite serves one process)", 2)
    asyncio.run(_migrate_quietly(args.db))
    os.environ[ENV_DB_URL] = args.db
    if args.config:
        os.environ[ENV_CONFIG] = args.config
    uvicorn.run(
        "server.app:app_from_env",
        factory=True,
        workers=args.workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **_uvicorn_options(args, settings),
    )
    return 0


async def _migrate_quietly(url: str) -> None:
    await with_store(url, _nothing)


async def _nothing(_: Store) -> None:
    return None


def serve(args: argparse.Namespace) -> int:
    loaded = _config(args.config)
    if args.print_config:
        return print_config(args, loaded)
    check_url(args.db)
    config, settings, flags = loaded
    logging.config.dictConfig(log_config(args.log_level))
    if args.workers > 1:
        if args.demo:
            raise CliError("--demo runs in one process: drop --workers", 2)
        if args.parent_pid is not None:
            raise CliError("--parent-pid watches one process: drop --workers", 2)
        return _serve_workers(args, settings)
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    connection_guard.configure(settings)
    with contextlib.suppress(KeyboardInterrupt):
        return _event_loop_runner()(_serve_one(args, config, settings, flags))
    return 0


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop where it is installed (uvicorn[standard] brings it): its loop costs less per
    request than asyncio's, which shows at thousands of requests a second."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run
