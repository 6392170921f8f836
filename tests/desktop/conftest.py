"""Fixtures of the desktop tests: a qasync loop, an in-process backend, contracts to show.

- `qloop`: a qasync `QEventLoop` on the test's QApplication, set as the current loop.
  `run(coro)` runs a coroutine to completion on it (Qt events are processed meanwhile), so
  tests drive async reads and operations without a separate thread. Inside a coroutine,
  wait with `await until(...)`, never `qtbot.wait` (re-entering the loop).
- `backend`: a `LocalBackend` — a real `Replica` and `Outbox` on this test's own file, no
  server; its connection state is set by the test.
- `bridge`: a `SyncBridge` over it, closed after the test.
- `sync_server`: a real `contract-server` process, one per test module (tests/desktop/live_desk.py
  opens the whole desk on it).
"""

from __future__ import annotations

import asyncio
import gc
import os
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
import shiboken6
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from core.actors import Actor, Role
from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.events import EventType, LoggedEvent
from core.model import Contract
from core.phases import ContractType
from core.status import ContractStatus, WaitingFor
from desktop.bridge import SyncBridge
from desktop.operations import TaskRunner
from desktop.ports import OFFLINE
from sync.errors import ConnectionFailed
from sync.observers import Observers
from sync.outbox import Outbox, OutboxEntry
from sync.replica import Replica
from tests.sync.server_fixture import sync_server

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

__all__ = ["sync_server"]  # a fixture of tests.sync.server_fixture, offered here too
T = TypeVar("T")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REVIEWER = Actor("alice", Role.REVIEWER)
SUPERVISOR = Actor("alice", Role.SUPERVISOR)


def make_contract(
    number: int = 0,
    *,
    status: ContractStatus = ContractStatus.ACTIVE,
    phase: str = "plan",
    waiting_for: WaitingFor | None = None,
    quiet: timedelta = timedelta(minutes=1),
    version: int = 1,
    name: str | None = None,
    contract_type: ContractType = ContractType.SIMPLE,
    **extra: Any,
) -> Contract:
    contract_id = extra.pop("id", None) or str(uuid.UUID(int=number + 1))
    return Contract(
        id=contract_id,
        owner="replica",
        name=name or f"Contract {number:05d}",
        contract_type=contract_type,
        phase=phase,
        status=status,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - quiet,
        status_changed_at=NOW - quiet,
        last_activity_at=NOW - quiet,
        version=version,
        waiting_for=waiting_for,
        **extra,
    )


def make_event(
    seq: int,
    contract_id: str,
    kind: EventType = EventType.STATUS_CHANGED,
    *,
    actor: Actor = SUPERVISOR,
    at: datetime | None = None,
    **payload: Any,
) -> LoggedEvent:
    return LoggedEvent(
        seq, at or NOW - timedelta(minutes=60 - seq), kind, contract_id, actor, payload
    )


class LocalBackend:
    """`DeskBackend` without a server: a replica and an outbox on a file of the test's."""

    def __init__(self, replica: Replica, clock: ManualClock) -> None:
        self._replica = replica
        self._outbox = Outbox(replica, clock=clock)
        self._state = OFFLINE
        self.since: datetime | None = clock.now()
        self.sent = 0
        self.previews: list[Mapping[str, Any]] = []
        self.config: ContractTimeoutConfig | None = None  # what server_config answers
        self.states: Observers[str] = Observers("state")

    @property
    def replica(self) -> Replica:
        return self._replica

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    @property
    def state(self) -> str:
        return self._state

    @property
    def offline_since(self) -> datetime | None:
        return self.since

    def set_state(self, state: str) -> None:
        self._state = state
        self.states.publish(state)

    def on_state(self, callback: Callable[[str], None]) -> Callable[[], None]:
        return self.states.subscribe(callback)

    def on_contracts(self, callback: Callable[[frozenset[str]], None]) -> Callable[[], None]:
        return self._replica.contracts_changed.subscribe(callback)

    def on_outbox(self, callback: Callable[[OutboxEntry], None]) -> Callable[[], None]:
        return self._outbox.entry_changed.subscribe(callback)

    def on_events(self, callback: Callable[[tuple[LoggedEvent, ...]], None]) -> Callable[[], None]:
        return self._replica.events_applied.subscribe(callback)

    def send_soon(self) -> None:
        self.sent += 1

    async def batch_preview(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.previews.append(dict(params))
        return {
            "operation": params["operation"],
            "affected_count": 0,
            "affected_ids": [],
            "errors": [],
            "dry_run": True,
        }

    async def server_config(self) -> ContractTimeoutConfig:
        if self.config is None:
            raise ConnectionFailed("no server behind the local backend")
        return self.config

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._replica.close()


class Loop:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        self.run(until(condition, timeout), timeout + 5)


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="session")
def session_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """One qasync loop for the whole session: creating and closing one per test left Qt
    timers pointing at deleted loop internals (a segfault in a later test)."""
    loop = qasync.QEventLoop(qapp)
    previous = current_loop()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(previous)
        loop.close()


def current_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set as this thread's current one, if any, without making one (as
    `asyncio.get_event_loop` would).

    Switching back to it, never to None: pytest-asyncio keeps a loop current between async
    tests, and dropping it leaks it (an "unclosed event loop" error in whichever test the
    GC runs in; with xdist a Qt test may follow an async test on the same worker)."""
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    loop: asyncio.AbstractEventLoop | None = getattr(local, "_loop", None)
    return loop


@pytest.fixture
def qloop(session_loop: asyncio.AbstractEventLoop) -> Iterator[Loop]:
    """The session's qasync loop as this test's current loop; tasks the test left behind
    are cancelled (and awaited) afterwards."""
    previous = current_loop()
    asyncio.set_event_loop(session_loop)
    try:
        yield Loop(session_loop)
    finally:
        pending = [t for t in asyncio.all_tasks(session_loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            session_loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        asyncio.set_event_loop(previous)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def backend(qloop: Loop, tmp_path: Path, clock: ManualClock) -> Iterator[LocalBackend]:
    replica = qloop.run(Replica.open(tmp_path / "replica.db"))
    local = LocalBackend(replica, clock)
    try:
        yield local
    finally:
        qloop.run(local.stop())


@pytest.fixture
def runner(qloop: Loop) -> TaskRunner:
    return TaskRunner(qloop.loop)


@pytest.fixture
def bridge(
    backend: LocalBackend, runner: TaskRunner, clock: ManualClock, qloop: Loop
) -> Iterator[SyncBridge]:
    made = SyncBridge(backend, runner, clock=clock)
    try:
        yield made
    finally:
        made.close()
        qloop.run(runner.drain())
        made.deleteLater()


def _active_timers() -> list[QTimer]:
    found = []
    for thing in gc.get_objects():
        try:
            if isinstance(thing, QTimer) and shiboken6.isValid(thing) and thing.isActive():
                found.append(thing)
        except ReferenceError:  # a dead weakref proxy
            continue
    return found


@pytest.fixture(autouse=True)
def no_leaked_widgets_or_timers(qapp: QApplication) -> Iterator[None]:
    """A test that leaves a visible window or a running QTimer behind fails (STYLE.md §7).

    Runs after qtbot has closed the widgets registered with `qtbot.addWidget`."""
    before_widgets = set(qapp.topLevelWidgets())
    before_timers = set(_active_timers())
    yield
    qapp.processEvents()
    leaked = [
        w
        for w in qapp.topLevelWidgets()
        if w not in before_widgets and shiboken6.isValid(w) and w.isVisible()
    ]
    timers = [t for t in _active_timers() if t not in before_timers]
    for widget in leaked:
        widget.close()
    for timer in timers:
        timer.stop()
    assert not leaked, f"widgets left open: {[w.objectName() or type(w).__name__ for w in leaked]}"
    assert not timers, f"timers left running: {[t.objectName() or repr(t) for t in timers]}"
