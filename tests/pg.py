"""PostgreSQL for tests: one fresh database per test, created and dropped on the server
that `CONTRACTS_TEST_PG_URL` names. Without the variable, PostgreSQL tests skip."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

PG_ENV = "CONTRACTS_TEST_PG_URL"


def run_outside_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion on a private loop in another thread.

    Sync fixtures and sync tests use this so they never touch the event loop pytest-asyncio
    keeps current: `asyncio.run` in the main thread sets the current loop to None on its way
    out, leaking that loop (an "unclosed event loop" error in whichever test the GC runs in;
    with xdist any sync test may follow an async one on the same worker).
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def plain_dsn(url: str, database: str | None = None) -> str:
    """The URL as asyncpg takes it (no `+driver`), optionally for another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def admin_execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


# Dropping a database waits for a checkpoint (a second or more on a busy machine): tests
# hand their databases to this one thread and go on; the session's end waits for it.
_dropper = ThreadPoolExecutor(1, thread_name_prefix="pg-drop")
_drops: list[Future[None]] = []


def drop_later(url: str, name: str) -> None:
    """DROP DATABASE `name` (on the server of `url`) in the background."""
    statement = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    _drops.append(_dropper.submit(asyncio.run, admin_execute(url, statement)))


def finish_drops() -> None:
    """Wait for the background drops (tests/conftest.py, at the session's end); a failed
    drop is raised here."""
    while _drops:
        _drops.pop().result()


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, empty database (its URL); dropped afterwards. Skips without PostgreSQL."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    run_outside_loop(admin_execute(base, f'CREATE DATABASE "{name}"'))
    try:
        yield plain_dsn(base, name)
    finally:
        drop_later(base, name)
