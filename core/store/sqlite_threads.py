"""Where SQLite transactions run: one writer thread with group commit, a few reader threads.

Why threads and not aiosqlite: through aiosqlite every statement costs about four thread
hops (cursor, execute, fetch, close); a status change took ~5 ms. Here a transaction's
synchronous store code runs on a pysqlite connection in one hop.

Why group commit: the writer thread takes every write waiting in its queue (up to
`max_batch`) and runs them in ONE transaction, each inside its own SAVEPOINT, then
commits once and wakes the event loop once. Under load this saves a BEGIN/COMMIT and two
thread handoffs per write. Semantics are those of separate transactions run one after the
other: a write that raises is rolled back to its savepoint alone; a result is delivered
only after the COMMIT that made it durable; if that COMMIT fails, every write of the batch
fails with its error. A caller cancelled after its write was queued does not undo it.

`exclusive()` parks the writer thread between two batches, so async code writing through
another connection (`Store.write()`) never competes with it for the database lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from core.store.unit_of_work import ReadUnitOfWork, WriteUnitOfWork

T = TypeVar("T")
Work = Callable[[WriteUnitOfWork], Any]
_SAVEPOINT = "SAVEPOINT contract_desk_write"
_ROLLBACK_TO = "ROLLBACK TO contract_desk_write"
_RELEASE = "RELEASE contract_desk_write"


@dataclass(slots=True)
class _Job:
    work: Work | None  # None: a barrier that parks the writer until `release` is set
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    release: threading.Event | None = None


@dataclass(frozen=True, slots=True)
class _Result:
    value: Any = None
    error: BaseException | None = None


def _settle(jobs: list[_Job], results: list[_Result]) -> None:
    """On the event loop: deliver results (a cancelled caller's future is left alone)."""
    for job, result in zip(jobs, results, strict=True):
        if job.future.done():
            continue
        if result.error is not None:
            job.future.set_exception(result.error)
        else:
            job.future.set_result(result.value)


def _wake(jobs: list[_Job], results: list[_Result]) -> None:
    """From the writer thread: one wake-up per event loop waiting on the batch."""
    per_loop: dict[asyncio.AbstractEventLoop, tuple[list[_Job], list[_Result]]] = {}
    for job, result in zip(jobs, results, strict=True):
        mine = per_loop.setdefault(job.loop, ([], []))
        mine[0].append(job)
        mine[1].append(result)
    for loop, (waiting, outcome) in per_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting
            loop.call_soon_threadsafe(_settle, waiting, outcome)


class SqliteThreads:
    def __init__(self, engine: Engine, write_engine: Engine, readers: int, max_batch: int = 64):
        self.engine = engine
        self._write_engine = write_engine  # its "begin" emits BEGIN IMMEDIATE
        self._max_batch = max_batch
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="store-reader")
        self._queue: deque[_Job] = deque()
        self._mutex = threading.Lock()
        self._draining = False  # a drain is scheduled or running (guarded by _mutex)
        self._writer_conn: Connection | None = None  # used on the writer thread only

    async def write(self, work: Callable[[WriteUnitOfWork], T]) -> T:
        """Run `work` in a write transaction on the writer thread; its result once committed."""
        job = self._enqueue(work)
        result: T = await job.future
        return result

    async def read(self, work: Callable[[ReadUnitOfWork], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read_here, work)

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the writer thread parked (between batches) for the duration of the block."""
        release = threading.Event()
        try:
            await self._enqueue(None, release).future
            yield
        finally:
            release.set()

    def _enqueue(self, work: Work | None, release: threading.Event | None = None) -> _Job:
        loop = asyncio.get_running_loop()
        job = _Job(work, loop.create_future(), loop, release)
        with self._mutex:
            self._queue.append(job)
            if self._draining:
                return job
            self._draining = True
        self._writer.submit(self._drain)
        return job

    def _drain(self) -> None:
        while batch := self._take():
            if batch[0].work is None:
                self._park(batch[0])
                continue
            _wake(batch, self._run_batch(batch))

    def _take(self) -> list[_Job]:
        """The next batch: writes in queue order, or one barrier alone."""
        with self._mutex:
            batch: list[_Job] = []
            while self._queue and len(batch) < self._max_batch:
                barrier = self._queue[0].work is None
                if barrier and batch:
                    break
                batch.append(self._queue.popleft())
                if barrier:
                    break
            if not batch:
                self._draining = False
            return batch

    def _park(self, job: _Job) -> None:
        _wake([job], [_Result()])
        assert job.release is not None
        job.release.wait()

    def _run_batch(self, batch: list[_Job]) -> list[_Result]:
        conn = self._connection()
        try:
            with conn.begin():
                if len(batch) == 1:
                    return [_Result(_call(batch[0], conn))]
                return [self._attempt(conn, job) for job in batch]
        except Exception as error:  # the write alone, or the batch's BEGIN/COMMIT, failed
            return [_Result(error=error)] * len(batch)

    def _attempt(self, conn: Connection, job: _Job) -> _Result:
        # Driver-level SAVEPOINT: SQLAlchemy's begin_nested() compiles a fresh, uniquely
        # named statement twice per write, which cost more than the write itself.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute(_SAVEPOINT)
        try:
            value = _call(job, conn)
        except Exception as error:
            driver.execute(_ROLLBACK_TO)
            driver.execute(_RELEASE)
            return _Result(error=error)
        driver.execute(_RELEASE)
        return _Result(value)

    def _connection(self) -> Connection:
        conn = self._writer_conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._writer_conn = self._write_engine.connect()
        return conn

    def _read_here(self, work: Callable[[ReadUnitOfWork], T]) -> T:
        with self.engine.connect() as conn, conn.begin():
            return work(ReadUnitOfWork(conn, "sqlite"))

    def _close_writer(self) -> None:
        if self._writer_conn is not None:
            self._writer_conn.close()
            self._writer_conn = None

    def close(self) -> None:
        """Finish queued writes, then close every connection (blocking: call in a thread)."""
        self._writer.submit(self._close_writer).result()
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.engine.dispose()


def _call(job: _Job, conn: Connection) -> Any:
    assert job.work is not None
    return job.work(WriteUnitOfWork(conn, "sqlite"))
