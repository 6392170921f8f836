"""Opening stores: URL handling, SQLite connection setup, write serialization."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.store import Store, open_store
from core.store.engine import async_url
from core.store.unit_of_work import WriteUnitOfWork


@pytest.mark.parametrize(
    ("url", "driver", "dialect"),
    [
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite", "sqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite", "sqlite"),
        ("postgresql://u@h/db", "postgresql+asyncpg", "postgresql"),
        ("postgres://u@h/db", "postgresql+asyncpg", "postgresql"),
        ("postgresql+asyncpg://u:p@h:5433/db", "postgresql+asyncpg", "postgresql"),
    ],
)
def test_urls_get_the_async_driver(url: str, driver: str, dialect: str) -> None:
    parsed, found = async_url(url)
    assert (parsed.drivername, found) == (driver, dialect)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u@h/db",
        "postgresql+psycopg2://u@h/db",
        "not a url",
        "sqlite://",
        "sqlite:///:memory:",
    ],
)
def test_other_urls_are_a_clear_value_error(url: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite:///PATH|Not a database URL"):
        async_url(url)


async def _pragmas(store: Store) -> dict[str, object]:
    names = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
    return await store.run_read(
        lambda uow: {n: uow.conn.exec_driver_sql(f"PRAGMA {n}").scalar() for n in names}
    )


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    store = await open_store(sqlite_url, migrate=True)
    try:
        expected = {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 5000,
            "synchronous": 1,
        }
        assert await _pragmas(store) == expected
        written = await store.run_write(
            lambda uow: uow.conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
        )
        assert written == 1
        async with store.read() as uow:  # the async engine's connections too
            assert (await uow.conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000
            assert (await uow.conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await store.close()


async def test_sqlite_write_transactions_take_the_write_lock_at_begin(sqlite_url: str) -> None:
    """BEGIN IMMEDIATE: a second connection cannot even start writing meanwhile."""
    store = await open_store(sqlite_url, migrate=True)
    try:
        async with store.write() as uow:
            await uow.conn.execute(text("SELECT 1"))
            probe = Path(sqlite_url.removeprefix("sqlite:///"))
            assert _write_is_blocked(probe)
    finally:
        await store.close()


def _write_is_blocked(path: Path) -> bool:
    import sqlite3

    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        return "locked" in str(error)
    finally:
        other.close()
    return False


async def test_a_failing_write_in_a_batch_rolls_back_alone(sqlite_url: str) -> None:
    """Writes queued together share a commit; one that raises leaves the others intact,
    whether it raised itself or the database refused a statement."""
    store = await open_store(sqlite_url, migrate=True)
    try:
        await store.run_write(
            lambda uow: uow.conn.exec_driver_sql("CREATE TABLE t (v INT PRIMARY KEY)")
        )

        def insert(value: int) -> Callable[[WriteUnitOfWork], int]:
            def work(uow: WriteUnitOfWork) -> int:
                uow.conn.exec_driver_sql(f"INSERT INTO t VALUES ({value})")
                if value == 7:
                    uow.conn.exec_driver_sql("INSERT INTO t VALUES (7)")  # IntegrityError
                if value % 3 == 0:
                    raise RuntimeError(f"refused {value}")
                return value

            return work

        assert store.threads is not None
        async with store.threads.exclusive():  # the writer waits: all 12 queue, one batch
            queued = [asyncio.create_task(store.run_write(insert(v))) for v in range(1, 13)]
            await asyncio.sleep(0)
        results = await asyncio.gather(*queued, return_exceptions=True)
        assert sum(isinstance(r, RuntimeError) for r in results) == 4
        assert isinstance(results[6], IntegrityError)
        stored = await store.run_read(
            lambda uow: sorted(r[0] for r in uow.conn.exec_driver_sql("SELECT v FROM t"))
        )
        assert stored == [v for v in range(1, 13) if v % 3 and v != 7]
    finally:
        await store.close()


async def test_an_async_write_parks_the_writer_thread(sqlite_url: str) -> None:
    """`store.write()` and `run_write` never compete for the lock (no 'database is locked')."""
    store = await open_store(sqlite_url, migrate=True)
    try:
        await store.run_write(lambda uow: uow.conn.exec_driver_sql("CREATE TABLE t (v INT)"))
        order: list[str] = []

        async def async_writer() -> None:
            async with store.write() as uow:
                await uow.conn.execute(text("INSERT INTO t VALUES (1)"))
                await asyncio.sleep(0.05)
                order.append("async")

        def thread_write(uow: WriteUnitOfWork) -> None:
            uow.conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            order.append("thread")

        task = asyncio.create_task(async_writer())
        await asyncio.sleep(0.01)
        await store.run_write(thread_write)
        await task
        assert order == ["async", "thread"]
    finally:
        await store.close()


async def test_two_stores_on_one_file_wait_for_each_other(sqlite_url: str) -> None:
    """Two processes' writers: the second waits (busy_timeout) instead of failing."""
    first, second = await open_store(sqlite_url, migrate=True), await open_store(sqlite_url)
    try:
        await first.run_write(lambda uow: uow.conn.exec_driver_sql("CREATE TABLE t (v INT)"))

        def slow(uow: WriteUnitOfWork) -> float:
            uow.conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            time.sleep(0.2)
            return time.monotonic()

        def quick(uow: WriteUnitOfWork) -> float:
            uow.conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            return time.monotonic()

        slow_task = asyncio.create_task(first.run_write(slow))
        await asyncio.sleep(0.05)
        quick_done = await second.run_write(quick)
        assert quick_done >= await slow_task
        count = await first.run_read(
            lambda uow: uow.conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
        )
        assert count == 2
    finally:
        await first.close()
        await second.close()
