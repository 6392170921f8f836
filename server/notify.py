"""PostgreSQL LISTEN/NOTIFY: events committed by any server process reach every process's hub.

Only a hint travels: `NOTIFY contract_events, '<seq>'` says "the log has grown up to seq";
each listening process then reads what it has not seen from the log itself
(`EventHub.note_head` → `catch_up`), so the order is the log's and a lost or late
notification costs only latency. That makes two economies safe:

- Coalescing. `announce(seq)` never blocks and never sends per write: it keeps the highest
  seq and a sender task NOTIFYs it at most once per `window` (10 ms). Under a write storm a
  process sends ~100 notifications per second whatever its write rate.
- A safety net. Every `poll_interval` the listener reads the log's head anyway; that also
  notices a dead connection, which is replaced (and the hub caught up) after
  `reconnect_delay`. Announcements made while disconnected are kept and sent on reconnect.

Transient heartbeat events travel the same channel (a payload starting with `h`): they are
not in the log, so the event itself goes. `HeartbeatRelay` coalesces them: per window
(50 ms) only each contract's latest heartbeat is sent, packed into as few NOTIFYs as fit
PostgreSQL's 8000-byte payload limit, so a heartbeat storm costs a bounded number of
notifications, and every process's hub hands them to its own subscribers.

One dedicated asyncpg connection (outside the SQLAlchemy pool, which would recycle it)
listens, notifies and polls; a lock keeps its operations one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import orjson

from core.events import EventType
from server.auth import EVENTS_CHANNEL, REVOKED_NOTE
from server.context import ServerContext

log = logging.getLogger(__name__)

CHANNEL = EVENTS_CHANNEL
_HEAD = "SELECT coalesce(max(seq), 0) FROM events"


class CoalescingAnnouncer:
    """`announce(seq)` is O(1) and non-blocking; `run()` sends the max at most once a window."""

    def __init__(self, send: Callable[[int], Awaitable[None]], window: float = 0.01) -> None:
        self._send = send
        self._window = window
        self._wanted = 0
        self._sent = 0
        self._wake = asyncio.Event()
        self.notifications = 0  # NOTIFYs actually sent
        self.announcements = 0  # announce() calls

    def announce(self, seq: int) -> None:
        self.announcements += 1
        if seq > self._wanted:
            self._wanted = seq
            self._wake.set()

    async def flush(self) -> None:
        """Send the highest announced seq now if it was not sent yet (used at shutdown)."""
        if self._wanted > self._sent:
            seq = self._wanted
            await self._send(seq)
            self._sent = seq
            self.notifications += 1

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            seq = self._wanted
            if seq > self._sent:
                try:
                    await self._send(seq)
                except Exception as exc:  # keep it: the next round sends the (new) max
                    log.warning("NOTIFY of seq %d failed: %s", seq, exc)
                    self._wake.set()
                else:
                    self._sent = seq
                    self.notifications += 1
            await asyncio.sleep(self._window)


HEARTBEAT_MARK = "h"
_MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more


class HeartbeatRelay:
    """`relay(owner, wire)` is O(1); `run()` sends each contract's latest, once a window."""

    def __init__(self, send: Callable[[str], Awaitable[None]], window: float = 0.05) -> None:
        self._send = send
        self._window = window
        self._latest: dict[str, tuple[str, dict[str, Any]]] = {}
        self._wake = asyncio.Event()
        self.relayed = 0  # heartbeats handed over
        self.notifications = 0  # NOTIFYs sent

    def relay(self, owner: str, wire: dict[str, Any]) -> None:
        self._latest[str(wire.get("contract_id"))] = (owner, wire)
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._window)  # gather the window's heartbeats
            self._wake.clear()
            batch, self._latest = list(self._latest.values()), {}
            for payload in pack(batch):
                try:
                    await self._send(payload)
                except Exception as exc:  # transient by nature: the next window has newer
                    log.warning("heartbeat relay failed: %s", exc)
                    break
                self.notifications += 1
            self.relayed += len(batch)


def pack(batch: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """NOTIFY payloads (`h` + a JSON list of [owner, wire]) each under the size limit."""
    payloads: list[str] = []
    items: list[bytes] = []
    size = 0
    for item in batch:
        encoded = orjson.dumps(item)
        if len(encoded) + 3 > _MAX_PAYLOAD:
            continue  # one oversized heartbeat (a huge activity text) is not relayed
        if items and size + len(encoded) + 1 > _MAX_PAYLOAD - 3:
            payloads.append(_payload(items))
            items, size = [], 0
        items.append(encoded)
        size += len(encoded) + 1
    if items:
        payloads.append(_payload(items))
    return payloads


def _payload(items: list[bytes]) -> str:
    return HEARTBEAT_MARK + "[" + b",".join(items).decode() + "]"


class PgEventBridge:
    """LISTEN for other processes' events and announce ours, on PostgreSQL only."""

    def __init__(
        self,
        ctx: ServerContext,
        *,
        channel: str = CHANNEL,
        window: float = 0.01,
        poll_interval: float = 1.0,
        reconnect_delay: float = 0.5,
        connect_timeout: float = 10.0,
    ) -> None:
        self._ctx = ctx
        self._channel = channel
        self._poll_interval = poll_interval
        self._reconnect_delay = reconnect_delay
        self._connect_timeout = connect_timeout
        self.announcer = CoalescingAnnouncer(self._notify, window)
        self.heartbeats = HeartbeatRelay(self._notify_text)
        self._conn: Any = None  # asyncpg.Connection while connected
        self._pid: int | None = None
        self._io = asyncio.Lock()
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[Any]] = set()
        self.connections = 0  # how many times a connection was (re)established
        self.notifications_heard = 0  # from other processes
        self.last_heard = 0  # the highest seq another process announced

    @property
    def active(self) -> bool:
        return bool(self._tasks)

    async def start(self) -> None:
        """On PostgreSQL: listen, set `ctx.announcer`; returns once listening (or timed out)."""
        if self._ctx.store.dialect != "postgresql" or self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_listening()),
            loop.create_task(self.announcer.run()),
            loop.create_task(self.heartbeats.run()),
        ]
        self._ctx.announcer = self.announcer
        self._ctx.relay = self.heartbeats
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._connected.wait()
        except TimeoutError:
            log.warning("event bridge not connected yet; retrying in the background")

    async def stop(self) -> None:
        if not self._tasks:
            return
        if self._ctx.announcer is self.announcer:
            self._ctx.announcer = None
        if self._ctx.relay is self.heartbeats:
            self._ctx.relay = None
        # Send what is still owed, so other processes do not wait for their poll.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.announcer.flush()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._drop_connection()

    def _dsn(self) -> str:
        url = self._ctx.store.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def _keep_listening(self) -> None:
        while True:
            try:
                await self._connect()
                await self._poll()  # catch up on whatever was missed while away
                while True:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_interval):
                            await self._lost.wait()
                    if self._lost.is_set():
                        raise ConnectionError("listen connection closed")
                    await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event bridge connection lost (%s); reconnecting", exc)
            await self._drop_connection()
            await asyncio.sleep(self._reconnect_delay)

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn(), timeout=self._connect_timeout)
        self._lost.clear()
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(self._channel, self._on_notify)
        self._conn, self._pid = conn, conn.get_server_pid()
        self.connections += 1
        self._connected.set()

    async def _drop_connection(self) -> None:
        conn, self._conn, self._pid = self._conn, None, None
        self._connected.clear()
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await conn.close()
            if not conn.is_closed():
                conn.terminate()

    def _on_notify(self, _conn: Any, pid: int, _channel: str, payload: str) -> None:
        if payload == REVOKED_NOTE:  # `keys revoke` (any process): drop the key now
            self._ctx.keys.forget_cached()
            self._spawn(self._ctx.sweep_revocations())
            return
        if pid == self._pid:
            return  # our own announcement: the local hub has it already
        if payload.startswith(HEARTBEAT_MARK):
            self._deliver_heartbeats(payload)
            return
        try:
            seq = int(payload)
        except ValueError:
            log.warning("ignoring notification %r on %s", payload, self._channel)
            return
        self.notifications_heard += 1
        self.last_heard = max(self.last_heard, seq)
        self._ctx.hub.note_head(seq)

    def _deliver_heartbeats(self, payload: str) -> None:
        try:
            batch = orjson.loads(payload[len(HEARTBEAT_MARK) :])
        except orjson.JSONDecodeError:
            log.warning("ignoring a malformed heartbeat note on %s", self._channel)
            return
        hub = self._ctx.hub
        for owner, wire in batch:
            hub.publish_transient_frame(owner, EventType.HEARTBEAT, str(wire["contract_id"]), wire)

    async def _poll(self) -> None:
        async with self._io:
            head = await self._conn.fetchval(_HEAD)
        self._ctx.hub.note_head(int(head))
        await self._ctx.sweep_revocations()  # in case a revocation's note was missed

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def _notify(self, seq: int) -> None:
        await self._notify_text(str(seq))

    async def _notify_text(self, payload: str) -> None:
        await self._connected.wait()  # while reconnecting, the announcer keeps the max
        async with self._io:
            await self._conn.execute("SELECT pg_notify($1, $2)", self._channel, payload)
