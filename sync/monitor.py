"""The monitor WebSocket client: live events in seq order, exactly once, across disconnects.

    monitor = MonitorClient(url, key, monitor_filter=MonitorFilter(), after=last_seen,
                            on_event=apply, catch_up=lambda after: client.events(after=after))
    await monitor.run()          # until monitor.stop()

The protocol (API.md, server/monitor.py): connect to `ws(s)://…/api/v1/contracts/monitor`
with the key in the `Authorization` header, send the filter with `after=<last seq>`, read
`{"type": "subscribed", "last_seq": L}`, then events (replayed ones first, then live ones).

What this client guarantees to `on_event`:
- seq strictly increasing, no event twice: an event with seq <= last_seq is dropped;
- no gaps it could have filled: an event with seq > last_seq + 1 first makes it page through
  `catch_up(last_seq)` (GET /events) and deliver what it missed. Gaps are normal — other
  owners' events and filtered-out events share the seq space — so a catch-up that finds
  nothing is cheap and expected;
- after ANY disconnect it reconnects with `after=last_seq`, waiting a backoff with jitter that
  grows per failed attempt (capped) and resets once a connection got subscribed.
- subscribed behind the head (last_seq < L), it catches up to L through `catch_up` at once
  and goes LIVE: the server's own replay is filtered and need not reach L, so waiting for it
  could leave the state CATCHING_UP until the next event.
Transient heartbeats (seq null) go to `heartbeat_events` and never move `last_seq`.
Catch-up events pass the filter on this side; the `statuses` narrowing then knows only the
statuses it has seen in events (an unknown status lets the event through).

A close with 4401 (bad key), 4400 (bad subscription) or 4404 (the server's monitor is
turned off by its feature flags), or a 401/403 from `catch_up`, ends
`run()` with an ApiError: reconnecting cannot fix those. Other catch-up failures count as a
disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from core.api.errors import ErrorCode
from core.api.events import MonitorSubscription
from core.errors import DomainError
from core.events import EventType, LoggedEvent, MonitorFilter
from core.projection import StatusBook
from core.wire import event_from_wire
from sync.answers import EventPage
from sync.errors import ApiError
from sync.monitor_transport import (
    Backoff,
    ConnectionFactory,
    MonitorConnection,
    monitor_url,
    websocket_connector,
)

__all__ = [
    "Backoff",
    "CatchUp",
    "ConnectionFactory",
    "EventHandler",
    "MonitorClient",
    "MonitorConnection",
    "MonitorState",
    "monitor_url",
    "websocket_connector",
]

log = logging.getLogger(__name__)

FATAL_CLOSE_CODES = {
    4401: (401, ErrorCode.UNAUTHORIZED),
    4400: (400, ErrorCode.VALIDATION_FAILED),
    4404: (404, ErrorCode.FEATURE_DISABLED),  # [feature_flags] monitoring_dashboard = false
}


class MonitorState(StrEnum):
    DISCONNECTED = "disconnected"  # not connected; waiting to (re)connect, or stopped
    CONNECTING = "connecting"  # opening the socket and subscribing
    CATCHING_UP = "catching_up"  # subscribed; receiving what happened since `after`
    LIVE = "live"  # caught up; events arrive as they happen


EventHandler = Callable[[LoggedEvent], Awaitable[None]]
CatchUp = Callable[[int], Awaitable[EventPage]]


class _Fatal(Exception):
    """A refusal reconnecting cannot fix (carries the ApiError to raise from run())."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class MonitorClient:
    """Follows the monitor stream until `stop()`; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        monitor_filter: MonitorFilter,
        after: int | None,
        on_event: EventHandler,
        catch_up: CatchUp | None = None,
        on_state: Callable[[MonitorState], None] | None = None,
        connect: ConnectionFactory | None = None,
        heartbeat_events: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        backoff: Backoff | None = None,
        read_timeout: float = 60.0,
        verify: bool | str = True,
    ) -> None:
        """`after` is the last seq already seen (0: replay everything; None: start live,
        from the seq the server reports on the first subscribe). `read_timeout`: silence
        longer than this (the server pings every 20 s) counts as a dead connection."""
        self.url = monitor_url(base_url)
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._filter = monitor_filter
        self._last_seq = after
        self._on_event = on_event
        self._catch_up = catch_up
        self._on_state = on_state
        self._connect = connect or websocket_connector(verify)
        self._heartbeats = heartbeat_events
        self.backoff = backoff or Backoff()
        self._read_timeout = read_timeout
        self._stopping = asyncio.Event()
        self._connection: MonitorConnection | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._state = MonitorState.DISCONNECTED
        self._statuses = StatusBook()  # known status per contract (for filters)
        self.connections = 0  # subscribed connections so far

    @property
    def last_seq(self) -> int:
        return self._last_seq or 0

    @property
    def stopped(self) -> bool:
        """Whether `stop()` was called."""
        return self._stopping.is_set()

    @property
    def state(self) -> MonitorState:
        return self._state

    def stop(self) -> None:
        """Make `run()` return (closing the connection); safe to call from any task."""
        self._stopping.set()
        if self._connection is not None:
            closing = asyncio.get_running_loop().create_task(_close(self._connection))
            self._closing.add(closing)  # keep a reference until it is done
            closing.add_done_callback(self._closing.discard)

    async def run(self) -> None:
        """Connect, follow, reconnect on any failure, until `stop()`.

        Raises ApiError when the server refuses the key or the filter, and whatever
        `on_event` raises (the event is then not counted as seen).
        """
        try:
            while not self._stopping.is_set():
                subscribed = await self._one_connection()
                if self._stopping.is_set():
                    break
                if subscribed:
                    self.backoff.reset()
                self._set_state(MonitorState.DISCONNECTED)
                await self._wait(self.backoff.next_delay())
        except _Fatal as fatal:
            raise fatal.error from None
        finally:
            self._set_state(MonitorState.DISCONNECTED)

    async def _wait(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    def _set_state(self, state: MonitorState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_state is not None:
                self._on_state(state)

    async def _one_connection(self) -> bool:
        """One connection's life; True when it got as far as `subscribed`."""
        self._set_state(MonitorState.CONNECTING)
        try:
            connection = await self._connect(self.url, self._headers)
        except InvalidStatus as refused:
            log.info("monitor: handshake refused (%s)", refused.response.status_code)
            return False
        except (OSError, TimeoutError, WebSocketException) as error:
            log.info("monitor: cannot connect to %s: %s", self.url, error)
            return False
        self._connection = connection
        if self._stopping.is_set():  # stopped while connecting
            await _close(connection)
            return False
        subscribed = False
        try:
            await connection.send(json.dumps(self._subscription()))
            head = await self._read_subscribed(connection)
            subscribed = True
            self.connections += 1
            await self._follow(connection, head)
        except ConnectionClosed as closed:
            _raise_if_fatal(closed)
            log.info("monitor: connection closed: %s", closed)
        except (OSError, TimeoutError, WebSocketException, ValueError) as error:
            log.info("monitor: connection lost: %s", error)
        except ApiError as error:  # from catch_up: a refused key ends it, the rest is retried
            if error.status in (401, 403):
                raise _Fatal(error) from None
            log.info("monitor: catch-up failed: %s", error)
        finally:
            self._connection = None
            await _close(connection)
        return subscribed

    def _subscription(self) -> dict[str, Any]:
        return MonitorSubscription.of(self._filter, self._last_seq).to_wire()

    async def _read_subscribed(self, connection: MonitorConnection) -> int:
        while True:
            message = await self._receive(connection)
            if message.get("type") == "subscribed":
                head = message.get("last_seq")
                return head if isinstance(head, int) else 0
            if message.get("type") != "ping":
                raise ValueError(f"expected 'subscribed', got {str(message)[:80]}")

    async def _receive(self, connection: MonitorConnection) -> dict[str, Any]:
        raw = await asyncio.wait_for(connection.recv(), self._read_timeout)
        message = json.loads(raw)
        if not isinstance(message, dict):
            raise ValueError("a monitor message must be a JSON object")
        return message

    async def _follow(self, connection: MonitorConnection, head: int) -> None:
        if self._last_seq is None:
            self._last_seq = head  # start live: nothing before the subscription
        self._set_state(MonitorState.CATCHING_UP if self.last_seq < head else MonitorState.LIVE)
        if self.last_seq < head and self._catch_up is not None:
            # Catch up to `head` through the log now: the server's replay is filtered, so it
            # may never reach `head` and would leave us CATCHING_UP until the next event.
            # What the replay then repeats is dropped as already seen.
            await self._fill_gap(head + 1)
        while not self._stopping.is_set():
            message = await self._receive(connection)
            await self._handle(message)
            if self._state is MonitorState.CATCHING_UP and self.last_seq >= head:
                self._set_state(MonitorState.LIVE)

    async def _handle(self, message: dict[str, Any]) -> None:
        if "contract_id" not in message:
            # control messages: "ping" (the server idles, so any replay is over); other
            # types a newer server adds are ignored
            if message.get("type") == "ping" and self._state is MonitorState.CATCHING_UP:
                self._set_state(MonitorState.LIVE)
            return
        seq = message.get("seq")
        if seq is None:
            if self._heartbeats is not None:
                await self._heartbeats(message)
            return
        if message.get("type") not in _EVENT_TYPES:
            log.info("monitor: ignoring unknown event type %r", message.get("type"))
            self._last_seq = max(self.last_seq, int(seq))
            return
        try:
            event = event_from_wire(message)
        except DomainError as error:
            log.warning("monitor: skipping a malformed event: %s", error)
            return
        await self._receive_event(event)

    async def _receive_event(self, event: LoggedEvent) -> None:
        seq = event.seq or 0
        if seq <= self.last_seq:
            return  # already delivered (replay overlap, or a catch-up got it first)
        if seq > self.last_seq + 1 and self._catch_up is not None:
            await self._fill_gap(seq)
            if seq <= self.last_seq:
                return
        await self._deliver(event, filtered=False)

    async def _fill_gap(self, upto: int) -> None:
        """Page through the log from last_seq until `upto - 1` is covered.

        The server publishes seq `upto` only once everything before it is committed, so
        when the log has nothing more for us, every seq below `upto` is accounted for
        (other owners' events, or ones our filter drops).
        """
        assert self._catch_up is not None
        if self._state is MonitorState.LIVE:
            self._set_state(MonitorState.CATCHING_UP)
        while self.last_seq < upto - 1:
            page = await self._catch_up(self.last_seq)
            fresh = [e for e in page.events if e.seq is not None and e.seq > self.last_seq]
            for event in sorted(fresh, key=lambda e: e.seq or 0):
                await self._deliver(event, filtered=True)
            if not fresh:
                self._last_seq = max(self.last_seq, upto - 1)
                break
        self._set_state(MonitorState.LIVE)

    async def _deliver(self, event: LoggedEvent, *, filtered: bool) -> None:
        """Hand one event on (catch-up events pass our filter first) and note its seq."""
        status = self._statuses.track(event)
        if not filtered or self._filter.wants(event.type, event.contract_id, status):
            await self._on_event(event)
        self._last_seq = max(self.last_seq, event.seq or 0)


_EVENT_TYPES = frozenset(t.value for t in EventType)


async def _close(connection: MonitorConnection) -> None:
    with contextlib.suppress(Exception):  # already closed or broken: nothing to do
        await connection.close()


def _raise_if_fatal(closed: ConnectionClosed) -> None:
    frame = closed.rcvd
    if frame is not None and frame.code in FATAL_CLOSE_CODES:
        status, code = FATAL_CLOSE_CODES[frame.code]
        message = (frame.reason or code).removeprefix(f"{code}: ")
        raise _Fatal(ApiError(status, code, message))
