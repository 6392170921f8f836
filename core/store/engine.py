"""Opening a store: engines, connection setup and where each transaction runs.

`open_store(url)` accepts SQLite (`sqlite:///PATH`, `sqlite+aiosqlite:///PATH`) and PostgreSQL
(`postgresql://…`, `postgres://…`, `postgresql+asyncpg://…`) URLs.

The store's own logic (units of work, queries) is plain synchronous SQLAlchemy code over a
`Connection`; `run_write(fn)` / `run_read(fn)` run it as one transaction:

- PostgreSQL: on an asyncpg connection through `AsyncConnection.run_sync`, so every
  statement awaits the network without blocking the loop. Writers lock the contract row
  (`SELECT … FOR NO KEY UPDATE`); no process-wide lock.
- SQLite: on threads with pysqlite connections, a whole transaction per thread hop (see
  `sqlite_threads`: through aiosqlite every statement costs about four hops, which capped
  a status change at ~190/s). Writes queue for ONE writer thread (group commit), so they
  wait in line instead of spinning on SQLITE_BUSY; its transactions start with
  `BEGIN IMMEDIATE`, so two writers can never both read a version and then both pass the
  version check, and `busy_timeout` makes other processes' writers wait. Reads use a
  deferred `BEGIN` on a small thread pool and, in WAL mode, never wait for the writer.

`engine` is the async engine (aiosqlite / asyncpg) for ad-hoc async code; `write()` /
`read()` give an `AsyncUnitOfWork` on it (on SQLite, `write()` parks the writer thread).
Prefer `run_write` / `run_read`: they are the fast path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime
from typing import Any, Literal, TypeVar

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.clock import iso
from core.store.sqlite_threads import SqliteThreads
from core.store.unit_of_work import ReadUnitOfWork, WriteUnitOfWork

T = TypeVar("T")
Dialect = Literal["sqlite", "postgresql"]

# Execution option marking connections that run write transactions (BEGIN IMMEDIATE).
WRITE_OPTION = "contract_desk_write"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
)
_SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}
_PG_DRIVERS = {"postgresql", "postgres", "postgresql+asyncpg"}
_SQLITE_READERS = 4


def async_url(url: str) -> tuple[URL, Dialect]:
    """The URL with its async driver (aiosqlite or asyncpg) and the dialect name.

    Raises ValueError for other URLs and for in-memory SQLite (the store opens several
    connections, and each would see its own empty database).
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy's ArgumentError has a terse message
        raise ValueError(f"Not a database URL: {url!r} ({exc})") from None
    if parsed.drivername in _SQLITE_DRIVERS:
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("In-memory SQLite is not supported: use sqlite:///PATH to a file")
        return parsed.set(drivername="sqlite+aiosqlite"), "sqlite"
    if parsed.drivername in _PG_DRIVERS:
        return parsed.set(drivername="postgresql+asyncpg"), "postgresql"
    raise ValueError(
        f"Unsupported database URL {parsed.render_as_string(hide_password=True)!r}: use "
        "sqlite:///PATH, sqlite+aiosqlite:///PATH, postgresql://… or postgresql+asyncpg://…"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, frozenset | set | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """JSON for JSON columns: compact, times as ISO text."""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


# isolation_level=None hands transaction control to us: the "begin" hook emits BEGIN.
_SQLITE_CONNECT_ARGS = {"isolation_level": None, "timeout": 5.0}


def create_engine_for(url: str, *, pool_size: int | None = None) -> tuple[AsyncEngine, Dialect]:
    """The async engine for `url`, configured for this project (pragmas, BEGIN control)."""
    target, dialect = async_url(url)
    if dialect == "postgresql":
        engine = create_async_engine(
            target,
            json_serializer=dumps,
            json_deserializer=orjson.loads,
            pool_size=pool_size or 10,
            max_overflow=20,
        )
        return engine, dialect
    engine = create_async_engine(
        target,
        json_serializer=dumps,
        json_deserializer=orjson.loads,
        connect_args=dict(_SQLITE_CONNECT_ARGS),
        pool_size=pool_size or 4,
    )
    _configure_sqlite(engine.sync_engine)
    return engine, dialect


def _sync_sqlite_engine(target: URL, pool_size: int) -> Engine:
    engine = create_engine(
        target.set(drivername="sqlite+pysqlite"),
        json_serializer=dumps,
        json_deserializer=orjson.loads,
        connect_args={**_SQLITE_CONNECT_ARGS, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=pool_size,
    )
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front: a writer never reads a version that another
    # writer is about to change, and never fails late with SQLITE_BUSY when upgrading.
    writing = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


class Store:
    """One database. `run_write` / `run_read` run synchronous store code as one transaction.

    `threads` is set for SQLite (see `SqliteThreads`); PostgreSQL runs the same code on the
    async engine's connections.
    """

    def __init__(
        self, engine: AsyncEngine, dialect: Dialect, threads: SqliteThreads | None = None
    ) -> None:
        self.engine = engine
        self.dialect: Dialect = dialect
        self.threads = threads

    async def run_write(self, work: Callable[[WriteUnitOfWork], T]) -> T:
        """Run `work` in one write transaction: committed if it returns, rolled back if not."""
        if self.threads is None:
            async with self.engine.connect() as conn, conn.begin():
                return await conn.run_sync(lambda c: work(WriteUnitOfWork(c, self.dialect)))
        return await self.threads.write(work)

    async def run_read(self, work: Callable[[ReadUnitOfWork], T]) -> T:
        """Run `work` in one read transaction (a consistent snapshot); it must not write."""
        if self.threads is None:
            async with self.engine.connect() as conn, conn.begin():
                return await conn.run_sync(lambda c: work(ReadUnitOfWork(c, self.dialect)))
        return await self.threads.read(work)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncUnitOfWork]:
        """An async write transaction on `engine`, for code that awaits between statements.

        On SQLite the writer thread is parked meanwhile, so the two never compete for the
        database lock: keep such blocks short, every `run_write` waits for them.
        """
        parked = self.threads.exclusive() if self.threads is not None else nullcontext()
        writer = self.engine.execution_options(**{WRITE_OPTION: True})
        async with parked, writer.connect() as conn, conn.begin():
            yield AsyncUnitOfWork(conn, self.dialect)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncUnitOfWork]:
        """An async read transaction on `engine`."""
        async with self.engine.connect() as conn, conn.begin():
            yield AsyncUnitOfWork(conn, self.dialect)

    async def close(self) -> None:
        """Wait for running transactions, then close every connection."""
        if self.threads is not None:
            await asyncio.to_thread(self.threads.close)
        await self.engine.dispose()


class AsyncUnitOfWork:
    """A transaction on the async engine: `conn` for async statements, `run` for store code."""

    def __init__(self, conn: AsyncConnection, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect: Dialect = dialect

    async def run(self, work: Callable[[WriteUnitOfWork], T]) -> T:
        """Run synchronous store code (e.g. `uow.load_for_update`) in this transaction.

        Only a transaction from `Store.write()` may write.
        """
        return await self.conn.run_sync(lambda c: work(WriteUnitOfWork(c, self.dialect)))


def create_private_file(url: str) -> None:
    """Create the SQLite file of `url` with mode 0600 unless it exists (PostgreSQL: nothing)."""
    target, dialect = async_url(url)
    database = target.database
    if dialect != "sqlite" or not database or database == ":memory:":
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


async def open_store(url: str, *, pool_size: int | None = None, migrate: bool = False) -> Store:
    """Open the database at `url`; with `migrate=True` first upgrade its schema to head.

    A new SQLite file is created 0600 first (SQLite gives its -wal and -shm files the same
    mode): contracts, questions and API key hashes are nobody else's to read."""
    create_private_file(url)
    if migrate:
        from core.store.migrate import upgrade

        await upgrade(url)
    engine, dialect = create_engine_for(url, pool_size=pool_size)
    if dialect == "postgresql":
        return Store(engine, dialect)
    readers = pool_size or _SQLITE_READERS
    sync_engine = _sync_sqlite_engine(engine.url, readers + 1)
    writer = sync_engine.execution_options(**{WRITE_OPTION: True})
    return Store(engine, dialect, SqliteThreads(sync_engine, writer, readers))
