"""The event hub: fans logged events out to monitor subscribers, in seq order.

Writers publish their events after commit, but two transactions may publish in the other
order than they committed, and events written by another server process arrive only as a
"there is more up to seq N" note. So the hub never trusts arrival order: it delivers strictly
seq+1 after seq, parks early arrivals, and when a hole stays open for `gap_wait` seconds it
reads the log itself (the database is the source of truth). Each subscriber has its own
bounded queue; one that falls behind is dropped with a reason and resumes with `after`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import orjson

from core.events import EventType, LoggedEvent, MonitorFilter
from core.projection import StatusBook

log = logging.getLogger(__name__)

FetchAfter = Callable[[int, int], Awaitable[Sequence[LoggedEvent]]]

_FETCH_PAGE = 1000


@dataclass(eq=False)
class Subscriber:
    """One monitor connection's view: its filter, its owner and its bounded queue."""

    owner: str
    filter: MonitorFilter
    queue: asyncio.Queue[bytes]
    key_hash: str = ""  # whose key opened it: a revocation closes its sockets
    dropped_reason: str | None = None
    revoked: bool = False  # dropped because its key was revoked (not for being slow)
    last_seq: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, seq: int | None, frame: bytes) -> None:
        if self.dropped_reason is not None:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped_reason = (
                f"slow consumer: buffer of {self.queue.maxsize} events full; "
                "resume with after=<the last seq you received>"
            )
            self.closed.set()
            return
        if seq is not None:
            self.last_seq = seq


class EventHub:
    def __init__(self, fetch_after: FetchAfter, *, buffer_size: int = 1000, gap_wait: float = 0.05):
        self._fetch_after = fetch_after
        self._buffer_size = buffer_size
        self._gap_wait = gap_wait
        self._subscribers: set[Subscriber] = set()
        self._parked: dict[int, LoggedEvent] = {}
        self._status = StatusBook()
        self._gap_task: asyncio.Task[None] | None = None
        self._catch_up_lock = asyncio.Lock()
        self.last_seq = 0
        self.delivered = 0

    def start_at(self, last_seq: int, statuses: dict[str, str]) -> None:
        """Begin after `last_seq` (the log's head at start), knowing each contract's status."""
        self.last_seq = last_seq
        self._status = StatusBook()
        self._status.learn(statuses)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribers_of(self, key_hash: str) -> int:
        return sum(1 for sub in self._subscribers if sub.key_hash == key_hash)

    def drop_keys(self, key_hashes: frozenset[str]) -> int:
        """Close the subscribers opened with these (revoked) keys; returns how many."""
        dropped = 0
        for sub in list(self._subscribers):
            if sub.key_hash in key_hashes and not sub.closed.is_set():
                sub.revoked = True
                sub.dropped_reason = "UNAUTHORIZED: the API key was revoked"
                sub.closed.set()
                dropped += 1
        return dropped

    def subscribe(
        self, owner: str, monitor_filter: MonitorFilter, key_hash: str = ""
    ) -> Subscriber:
        sub = Subscriber(owner, monitor_filter, asyncio.Queue(self._buffer_size), key_hash)
        sub.last_seq = self.last_seq
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def publish(self, events: Sequence[LoggedEvent]) -> None:
        """Hand over events this process committed; delivered once their turn comes."""
        for event in events:
            if event.seq is not None and event.seq > self.last_seq:
                self._parked[event.seq] = event
        self._drain_parked()

    def note_head(self, seq: int) -> None:
        """Another process committed up to `seq`: read what we have not seen."""
        if seq > self.last_seq:
            self._schedule_gap_fill(immediately=True)

    def publish_transient(self, event: LoggedEvent) -> None:
        """Heartbeats: no seq, never stored; only subscribers that asked for them."""
        owner = event.owner or ""
        self.publish_transient_frame(owner, event.type, event.contract_id, event.to_wire())

    def publish_transient_frame(
        self, owner: str, kind: EventType, contract_id: str, wire: dict[str, object]
    ) -> None:
        """A transient event as its wire form (as another process relays it)."""
        frame: bytes | None = None
        status = self._status.get(contract_id)
        for sub in list(self._subscribers):
            if sub.owner == owner and sub.filter.wants(kind, contract_id, status):
                frame = frame or orjson.dumps(wire)
                sub.offer(None, frame)

    def _drain_parked(self) -> None:
        while self.last_seq + 1 in self._parked:
            self._deliver(self._parked.pop(self.last_seq + 1))
        if self._parked:
            self._schedule_gap_fill(immediately=False)

    def _deliver(self, event: LoggedEvent) -> None:
        assert event.seq is not None
        self._status.track(event)
        self.last_seq = event.seq
        self.delivered += 1
        frame = orjson.dumps(event.to_wire())
        for sub in list(self._subscribers):
            if self._wants(sub, event):
                sub.offer(event.seq, frame)
            elif sub.dropped_reason is None:
                sub.last_seq = event.seq

    def _wants(self, sub: Subscriber, event: LoggedEvent) -> bool:
        if event.owner is not None and event.owner != sub.owner:
            return False
        status = self._status.get(event.contract_id)
        return sub.filter.wants(event.type, event.contract_id, status)

    def _schedule_gap_fill(self, *, immediately: bool) -> None:
        if self._gap_task is None or self._gap_task.done():
            delay = 0.0 if immediately else self._gap_wait
            self._gap_task = asyncio.get_running_loop().create_task(self._fill_gap(delay))

    async def _fill_gap(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            await self.catch_up()
        except Exception:  # the next publish or note retries; a monitor must not die
            log.exception("event hub could not read the log")

    async def catch_up(self) -> None:
        """Read the log after `last_seq` and deliver everything committed since."""
        async with self._catch_up_lock:
            while True:
                events = await self._fetch_after(self.last_seq, _FETCH_PAGE)
                for event in events:
                    if event.seq is not None and event.seq > self.last_seq:
                        self._parked.pop(event.seq, None)
                        self._deliver(event)
                if len(events) < _FETCH_PAGE:
                    break
            self._parked = {s: e for s, e in self._parked.items() if s > self.last_seq}
            self._drain_parked()

    async def close(self) -> None:
        if self._gap_task is not None:
            self._gap_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gap_task
        for sub in list(self._subscribers):
            sub.closed.set()
