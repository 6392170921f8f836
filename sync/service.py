"""`SyncService`: the one object that keeps a replica in step with a server.

It owns the connection state and runs the client, the monitor, the replica feed and the
outbox:

    service = SyncService(replica_path, base_url, api_key)
    service.state_changed.subscribe(on_state)        # ConnectionState
    service.contracts_changed.subscribe(on_changed)  # frozenset of contract ids
    service.outbox_changed.subscribe(on_entry)       # OutboxEntry
    await service.start()                            # returns at once; syncs in the background
    await service.outbox.pause(contract_id)          # reviewer actions go through the outbox
    await service.stop()

`start(offline=True)` (or no URL) opens the replica and the outbox without connecting: reads
answer from the replica, actions queue up.

Connecting: CONNECTING → CATCHING_UP (snapshot on first contact, else catch-up of missed
events through GET /events, then the outbox is flushed) → the monitor WebSocket follows from
the replica's cursor → LIVE. Any failure → OFFLINE and a retry after a growing backoff; the
monitor reconnects by itself and every return to LIVE flushes the outbox and refreshes
contracts. New outbox entries are sent at once when LIVE, and retried every
`flush_interval` seconds while any wait.

Observers are plain callbacks or async iterators (`Observers.stream()`); no Qt here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from core.clock import Clock, SystemClock
from core.errors import DomainError, ErrorCode
from core.events import LoggedEvent, MonitorFilter
from core.wire import event_from_wire
from sync.client import ContractClient
from sync.errors import ApiError, ConnectionFailed
from sync.monitor import Backoff, ConnectionFactory, MonitorClient, MonitorState
from sync.observers import Observers
from sync.outbox import Outbox, OutboxEntry, OutboxState
from sync.replica import Replica
from sync.replica_feed import ReplicaFeed

log = logging.getLogger(__name__)


class ConnectionState(StrEnum):
    OFFLINE = "offline"  # not connected: offline mode, server unreachable, or stopped
    CONNECTING = "connecting"  # reaching the server (HTTP, then the monitor WebSocket)
    CATCHING_UP = "catching_up"  # connected; snapshot or missed events being applied
    LIVE = "live"  # caught up: events apply as they happen, actions are sent at once


C = ConnectionState
MOVES: Final[Mapping[ConnectionState, frozenset[ConnectionState]]] = {
    C.OFFLINE: frozenset({C.CONNECTING}),
    C.CONNECTING: frozenset({C.CATCHING_UP, C.OFFLINE}),
    C.CATCHING_UP: frozenset({C.LIVE, C.OFFLINE}),
    C.LIVE: frozenset({C.CATCHING_UP, C.OFFLINE}),
}
# When the monitor jumps (e.g. straight to LIVE), the states passed on the way.
_VIA: Final[Mapping[tuple[ConnectionState, ConnectionState], ConnectionState]] = {
    (C.OFFLINE, C.CATCHING_UP): C.CONNECTING,
    (C.OFFLINE, C.LIVE): C.CONNECTING,
    (C.CONNECTING, C.LIVE): C.CATCHING_UP,
}
OUTBOX_KEEP = timedelta(days=7)  # answered entries are kept this long, then pruned
# Refusals that retrying cannot fix: the service reports them and stops trying.
FATAL_CODES = frozenset({ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN})


class IllegalConnectionMove(DomainError):
    code = ErrorCode.INVALID_TRANSITION

    def __init__(self, old: ConnectionState, new: ConnectionState) -> None:
        allowed = sorted(s.value for s in MOVES[old])
        super().__init__(
            f"The sync connection cannot move from '{old}' to '{new}'; allowed from "
            f"'{old}': {', '.join(allowed)}",
            {"from": old.value, "to": new.value, "allowed": allowed},
        )


def check_move(old: ConnectionState, new: ConnectionState) -> None:
    if new not in MOVES[old]:
        raise IllegalConnectionMove(old, new)


class SyncService:
    """Replica + client + monitor + outbox for one server and one key."""

    def __init__(
        self,
        replica_path: str | Path,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        clock: Clock | None = None,
        transport: Any = None,
        connect: ConnectionFactory | None = None,
        heartbeats: bool = True,
        flush_interval: float = 5.0,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.replica_path = Path(replica_path)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.api_key = api_key
        self.clock = clock or SystemClock()
        self.state_changed: Observers[ConnectionState] = Observers("state_changed")
        self.errors: Observers[ApiError] = Observers("sync_errors")
        self.fatal: ApiError | None = None  # a refusal that stopped the service from trying
        self._transport = transport
        self._connect = connect
        self._heartbeats = heartbeats
        self._flush_interval = flush_interval
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self._timeout = timeout
        self._state = C.OFFLINE
        self._replica: Replica | None = None
        self._outbox: Outbox | None = None
        self.client: ContractClient | None = None
        self.feed: ReplicaFeed | None = None
        self.monitor: MonitorClient | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._beats: dict[str, Any] = {}
        self._unsubscribe: list[Any] = []

    # --- what the application sees ------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def replica(self) -> Replica:
        if self._replica is None:
            raise RuntimeError("the sync service is not started")
        return self._replica

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            raise RuntimeError("the sync service is not started")
        return self._outbox

    @property
    def contracts_changed(self) -> Observers[frozenset[str]]:
        return self.replica.contracts_changed

    @property
    def events_applied(self) -> Observers[tuple[LoggedEvent, ...]]:
        return self.replica.events_applied

    @property
    def outbox_changed(self) -> Observers[OutboxEntry]:
        return self.outbox.entry_changed

    @property
    def online(self) -> bool:
        return self.base_url is not None and self.api_key is not None

    # --- life ----------------------------------------------------------------------------

    async def start(self, *, offline: bool = False) -> None:
        """Open the replica and the outbox (SENDING entries go back to QUEUED); unless
        offline (or no server is configured), connect in the background."""
        if self._replica is not None:
            raise RuntimeError("the sync service is already started")
        self._stopping.clear()
        self._replica = await Replica.open(self.replica_path)
        self._outbox = Outbox(self._replica, clock=self.clock)
        await self._outbox.prune(OUTBOX_KEEP)
        recovered = await self._outbox.recover()
        if recovered:
            log.info("outbox: %d entries were being sent when the last run ended", recovered)
        if offline or not self.online:
            log.info("sync: offline (replica %s)", self.replica_path)
            return
        self._go_online()

    def connect(self, base_url: str, api_key: str) -> None:
        """Start connecting after an offline start: the desktop opens its replica at once
        and connects once its embedded server answers."""
        if self._replica is None or self.client is not None:
            raise RuntimeError("connect() follows an offline start()")
        self.base_url, self.api_key = base_url.rstrip("/"), api_key
        self._go_online()

    def _go_online(self) -> None:
        assert self._outbox is not None and self._replica is not None
        assert self.base_url is not None and self.api_key is not None
        self.client = ContractClient(
            self.base_url, self.api_key, transport=self._transport, timeout=self._timeout
        )
        self.feed = ReplicaFeed(self._replica, self.client, server_url=self.base_url)
        self._unsubscribe.append(self._outbox.queued.subscribe(lambda _: self.kick_flush()))
        self._runner = asyncio.create_task(self._run(), name="sync-service")
        self._spawn(self._flush_timer())

    async def stop(self) -> None:
        """Disconnect, finish what is being applied, close the replica. Idempotent."""
        self._stopping.set()
        if self.monitor is not None:
            self.monitor.stop()
        for task in [self._runner, self._flush_task, *self._tasks]:
            if task is not None and not task.done():
                task.cancel()
        for task in [self._runner, self._flush_task, *self._tasks]:
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        self._tasks.clear()
        if self.feed is not None:
            await self.feed.close()
        if self.client is not None:
            await self.client.aclose()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._move(C.OFFLINE)
        if self._replica is not None:
            await self._replica.close()
        self._replica = None
        self._outbox = None
        self.client = self.feed = self.monitor = None

    async def wait_live(self) -> None:
        """Wait until the state is LIVE (wrap in `asyncio.timeout`); raises the fatal
        refusal if the service gave up."""
        while self._state is not C.LIVE:
            if self.fatal is not None:
                raise self.fatal
            await asyncio.sleep(0.02)

    async def settle(self) -> None:
        """Wait until live events are applied, refreshed, and a flush in progress is done."""
        if self.feed is not None:
            await self.feed.settle()
        if self._flush_task is not None and not self._flush_task.done():
            with contextlib.suppress(Exception):
                await self._flush_task

    async def refresh_supervisor(self, contract_id: str) -> None:
        """Fetch the supervisor's status and recent heartbeats into the replica (online)."""
        if self.feed is None:
            raise ConnectionFailed("the sync service is offline")
        await self.feed.refresh_supervisor(contract_id)

    # --- the connection ------------------------------------------------------------------

    def _move(self, new: ConnectionState) -> None:
        if new is self._state:
            return
        via = _VIA.get((self._state, new))
        if via is not None:
            self._move(via)
        check_move(self._state, new)
        log.info("sync: %s → %s", self._state.value, new.value)
        self._state = new
        self.state_changed.publish(new)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._connect_once()
            except ApiError as error:
                self._report(error)
                if error.code in FATAL_CODES:
                    self.fatal = error
                    self._move(C.OFFLINE)
                    return
            except Exception:
                log.exception("sync: unexpected failure (retrying)")
            self._move(C.OFFLINE)
            if self._stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._backoff.next_delay())

    async def _connect_once(self) -> None:
        assert self.feed is not None and self.base_url is not None and self.api_key is not None
        self._move(C.CONNECTING)
        await self.feed.client.health()
        self._move(C.CATCHING_UP)
        if await self.feed.ensure_snapshot():
            log.info("sync: first snapshot of %s done", self.base_url)
        applied = await self.feed.catch_up()
        log.info("sync: caught up (%d events)", applied)
        await self._flush_now()
        self._backoff.reset()
        cursor = await self.replica.cursor()
        self.monitor = MonitorClient(
            self.base_url,
            self.api_key,
            monitor_filter=MonitorFilter(include_stale=True, include_heartbeats=self._heartbeats),
            after=cursor.last_seq,
            on_event=self.feed.on_event,
            catch_up=self.feed.fetch_page,
            on_state=self._on_monitor_state,
            connect=self._connect,
            heartbeat_events=self._on_heartbeat if self._heartbeats else None,
            backoff=self._backoff,
        )
        await self.monitor.run()

    def _on_monitor_state(self, state: MonitorState) -> None:
        if self._stopping.is_set():
            return
        if state is MonitorState.DISCONNECTED:
            self._move(C.OFFLINE)
        elif state is MonitorState.CONNECTING:
            if self._state is not C.CATCHING_UP:  # the first connect follows our catch-up
                self._move(C.CONNECTING)
        elif state is MonitorState.CATCHING_UP:
            self._move(C.CATCHING_UP)
        elif state is MonitorState.LIVE:
            self._move(C.LIVE)
            self.kick_flush()
            if self.feed is not None:
                self.feed.request_refresh()

    async def _on_heartbeat(self, message: dict[str, Any]) -> None:
        if self._stopping.is_set():
            return  # the replica is closing: a beat now would outlive it
        try:
            beat = event_from_wire(message)
        except DomainError:
            return
        pending = not self._beats
        self._beats[beat.contract_id] = beat  # only the latest per contract matters
        if pending:
            self._spawn(self._write_heartbeats())

    async def _write_heartbeats(self) -> None:
        await asyncio.sleep(0.2)  # gather a moment's heartbeats into one transaction
        beats, self._beats = list(self._beats.values()), {}
        if self._stopping.is_set() or self._replica is None:
            return  # stopping meanwhile: heartbeats are refetched on the next connect
        try:
            await self.replica.record_heartbeats(beats)
        except Exception:
            log.exception("recording %d heartbeats failed", len(beats))

    # --- the outbox ----------------------------------------------------------------------

    def kick_flush(self) -> None:
        """Send queued entries soon (when LIVE); one flush at a time."""
        if self._state is not C.LIVE or self.client is None:
            return
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.create_task(self._flush_in_background())

    async def _flush_now(self) -> None:
        assert self.client is not None
        result = await self.outbox.flush(self.client)
        if result.stopped is not None:
            log.info("outbox: sending paused: %s", result.stopped)
            self._report(result.stopped)

    async def _flush_in_background(self) -> None:
        try:
            await self._flush_now()
        except Exception:
            log.exception("outbox: flush failed (entries stay queued)")

    async def _flush_timer(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._flush_interval)
            if self._state is C.LIVE and await self.outbox.entries(states=[OutboxState.QUEUED]):
                self.kick_flush()

    def _report(self, error: ApiError) -> None:
        log.warning("sync: %s", error)
        self.errors.publish(error)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
